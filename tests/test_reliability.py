"""Reliability: redelivery and disorder, personal data in every output, time (DST, week 53, clocks).

Real DuckDB and Great Expectations throughout; figures and choices in docs/reliability.md.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import random
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from pipelines.config import load_settings
from pipelines.contracts import CONTRACTS
from pipelines.ingest.files import landing_files
from pipelines.ingest.load import ingest_paths
from pipelines.ingest.privacy import DEMO_KEY, KEY_ENV
from pipelines.model.build import build_models
from pipelines.report.scorecard import render_weeks
from pipelines.warehouse import connect, gx_sample_table
from tests.conftest import copy_landing
from tests.test_ingest_corpus import CALL_COLS, call_row, csv_text, survey_row

# ---- content hashes ------------------------------------------------------------------------------

# Columns that say when or by which load or build a row was written, not what it holds.
VOLATILE_COLUMNS = {"build_id", "computed_at", "load_id"}
# Tables that are a history of the loads and builds, not state: a shuffled, incremental load
# restates weeks an in-order load never published, and says so. Compared apart (see below).
HISTORY_TABLES = {
    "metric_restatements",
    "week_status",
    "model_builds",
    "parameter_sets",
    "load_audit",
    "pseudonym_keys",
}
CANONICAL_TABLES = ("calls", "cases", "case_events", "survey_responses", "internal_pulse")
# Great Expectations' checks of the loads and the samples waiting for one (gx_check): a history,
# and what a check has yet to read; whether a build may count the loads is tested apart.
HISTORY_TABLES |= {"gx_checks", *(gx_sample_table(t) for t in CONTRACTS)}


# The second delivery of each file is a byte-identical copy named <stem>.resent<suffix>; whichever of
# the two arrives first is loaded and named in the lineage (source_file, load_audit.file_name): the
# hash reads a copy's name as the original's.
RESENT = ".resent"


def _hashable(value) -> str:
    if isinstance(value, float):  # sums of doubles may differ in their last bits with the order of addition
        return repr(round(value, 9))
    if isinstance(value, str):
        return repr(value.replace(RESENT + ".", "."))
    if isinstance(value, list):
        return "[" + ", ".join(_hashable(v) for v in value) + "]"
    return repr(value)


def relation_hash(con, query: str, exclude=()) -> tuple[int, str]:
    """(row count, SHA-256) of a query's rows, order-independent, volatile columns left out."""
    columns = [d[0] for d in con.execute(f"SELECT * FROM ({query}) LIMIT 0").description]
    kept = [c for c in columns if c not in VOLATILE_COLUMNS and c not in exclude]
    select = ", ".join('"' + c.replace('"', '""') + '"' for c in kept)
    rows = sorted(
        "\x1f".join(_hashable(v) for v in row) for row in con.execute(f"SELECT {select} FROM ({query})").fetchall()
    )
    digest = hashlib.sha256(("\x1e".join(kept) + "\x1d" + "\x1e".join(rows)).encode()).hexdigest()
    return len(rows), digest


def workbook_hashes(con, path: Path) -> dict[str, tuple[int, str]]:
    """The exports' workbook, a sheet per table, hashed as its tables are (a zip's bytes carry times)."""
    import pandas as pd
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    out = {}
    try:
        for sheet in book:
            if sheet.title in HISTORY_TABLES - {"week_status"}:
                continue
            header, *rows = ([c.value for c in row] for row in sheet.iter_rows())
            con.register("sheet", pd.DataFrame(rows, columns=header, dtype=object))
            exclude = ("restated", "restated_at", "changes") if sheet.title == "week_status" else ()
            out[f"{path.name}:{sheet.title}"] = relation_hash(con, "SELECT * FROM sheet", exclude)
            con.unregister("sheet")
    finally:
        book.close()
    return out


def warehouse_hashes(path: Path) -> dict[str, tuple[int, str]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND schema_name = 'main' ORDER BY 1"
            ).fetchall()
        ]
        hashes = {t: relation_hash(con, f'SELECT * FROM "{t}"') for t in tables if t not in HISTORY_TABLES}
        # the audit: which files were loaded and what each held, whatever the load order
        hashes["load_audit"] = relation_hash(
            con,
            "SELECT file_name, file_sha256, status, rows_read, rows_loaded, "
            "rows_quarantined, rows_duplicate, rows_rejected, weeks "
            "FROM load_audit",
        )
        hashes["week_status.week"] = relation_hash(con, "SELECT week FROM week_status")
    finally:
        con.close()
    return hashes


def export_hashes(folder: Path) -> dict[str, tuple[int, str]]:
    con = duckdb.connect()
    try:
        out = {}
        for path in sorted(folder.iterdir()):
            table = path.name.split(".")[0]
            if path.suffix == ".xlsx":
                out.update(workbook_hashes(con, path))
                continue
            if table in HISTORY_TABLES - {"week_status"}:
                continue
            reader = "read_parquet" if path.suffix == ".parquet" else "read_csv_auto"
            relation = f"SELECT * FROM {reader}('{path}')"
            exclude = ("restated", "restated_at", "changes") if table == "week_status" else ()
            out[path.name] = relation_hash(con, relation, exclude)
        return out
    finally:
        con.close()


def scorecard_figures(folder: Path) -> dict[str, dict]:
    figures = {}
    for path in sorted(folder.glob("*/scorecard.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        data["quality"].pop("restated")  # the history of builds, as week_status
        figures[path.parent.name] = data
    return figures


# ---- 1. redelivery and disorder ------------------------------------------------------------------


def test_shuffled_double_delivery_gives_the_warehouse_exports_and_scorecards_of_an_in_order_load(
    pipeline_run, generated, tmp_path
):
    reference, _ = pipeline_run  # the generated history, delivered once, in order (run_all)
    settings = load_settings(base_dir=tmp_path)
    copy_landing(generated, settings.landing)
    deliveries = [(source, path) for source in settings.sources for path in landing_files(settings, source)]
    assert len(deliveries) >= 12
    # each file twice: once as exported, once as a byte-identical copy under another name
    for source, path in list(deliveries):
        copy = path.with_name(f"{path.stem}{RESENT}{path.suffix}")
        shutil.copyfile(path, copy)
        deliveries.append((source, copy))
    random.Random(53).shuffle(deliveries)
    statuses = []
    for n, (source, path) in enumerate(deliveries, start=1):
        (result,) = ingest_paths(settings, source, [path])
        statuses.append(result.status)
        if n % 4 == 0:  # the metrics are rebuilt as files come, incrementally, late weeks restated
            build_models(settings)
    assert statuses.count("loaded") == statuses.count("skipped") == len(deliveries) // 2
    assert not build_models(settings)["full"]
    render_weeks(settings, languages=["en"], pdf=False)

    mine, theirs = warehouse_hashes(settings.warehouse), warehouse_hashes(reference.warehouse)
    assert set(mine) == set(theirs)
    assert {t for t in mine if t.startswith("weekly_")} >= {
        "weekly_metrics",
        "weekly_stage_friction",
        "weekly_scorecard",
        "weekly_handoff_pairs",
    }
    for table in CANONICAL_TABLES + ("weekly_metrics", "weekly_scorecard"):
        assert mine[table][0] > 0, table
    assert {t: h for t, h in mine.items() if h != theirs[t]} == {}
    assert export_hashes(settings.out / "exports") == export_hashes(reference.out / "exports")
    assert scorecard_figures(settings.scorecards_dir) == scorecard_figures(reference.scorecards_dir)
    # the disorder did show: earlier builds published figures that later files changed
    con = connect(settings.warehouse, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM model_builds").fetchone()[0] == len(deliveries) // 4 + 1
        assert con.execute("SELECT count(*) FROM metric_restatements").fetchone()[0] > 0
    finally:
        con.close()


def test_the_content_hash_sees_a_changed_figure(pipeline_run, tmp_path):
    reference, _ = pipeline_run
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(reference.warehouse, copy)
    con = duckdb.connect(str(copy))
    con.execute(
        "UPDATE weekly_metrics SET value = value + 1e-6 WHERE rowid = (SELECT min(rowid) FROM weekly_metrics "
        "WHERE value IS NOT NULL)"
    )
    con.execute("UPDATE weekly_stage_friction SET build_id = build_id + 1000, computed_at = now()")
    con.close()
    mine, theirs = warehouse_hashes(copy), warehouse_hashes(reference.warehouse)
    assert {t for t in mine if mine[t] != theirs[t]} == {"weekly_metrics"}


# ---- 3. personal data ------------------------------------------------------------------------------

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
PHONE = re.compile(r"(?:\+|\b00)[1-9][0-9 .-]{8,16}[0-9]|\b0[1-9](?:[ .-]?[0-9]{2}){4}\b")
TEXT_SUFFIXES = {".csv", ".json", ".html", ".txt", ".log", ".md", ".svg", ".jsonl"}


def _digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


def personal_needles(landing: Path) -> dict[str, set[str]]:
    """Customer and staff ids (customer_ref, respondent_ref columns), e-mail addresses and phone numbers
    of the landing files."""
    ids, emails, phones = set(), set(), set()
    for path in landing.glob("*/*.csv"):
        if path.parent.name == "ground_truth":
            continue
        text = path.read_text(encoding="utf-8")
        for row in csv.DictReader(io.StringIO(text)):
            if row.get("customer_ref"):
                ids.add(row["customer_ref"])
            if row.get("respondent_ref"):
                ids.add(row["respondent_ref"])
        emails |= set(EMAIL.findall(text))
        phones |= {_digits(p)[-9:] for p in PHONE.findall(text)}  # the subscriber digits, whatever the prefix
    return {"customer ids": ids, "e-mail addresses": emails, "phone numbers": phones}


def _raw_export(path: Path, home: Path) -> bool:
    """A landing file, or a rejected one set aside as it came (raw: owner-only, purged after its
    retention); the report beside it is an output like any other."""
    parts = path.relative_to(home).parts
    return "landing" in parts or ("rejected" in parts and not path.name.endswith(".report.txt"))


def output_texts(home: Path, warehouse: Path) -> dict[str, str]:
    """Every text column of every warehouse table, and every text or Parquet output file, as text
    (reports of rejected files and ingest's temporary folder included)."""
    texts = {}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
            "'main' AND (data_type LIKE 'VARCHAR%' OR data_type = 'JSON')"
        ).fetchall()
        assert len(columns) > 50
        for table, column in columns:
            values = con.execute(f'SELECT DISTINCT "{column}"::VARCHAR FROM "{table}"').fetchall()
            texts[f"warehouse {table}.{column}"] = "\n".join(v[0] for v in values if v[0] is not None)
    finally:
        con.close()
    pq = duckdb.connect()
    for path in sorted(p for p in home.rglob("*") if p.is_file() and not _raw_export(p, home)):
        if path.suffix == ".parquet":
            texts[str(path)] = "\n".join(
                "\x1f".join(str(v) for v in row)
                for row in pq.execute(f"SELECT * FROM read_parquet('{path}')").fetchall()
            )
        elif path.suffix == ".xlsx":  # the exports' workbook: every cell of every sheet
            from openpyxl import load_workbook

            book = load_workbook(path, read_only=True)
            texts[str(path)] = "\n".join(
                "\x1f".join(str(c.value) for c in row) for sheet in book for row in sheet.iter_rows()
            )
            book.close()
        elif path.suffix in TEXT_SUFFIXES:
            texts[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    pq.close()
    return texts


def leaks(texts: dict[str, str], needles: dict[str, set[str]]) -> list[str]:
    """Customer ids found as words, e-mail addresses as addresses, phone numbers by their last nine digits
    (whatever the prefix and the separators)."""
    found = []
    for where, text in texts.items():
        found += [f"customer id {n!r} in {where}" for n in needles["customer ids"] & set(re.findall(r"[\w@+-]+", text))]
        found += [f"e-mail {n!r} in {where}" for n in needles["e-mail addresses"] & set(EMAIL.findall(text))]
        phones = {_digits(p)[-9:] for p in PHONE.findall(text)}
        found += [f"phone number ending {n[-4:]} in {where}" for n in needles["phone numbers"] & phones]
    return found


def test_no_customer_id_from_the_landing_files_in_the_warehouse_exports_or_scorecards(pipeline_run, generated):
    settings, _ = pipeline_run
    needles = personal_needles(generated)
    assert len(needles["customer ids"]) > 100
    texts = output_texts(settings.landing.parent, settings.warehouse)
    kinds = {Path(k).suffix for k in texts}
    assert {".html", ".json", ".csv", ".parquet", ".xlsx"} <= kinds, kinds
    assert leaks(texts, needles) == []


def _with_personal_data(generated: Path, landing: Path) -> None:
    """One week of the generated exports, customers known by e-mail or phone, who write them in verbatims."""
    forms = ["{}.client{}@exemple.fr", "+33 6 12 {:02d} {:02d} {:02d}", "06.23.{:02d}.{:02d}.{:02d}", "C-{}-{}"]
    spoken = forms[:3]  # what customers write in a verbatim: e-mail, phone (a customer id in free text is not
    #                     recognised: docs/reliability.md)
    mapping: dict[str, str] = {}

    def personal(ref: str, choices=forms) -> str:
        if ref not in mapping:
            n = len(mapping)
            form = choices[n % len(choices)]
            mapping[ref] = (
                form.format("marie", n)
                if "@" in form
                else form.format(n // 10000 % 100, n // 100 % 100, n % 100)
                if "{:02d}" in form
                else form.format(n, ref)
            )
        return mapping[ref]

    for path in sorted(generated.glob("*/*W40.csv")):
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        for i, row in enumerate(rows):
            if row.get("customer_ref"):
                row["customer_ref"] = personal(row["customer_ref"])
                if "verbatim" in row and i % 2 == 0:
                    own = row["customer_ref"] if not row["customer_ref"].startswith("C-") else ""
                    row["verbatim"] = f"{row['verbatim']} Rappelez-moi: {own}, ou {personal('x' + str(i), spoken)}."
            if "respondent_ref" in row:  # the internal pulse: staff known by their e-mail address
                row["respondent_ref"] = f"{row['rater_team']}.agent{i % 9}@exemple.fr"
        target = landing / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(csv_text(rows, columns=list(rows[0])), encoding="utf-8")


def test_no_e_mail_phone_or_key_in_any_output_or_log_of_a_run_over_personal_data(
    generated, tmp_path, caplog, capfd, monkeypatch
):
    key = "a-secret-key-for-this-test-only-7f3a"
    monkeypatch.setenv(KEY_ENV, key)
    settings = load_settings(base_dir=tmp_path)
    _with_personal_data(generated, settings.landing)
    # a file rejected for its values (customer e-mails and phones where scores belong), whose report
    # quotes them, and a compressed one, read through a decompressed copy in the temporary folder
    surveys = next((settings.landing / "surveys").glob("*W40.csv"))
    rows = list(csv.DictReader(io.StringIO(surveys.read_text(encoding="utf-8"))))
    for row in rows:
        row["nps"] = row["customer_ref"]
    (surveys.parent / f"shifted_{surveys.name}").write_text(csv_text(rows, columns=list(rows[0])), encoding="utf-8")
    needles = personal_needles(settings.landing)
    calls = next((settings.landing / "calls").glob("*W40.csv"))
    calls.with_name(f"{calls.name}.gz").write_bytes(gzip.compress(calls.read_bytes()))
    calls.unlink()
    assert all(len(v) > 20 for v in needles.values()), {k: len(v) for k, v in needles.items()}
    caplog.set_level(logging.DEBUG)
    for source in settings.sources:
        ingest_paths(settings, source, landing_files(settings, source))
    build_models(settings)
    render_weeks(settings, languages=["en", "fr"], pdf=False)
    captured = capfd.readouterr()
    log = caplog.text + captured.out + captured.err
    (tmp_path / "run.log").write_text(log, encoding="utf-8")
    con = connect(settings.warehouse, read_only=True)
    try:
        assert (
            con.execute(
                "SELECT count(*) FROM survey_responses WHERE verbatim LIKE '%[email]%' OR verbatim LIKE '%[phone]%'"
            ).fetchone()[0]
            > 0
        )
        assert con.execute("SELECT count(DISTINCT customer_ref) FROM calls").fetchone()[0] > 20
    finally:
        con.close()
    texts = output_texts(tmp_path, settings.warehouse)
    assert str(tmp_path / "run.log") in texts and any("scorecard" in k for k in texts)
    assert str(settings.rejected / "surveys" / f"shifted_{surveys.name}.report.txt") in texts
    assert settings.temp_dir.is_dir() and not [p for p in settings.temp_dir.rglob("*") if p.is_file()]
    assert leaks(texts, needles) == []
    # the key: in no file below the run's home (the warehouse's own bytes included) and in no log
    for path in (p for p in tmp_path.rglob("*") if p.is_file() and "landing" not in p.parts):
        assert key.encode() not in path.read_bytes(), path
    assert key not in log


# Issue 22, point 2: forms the regular expressions alone left raw.
SCRUBBER_EXAMPLES = (
    "(+33) 6 11 22 33 44",
    "06\u00a098\u00a076\u00a054\u00a032",  # no-break spaces
    "07\u202f98\u202f76\u202f54\u202f31",  # narrow no-break spaces
    "06/55/44/33/22",
    "06  91  76  54  33",
    "4970.1012.3456.7891",
    "1 85 05 78 006 084 36",
    "415-252-3870",
    "(415) 252-3871",
    "1-800-555-0199",
    "123-45-6789",
    "jérôme.müller@exemple.fr",
    "fr76-3000-6000-0112-3456-7890-189",
)


def _raw_forms(texts: dict[str, str]) -> list[str]:
    """Each example found as written, by its digits with any separators between them, or (the
    e-mail address) by the start of its local part."""
    found = []
    for example in SCRUBBER_EXAMPLES:
        digits = _digits(example)
        spread = re.compile(r"[^0-9A-Za-z]{0,3}".join(digits)) if len(digits) >= 7 else None
        for where, text in texts.items():
            if example in text or (spread and spread.search(text)) or ("@" in example and "jérôme" in text):
                found.append(f"{example!r} in {where}")
    return found


def test_the_scrubber_knows_real_formats_in_every_free_text_column(generated, tmp_path, monkeypatch):
    """Every example of point 2 in verbatims and in cases.category, in rows that load and in rows
    that are quarantined: none is left in any warehouse table (quarantine and load_audit included)
    nor in the pages and exports, and each became its label."""
    monkeypatch.setenv(KEY_ENV, "a-secret-key-for-this-test-only-7f3a")
    settings = load_settings(base_dir=tmp_path)
    examples = SCRUBBER_EXAMPLES
    for path in sorted(generated.glob("*/*W40.csv")):
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        for i, example in enumerate(examples):
            if "verbatim" in rows[0]:
                rows[i]["verbatim"] = f"{rows[i]['verbatim']} Joignable: {example}."
            elif "category" in rows[0]:
                rows[i]["category"] = f"{rows[i]['category']} {example}"
        if "verbatim" in rows[0]:  # a row quarantined (its NPS is text), its verbatim holding every example
            rows[-1] |= {"nps": "neuf", "verbatim": "Mes numéros: " + ", ".join(examples)}
        target = settings.landing / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(csv_text(rows, columns=list(rows[0])), encoding="utf-8")
    for source in settings.sources:
        ingest_paths(settings, source, landing_files(settings, source))
    build_models(settings)
    render_weeks(settings, languages=["en"], pdf=False)
    con = connect(settings.warehouse, read_only=True)
    try:
        labels = con.execute(
            "SELECT list(DISTINCT m ORDER BY m) FROM (SELECT unnest(regexp_extract_all(verbatim, '\\[[a-z_]+\\]')) m "
            "FROM survey_responses UNION ALL SELECT unnest(regexp_extract_all(category, '\\[[a-z_]+\\]')) FROM cases "
            "UNION ALL SELECT unnest(regexp_extract_all(raw_record, '\\[[a-z_]+\\]')) FROM quarantine)"
        ).fetchone()[0]
        quarantined = con.execute("SELECT count(*) FROM quarantine WHERE table_name = 'survey_responses'").fetchone()[0]
    finally:
        con.close()
    assert labels == ["[card]", "[email]", "[iban]", "[national_id]", "[phone]"]
    assert quarantined == 1
    texts = output_texts(tmp_path, settings.warehouse)
    assert any("scorecard" in k for k in texts) and "warehouse quarantine.raw_record" in texts
    assert _raw_forms(texts) == []


def test_quarantine_keeps_only_the_columns_the_profile_maps(tmp_path, monkeypatch):
    """Issue 22, point 3: a CFPB export whose narrative (a column cfpb_cases does not map) holds a
    phone number and a name; a row with a bad date, a line that does not parse and one with a
    field too many are quarantined without any trace of the narrative, their mapped columns kept."""
    from pipelines.ingest.profiles import load_profile

    monkeypatch.setenv(KEY_ENV, "a-secret-key-for-this-test-only-7f3a")
    settings = load_settings(base_dir=tmp_path)
    columns = [
        "Date received", "Product", "Sub-product", "Issue", "Sub-issue", "Consumer complaint narrative",
        "Company public response", "Company", "State", "ZIP code", "Tags", "Consumer consent provided?",
        "Submitted via", "Date sent to company", "Company response to consumer", "Timely response?",
        "Consumer disputed?", "Complaint ID",
    ]  # fmt: skip
    story = "Zqnarrative: call Jane Roe at 415-252-3870"
    rows = [
        {c: "" for c in columns}
        | {"Date received": "10/05/2026", "Product": "Mortgage", "Consumer complaint narrative": story,
           "Submitted via": "Web", "Complaint ID": str(1000 + i)}
        for i in range(60)
    ]  # fmt: skip
    rows[5]["Date received"] = "the fifth"
    lines = csv_text(rows[:2], columns=columns).split("\n")[1:3]
    # a carriage return in an unquoted field: the line does not parse, its fields still tell their columns
    broken = lines[0].replace("Mortgage", "Mort\rgage").replace(",1000", ",2000")
    # a field too many: which column each field is cannot be told, but the narrative's neighbours are
    # unmapped too
    surplus = lines[1].replace(",1001", ",2001") + ",surplus"
    text = csv_text(rows, columns=columns) + broken + "\n" + surplus + "\n"
    path = settings.landing / "complaints" / "cfpb.csv"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    (result,) = ingest_paths(settings, "complaints", [path], profile=load_profile("cfpb_cases"))
    assert (result.rows_loaded, result.rows_quarantined) == (59, 3), result.problems
    con = connect(settings.warehouse, read_only=True)
    try:
        records = [
            json.loads(r) for (r,) in con.execute("SELECT raw_record FROM quarantine ORDER BY source_line").fetchall()
        ]
    finally:
        con.close()
    assert len(records) == 3 and "field 1" in records[2]
    assert records[0]["case_id"] == "1005" and records[0]["category"] == "Mortgage"
    assert records[1]["Complaint ID"] == "2000" and records[1]["Submitted via"] == "Web"
    for record in records:
        assert not {k for k in record if "narrative" in k.lower()}, record
        assert "Zqnarrative" not in json.dumps(record) and "3870" not in json.dumps(record), record


def _load_in_order(tmp_path: Path, names: list[str], files: dict[str, str]) -> str:
    settings = load_settings(base_dir=tmp_path)
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_text(files[name], encoding="utf-8")
        (result,) = ingest_paths(settings, "surveys", [folder / name])
        assert result.status == "loaded", result.problems
    con = connect(settings.warehouse, read_only=True)
    try:
        ((record,),) = con.execute("SELECT raw_record FROM quarantine").fetchall()
    finally:
        con.close()
    return record


def test_an_unparsed_line_is_pseudonymised_the_same_whatever_the_load_order(tmp_path, monkeypatch):
    """Issue 22, point 3: a line with a field too many holds a customer's id far from its column;
    the customer arrives in another file. Loaded before or after that file, its quarantined
    record is the same, the id pseudonymised."""
    monkeypatch.setenv(KEY_ENV, "a-secret-key-for-this-test-only-7f3a")
    who = "Zq-777"
    line = csv_text([survey_row(rid="R99", customer="Zq-0", verbatim=who)]).split("\n")[1] + ",surplus\n"
    files = {
        "a_with_line.csv": csv_text([survey_row(rid=f"R{i}", customer=f"C{i}") for i in range(30)]) + line,
        "b_customer.csv": csv_text([survey_row(rid="R500", customer=who)]),
    }
    first = _load_in_order(tmp_path / "one", ["a_with_line.csv", "b_customer.csv"], files)
    second = _load_in_order(tmp_path / "two", ["b_customer.csv", "a_with_line.csv"], files)
    assert first == second
    from pipelines.ingest.privacy import PseudonymKey, pseudonym

    key = PseudonymKey(b"a-secret-key-for-this-test-only-7f3a", False)
    assert who not in first and "Zq-0" not in first
    assert pseudonym(who, key) in first and json.loads(first)["field 6"] == "9", first  # plain values (NPS) kept


def test_no_personal_data_in_what_a_demo_like_run_prints(generated, tmp_path, capfd, caplog, monkeypatch):
    """What `make demo` shows a user: `esprit run`'s summary, the pages `esprit scorecard` lists and the
    latest week's headline figures (what `esprit demo` prints after its DAG runs), logs at DEBUG."""
    from pipelines.cli import main
    from pipelines.report.scorecard import headline_summary

    monkeypatch.setenv("ESPRIT_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    settings = load_settings(base_dir=tmp_path)
    _with_personal_data(generated, settings.landing)
    needles = personal_needles(settings.landing)
    caplog.set_level(logging.DEBUG)
    assert main(["run"]) == 0
    assert main(["scorecard", "--week", "all", "--no-pdf"]) == 0
    week = sorted(p.name for p in settings.scorecards_dir.iterdir() if p.is_dir())[-1]
    print("\n".join(headline_summary(settings, week)))
    captured = capfd.readouterr()
    printed = {"stdout": captured.out, "stderr": captured.err, "log": caplog.text}
    assert (
        "files: 5 loaded" in captured.out  # the run's summary, as a person reads it (the pulse's file too)
        and "scorecard.en.html" in captured.out
        and "Net Promoter Score" in captured.out
    )
    assert leaks(printed, needles) == []
    assert leaks(output_texts(tmp_path, settings.warehouse), needles) == []


def test_no_personal_data_in_the_text_of_the_printed_pdfs(generated, tmp_path):
    from pipelines.report.pdf import find_chromium

    if find_chromium() is None or shutil.which("pdftotext") is None:
        pytest.skip(
            "needs Chromium (to print the PDFs) and pdftotext (poppler-utils, to read them back); "
            "the pages they print from are scanned above"
        )
    settings = load_settings(base_dir=tmp_path)
    _with_personal_data(generated, settings.landing)
    needles = personal_needles(settings.landing)
    for source in settings.sources:
        ingest_paths(settings, source, landing_files(settings, source))
    build_models(settings)
    pdfs = [p for p in render_weeks(settings, pdf=True) if p.suffix == ".pdf"]
    assert pdfs
    texts = {
        str(p): subprocess.run(["pdftotext", "-layout", str(p), "-"], capture_output=True, text=True, check=True).stdout
        for p in pdfs
    }
    assert all("NPS" in t or "Net Promoter" in t for t in texts.values())  # the text was read back
    assert leaks(texts, needles) == []


def test_the_test_key_is_in_no_file_of_the_shared_run_nor_in_airflows_logs(pipeline_run):
    import os

    settings, _ = pipeline_run
    key = os.environ[KEY_ENV].encode()
    files = [p for p in settings.landing.parent.rglob("*") if p.is_file() and "landing" not in p.parts]
    assert len(files) > 20
    # task logs of the DAG tests run earlier in the session (none when this test runs alone)
    files += [p for p in (Path(os.environ["AIRFLOW_HOME"]) / "logs").rglob("*") if p.is_file()]
    for path in files:
        assert key not in path.read_bytes(), path


def test_the_demo_key_outside_demo_mode_stops_the_run_with_a_clear_message(generated, tmp_path, monkeypatch, capsys):
    from pipelines.cli import main

    monkeypatch.setenv(KEY_ENV, DEMO_KEY)
    monkeypatch.delenv("ESPRIT_DEMO", raising=False)
    landing = copy_landing(generated, tmp_path / "landing")
    warehouse = tmp_path / "warehouse" / "esprit.duckdb"
    code = main(["run", "--landing", str(landing), "--warehouse", str(warehouse), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "public demo key" in err and "outside demo mode" in err and "Traceback" not in err
    assert DEMO_KEY not in err  # the message names the variable, never the key
    assert not warehouse.exists() and not (tmp_path / "out").exists()


# ---- line numbers in badly broken CSV files ----------------------------------------------------------


def _csv_kind(name: str):
    from tests.test_fuzz import KINDS

    return next(k for k in KINDS if k.name == name)


@pytest.mark.parametrize("kind_name", ["survey csv", "calls csv", "survey csv ; auto"])
def test_each_line_of_a_badly_broken_csv_has_one_fate_at_its_own_line_number(kind_name, tmp_path):
    """Files mixing quoted fields over several lines with lines that do not parse (the fuzzing's
    structural mutations): no line number twice in quarantine, none both loaded and quarantined, and
    every loaded row on the physical line that holds its key."""
    from tests.test_fuzz import LINES_PER_FILE, SEED, line_file, run_batch

    kind = _csv_kind(kind_name)
    rng = random.Random(SEED)
    files = [
        (f"f{n:05d}.csv", line_file(kind, LINES_PER_FILE, n, True, rng)[0].encode("utf-8", "surrogatepass"))
        for n in (1, 3, 5, 7)
    ]
    settings, results = run_batch(tmp_path, kind, files, 1.0)
    assert {r.status for r in results} == {"loaded"}
    con = connect(settings.warehouse, read_only=True)
    try:
        twice = con.execute(
            "SELECT source_file, source_line FROM quarantine GROUP BY ALL HAVING count(*) > 1"
        ).fetchall()
        both = con.execute(
            f"SELECT source_file, source_line FROM quarantine JOIN {kind.table} USING (source_file, source_line)"
        ).fetchall()
        loaded = con.execute(f"SELECT source_file, source_line, {kind.key} FROM {kind.table}").fetchall()
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    finally:
        con.close()
    lines = {name: data.decode("utf-8", "replace").split("\n") for name, data in files}
    misplaced = [(f, n) for f, n, key in loaded if key not in lines[f][n - 1]]
    assert len(loaded) > 1000 and quarantined > 500
    assert (twice, both, misplaced) == ([], [], [])


# ---- 4. time ---------------------------------------------------------------------------------------


def _load_calls(settings, rows: list[dict]) -> None:
    folder = settings.landing / "calls"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "calls_time.csv").write_text(csv_text(rows, columns=CALL_COLS), encoding="utf-8")
    (result,) = ingest_paths(settings, "calls", [folder / "calls_time.csv"])
    assert result.status == "loaded", result.problems


def _at(offered: str, **extra) -> dict:
    """An abandoned call offered at `offered` (ended a minute later, same notation)."""
    return call_row(
        call_id=f"T-{offered}", offered=offered, answered="", ended=offered, outcome="abandoned", agent_id="", **extra
    )


def test_clock_changes_week_53_and_timestamps_without_a_timezone(tmp_path):
    # the year-end weeks under test may lie ahead of today: the plausible window reaches them
    (tmp_path / "esprit.yaml").write_text("ingest: {plausible_future_days: 3650}\n")
    settings = load_settings(tmp_path / "esprit.yaml", base_dir=tmp_path)
    rows = [
        # no offset: read in the profile's timezone (Europe/Paris)
        _at("2026-10-25 01:30:00"),  # before the autumn change: summer time, 23:30 UTC the day before
        _at("2026-10-25 02:30:00"),  # happens twice: DuckDB takes the second (winter time, +01)
        _at("2026-03-29 02:30:00"),  # never happens: DuckDB moves it an hour on (03:30 +02)
        _at("2026-10-25T23:30:00+01:00"),  # Sunday night of the change: still 2026-W43
        _at("2026-10-26T00:30:00+01:00"),  # Monday 00:30 Paris, Sunday 23:30 UTC: 2026-W44
        _at("2026-12-27T23:59:59+01:00"),  # Sunday: 2026-W52
        _at("2026-12-28T00:00:00+01:00"),  # Monday: the first instant of 2026-W53
        _at("2027-01-03T23:30:00+01:00"),  # Sunday 3 January 2027: still 2026-W53
        _at("2027-01-03T23:30:00Z"),  # 00:30 Monday in Paris: 2027-W01
        _at("2026-06-15T12:00:00Z"),  # an explicit offset wins over the profile's timezone
    ]
    _load_calls(settings, rows)
    build_models(settings)
    con = connect(settings.warehouse, read_only=True)
    try:
        got = dict(
            con.execute(
                "SELECT call_id, strftime(offered_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') || ' ' || "
                "week FROM stg_calls"
            ).fetchall()
        )
        weeks = [r[0] for r in con.execute("SELECT DISTINCT week FROM weekly_metrics ORDER BY 1").fetchall()]
    finally:
        con.close()
    assert got == {
        "T-2026-10-25 01:30:00": "2026-10-24 23:30 2026-W43",
        "T-2026-10-25 02:30:00": "2026-10-25 01:30 2026-W43",
        "T-2026-03-29 02:30:00": "2026-03-29 01:30 2026-W13",
        "T-2026-10-25T23:30:00+01:00": "2026-10-25 22:30 2026-W43",
        "T-2026-10-26T00:30:00+01:00": "2026-10-25 23:30 2026-W44",
        "T-2026-12-27T23:59:59+01:00": "2026-12-27 22:59 2026-W52",
        "T-2026-12-28T00:00:00+01:00": "2026-12-27 23:00 2026-W53",
        "T-2027-01-03T23:30:00+01:00": "2027-01-03 22:30 2026-W53",
        "T-2027-01-03T23:30:00Z": "2027-01-03 23:30 2027-W01",
        "T-2026-06-15T12:00:00Z": "2026-06-15 12:00 2026-W25",
    }
    assert weeks == ["2026-W13", "2026-W25", "2026-W43", "2026-W44", "2026-W52", "2026-W53", "2027-W01"]


def test_a_profile_in_another_timezone_reads_times_without_offset_there(settings, tmp_path):
    import yaml

    from pipelines.ingest.profiles import PROFILES_DIR, load_profile

    spec = yaml.safe_load((PROFILES_DIR / "generator_calls.yaml").read_text(encoding="utf-8"))
    spec.update(name="calls_new_york", timezone="America/New_York")
    path = tmp_path / "calls_new_york.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    folder = settings.landing / "ny"
    folder.mkdir(parents=True)
    (folder / "calls.csv").write_text(csv_text([_at("2026-11-01 01:30:00")], columns=CALL_COLS), encoding="utf-8")
    (result,) = ingest_paths(settings, "ny", [folder / "calls.csv"], load_profile(path))
    assert result.status == "loaded", result.problems
    con = connect(settings.warehouse, read_only=True)
    try:
        # 1:30 happens twice in New York that night (clocks back at 2:00): the second, EST, is taken
        assert (
            con.execute("SELECT strftime(offered_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') FROM calls").fetchone()[0]
            == "2026-11-01 06:30"
        )
    finally:
        con.close()
    # the week of 06:30 UTC on Sunday 1 November is cut in Europe/Paris: 07:30 Sunday, 2026-W44
    assert result.weeks == ["2026-W44"]


def test_skewed_source_clocks(settings):
    """Within a record, a clock running backwards is caught; across sources, times are kept as sent."""
    _load_calls(
        settings,
        [
            call_row(call_id="OK"),
            call_row(call_id="BACKWARDS", answered="2026-10-05T09:59:00+02:00"),  # answered before offered
            call_row(
                call_id="FUTURE",
                offered="2030-01-01T10:00:00+01:00",
                answered="2030-01-01T10:00:30+01:00",
                ended="2030-01-01T10:05:00+01:00",
            ),
        ]
        + [call_row(call_id=f"FILL{i}") for i in range(40)],
    )
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    # a survey clock an hour behind: the response is dated before the call it rates
    (folder / "s.csv").write_text(
        csv_text([survey_row(interaction_ref="OK", at="2026-10-05T09:00:00+02:00")]), encoding="utf-8"
    )
    (survey,) = ingest_paths(settings, "surveys", [folder / "s.csv"])
    assert survey.status == "loaded" and survey.rows_loaded == 1
    con = connect(settings.warehouse, read_only=True)
    try:
        reasons = con.execute("SELECT reasons FROM quarantine WHERE source_line = 3").fetchone()[0]
        assert any("answered_at/offered_at" in r for r in reasons), reasons
        # a call dated years ahead is a clock or a typo, not data: quarantined with its rule (the
        # plausible window, docs/ingestion.md), where it was loaded as sent before
        assert con.execute("SELECT count(*) FROM calls WHERE call_id = 'FUTURE'").fetchone()[0] == 0
        future = con.execute("SELECT reasons FROM quarantine WHERE source_line = 4").fetchone()[0]
        assert any("column offered_at: rule plausible_time" in r for r in future), future
    finally:
        con.close()


def test_the_scan_finds_identifiers_whatever_their_form():
    needles = {
        "customer ids": {"C000123"},
        "e-mail addresses": {"marie.client0@exemple.fr"},
        "phone numbers": {_digits("+33 6 12 00 00 05")[-9:]},
    }
    texts = {
        "a": "client C000123.",
        "b": "écrire à marie.client0@exemple.fr.",
        "c": "appeler le 06.12.00.00.05",
        "d": "C0001234 p_c000123 0612000006 marie.client0@exemple.fr.com",
    }
    assert [hit.split(" in ")[1] for hit in leaks(texts, needles)] == ["a", "b", "c"]


def test_a_value_that_breaks_a_rule_is_reported_by_its_shape_only(tmp_path, capfd, monkeypatch):
    """Issue 22, point 1: an e-mail address in an NPS column, a phone number as an interaction type
    and an e-mail address as a response time. The rows are quarantined, and a second file of only
    such rows is rejected; neither value appears in the quarantine, the audit's report, the kept
    GX results, Data Docs, the rejection report or what `esprit ingest` prints: only their shape."""
    from pipelines.cli import main
    from pipelines.ingest.validation import build_data_docs
    from tests.test_ingest_corpus import csv_text, survey_row

    monkeypatch.setenv("ESPRIT_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    settings = load_settings(base_dir=tmp_path)
    email, phone = "jean.tel@free.fr", "06 98 76 54 32"
    bad = [
        survey_row(rid="B1", nps=f"7 - {email}"),
        survey_row(rid="B2", interaction_type=phone),
        survey_row(rid="B3", at=f"le {email}"),
    ]
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    (folder / "mixed.csv").write_text(csv_text([survey_row(rid=f"R{i}") for i in range(60)] + bad), encoding="utf-8")
    (folder / "only_bad.csv").write_text(csv_text(bad), encoding="utf-8")
    assert main(["ingest", str(folder), "--source", "surveys"]) != 0  # a file was rejected
    printed = capfd.readouterr()
    build_data_docs(settings.out / "validation_results", settings.data_docs_dir)
    texts = {
        k: v
        for k, v in output_texts(tmp_path, settings.warehouse).items()
        if "rejected" not in Path(k).parts or k.endswith(".report.txt")
    }  # the raw rejected export is kept as is
    texts |= {"stdout": printed.out, "stderr": printed.err}
    assert any(k.endswith("only_bad.csv.report.txt") for k in texts) and any("data_docs" in k for k in texts)
    needles = {"customer ids": set(), "e-mail addresses": {email}, "phone numbers": {_digits(phone)[-9:]}}
    assert leaks(texts, needles) == []
    con = connect(settings.warehouse, read_only=True)
    reasons = "\n".join(r for (r,) in con.execute("SELECT unnest(reasons) FROM quarantine").fetchall())
    con.close()
    assert "column nps: rule type; value shaped '9 - aaaa.aaa@aaaa.aa' is not INTEGER" in reasons
    assert "value shaped 'aa aaaa.aaa@aaaa.aa' is not TIMESTAMPTZ" in reasons
    assert (
        "column interaction_type: rule expect_column_values_to_be_in_set; value interaction_type=shaped "
        "'99 99 99 99 99'" in reasons
    )


def test_links_out_of_the_landing_folder_fifos_and_devices_are_refused_unread(tmp_path):
    """Issue 22, point 8: beside a good export, a link to a file outside the landing folder, a
    broken link and a FIFO: each is rejected with its rule, never opened nor copied (the link
    itself moves to rejected/), and the good file loads. A link to a file within the folder is
    an export like another."""
    import os

    from tests.test_ingest_corpus import csv_text, survey_row

    settings = load_settings(base_dir=tmp_path)
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    (folder / "good.csv").write_text(csv_text([survey_row(rid="R1")]), encoding="utf-8")
    (folder / "inner").mkdir()
    (folder / "inner" / "kept.txt").write_text(csv_text([survey_row(rid="R2")]), encoding="utf-8")
    (folder / "inside.csv").symlink_to(folder / "inner" / "kept.txt")
    secret = tmp_path / "secret.csv"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    (folder / "passwd.csv").symlink_to(secret)
    (folder / "gone.csv").symlink_to(tmp_path / "nowhere.csv")
    os.mkfifo(folder / "pipe.csv")
    results = {r.file: r for r in ingest_paths(settings, "surveys", landing_files(settings, "surveys"))}
    assert {f: (r.status, r.rows_loaded) for f, r in results.items()} == {
        "good.csv": ("loaded", 1),
        "inside.csv": ("loaded", 1),
        "gone.csv": ("rejected", 0),
        "passwd.csv": ("rejected", 0),
        "pipe.csv": ("rejected", 0),
    }
    assert "rule landing_link: a symbolic link to a file outside" in results["passwd.csv"].problems[0]
    assert "rule landing_link: a symbolic link that leads to no file" in results["gone.csv"].problems[0]
    assert "rule regular_file: a FIFO (named pipe), not a regular file" in results["pipe.csv"].problems[0]
    rejected = settings.rejected / "surveys"
    assert (rejected / "passwd.csv").is_symlink() and (rejected / "pipe.csv").is_fifo()
    texts = "\n".join(p.read_text(encoding="utf-8") for p in rejected.glob("*.report.txt"))
    assert "root:x" not in texts and len(list(rejected.glob("*.report.txt"))) == 3
    assert not any(p.name.startswith(("passwd", "pipe", "gone")) for p in folder.iterdir())


def test_esprit_ingest_on_a_fifo_says_why_instead_of_waiting(tmp_path):
    import os
    import sys

    fifo = tmp_path / "export.csv"
    os.mkfifo(fifo)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "ingest",
            str(fifo),
            "--source",
            "surveys",
            "--profile",
            "generator_survey_responses",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ESPRIT_HOME": str(tmp_path)},
    )
    assert done.returncode != 0 and "rule regular_file: a FIFO (named pipe)" in done.stdout + done.stderr
    assert fifo.is_fifo()  # given from outside the landing folder: left where it is


def test_a_busy_warehouse_names_its_holder_exits_3_and_can_be_waited_for(tmp_path):
    """Issue 22, point 9: while another process holds the warehouse, `esprit ingest` says which
    process, exits with status 3 (1 is a rejected file) and prints no traceback; with
    ESPRIT_WAREHOUSE_WAIT it waits for the holder to finish, then loads."""
    import os
    import sys

    from tests.test_ingest_corpus import csv_text, survey_row

    warehouse = tmp_path / "warehouse" / "esprit.duckdb"
    warehouse.parent.mkdir(parents=True)
    export = tmp_path / "surveys.csv"
    export.write_text(csv_text([survey_row(rid="R1")]), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "pipelines.cli",
        "ingest",
        str(export),
        "--source",
        "surveys",
        "--profile",
        "generator_survey_responses",
    ]
    env = {**os.environ, "ESPRIT_HOME": str(tmp_path)}
    for hold, wait, expected in ((30, "", 3), (10, "60", 0)):
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
                "print('holding', flush=True); time.sleep(float(sys.argv[2]))",
                str(warehouse),
                str(hold),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "holding"
            done = subprocess.run(
                command,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
                env={**env, "ESPRIT_WAREHOUSE_WAIT": wait},
            )
        finally:
            holder.kill()
            holder.wait()
        assert done.returncode == expected, done.stderr[-2000:]
        if expected == 3:
            assert f"is in use by process {holder.pid} (python" in done.stderr and "Traceback" not in done.stderr
            assert "ESPRIT_WAREHOUSE_WAIT" in done.stderr
    con = connect(warehouse, read_only=True)
    assert con.execute("SELECT count(*) FROM survey_responses").fetchone()[0] == 1
    con.close()


def test_a_stop_around_a_rejection_never_loses_it(tmp_path, monkeypatch):
    """Issue 22, point 7: a stop (simulated at the step named) before the rejection is committed
    leaves the file in the landing folder, judged again by the next run; a stop after the commit,
    before the file is moved, leaves it recorded once: the next run moves it and records nothing
    new. Before, the file was moved first: a stop before the commit took it, and its rejection,
    out of the audit and the data-quality panel."""
    import pipelines.ingest.load as load

    settings = load_settings(base_dir=tmp_path)
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    (folder / "bad.csv").write_text("a,b\n1,2\n", encoding="utf-8")  # no required column: rejected

    def stop(*args, **kwargs):
        raise KeyboardInterrupt("stopped here")

    def run():
        return ingest_paths(settings, "surveys", landing_files(settings, "surveys"))

    def audit():
        con = connect(settings.warehouse, read_only=True)
        try:
            return con.execute("SELECT load_id, status, file_name FROM load_audit ORDER BY 1").fetchall()
        finally:
            con.close()

    with monkeypatch.context() as patched:
        patched.setattr(load, "_audit", stop)
        with pytest.raises(KeyboardInterrupt):
            run()
    assert (folder / "bad.csv").is_file() and audit() == []
    with monkeypatch.context() as patched:
        patched.setattr(load, "_set_aside", stop)
        with pytest.raises(KeyboardInterrupt):
            run()
    ((load_id, status, name),) = audit()
    assert (status, name) == ("rejected", "bad.csv") and (folder / "bad.csv").is_file()
    (result,) = run()
    assert result.status == "skipped" and result.reason.startswith(f"rejected as load {load_id} ")
    assert not (folder / "bad.csv").exists() and (settings.rejected / "surveys" / "bad.csv").is_file()
    assert (settings.rejected / "surveys" / "bad.csv.report.txt").is_file() and len(audit()) == 1
