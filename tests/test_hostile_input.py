"""Hostile and huge input, rejected files and temporary copies, and files whose load fails: every
record read has a fate, every file a verdict, and one file never blocks the others."""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import time

import pytest

from pipelines.config import load_settings
from pipelines.ingest.load import ingest_paths, ingest_source
from pipelines.ingest.profiles import load_profile
from pipelines.ingest.results import IngestError
from pipelines.warehouse import connect
from tests.test_fuzz import JSONL_PROFILE
from tests.test_ingest import _audit
from tests.test_ingest_corpus import csv_text, survey_row

SURVEYS = "generator_survey_responses"


def _jsonl_profile(tmp_path):
    import yaml

    path = tmp_path / "hostile_jsonl.yaml"
    path.write_text(yaml.safe_dump(JSONL_PROFILE | {"name": "hostile_jsonl"}), encoding="utf-8")
    return load_profile(path)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _rows(n: int, long_at: int | None = None, size: int = 0) -> list[dict]:
    rows = [survey_row(rid=f"R{i}") for i in range(n)]
    if long_at is not None:
        rows[long_at]["verbatim"] = "long " * (size // 5)
    return rows


@pytest.mark.parametrize("kind", ["csv, default limit", "csv", "csv, Windows-1252", "jsonl"])
def test_a_line_longer_than_the_limit_rejects_its_file_instead_of_vanishing(settings, tmp_path, kind):
    """Before, DuckDB's parallel reader dropped a record longer than its line limit without a
    word (the audit balanced without it), and the JSON Lines reader raised with the raw line in
    its message. Now the scan finds the line and the file is rejected, naming it and the setting."""
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    rows = _rows(5, long_at=2, size=(65 << 20) if kind == "csv, default limit" else (3 << 19))
    if kind != "csv, default limit":
        settings.ingest["max_line_bytes"] = 1 << 20
    settings.ingest["max_field_bytes"] = 100 << 20  # the row rules would quarantine it: the reader's limit is tested
    if kind == "jsonl":
        path, profile = folder / "long.jsonl", _jsonl_profile(tmp_path)
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    else:
        path, profile = folder / "long.csv", load_profile(SURVEYS)
        rows[0]["verbatim"] = "très" if kind == "csv, Windows-1252" else rows[0]["verbatim"]
        path.write_bytes(csv_text(rows).encode("cp1252" if kind == "csv, Windows-1252" else "utf-8"))
    (result,) = ingest_paths(settings, "surveys", [path], profile)
    limit = "64 MB" if kind == "csv, default limit" else "1 MB"
    assert result.status == "rejected", (result.status, result.rows_read, result.rows_loaded)
    assert result.problems[0].startswith(f"long.{path.suffix[1:]}: line {4 if kind != 'jsonl' else 3}, column -: ")
    assert (
        f"rule line_too_long: line {4 if kind != 'jsonl' else 3} is longer than {limit} (ingest.max_line_bytes)"
        in (result.problems[0])
    )
    assert "long long" not in " ".join(result.problems)
    assert [(a[0], a[1]) for a in _audit(settings)] == [(path.name, "rejected")]
    assert (settings.rejected / "surveys" / path.name).exists() and not path.exists()


def test_a_line_made_longer_than_the_limit_by_transcoding_rejects_its_file(settings):
    """Windows-1252 letters take two bytes in UTF-8: a line under the limit as delivered may be
    over it as read; the transcoding sees it."""
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    rows = _rows(3)
    rows[1]["verbatim"] = "é" * ((1 << 20) - 300)  # under 1 MB in Windows-1252, about 2 MB in UTF-8
    path = folder / "latin.csv"
    path.write_bytes(csv_text(rows).encode("cp1252"))
    settings.ingest["max_line_bytes"] = 1 << 20
    settings.ingest["max_field_bytes"] = 100 << 20
    (result,) = ingest_paths(settings, "surveys", [path], load_profile(SURVEYS))
    assert result.status == "rejected" and "line 3, column -: rule line_too_long" in result.problems[0]


def test_json_nested_a_million_levels_deep_is_quarantined_not_an_out_of_memory_error(settings, tmp_path):
    """Before, DuckDB's JSON functions ran out of the ingest's memory (1 GB) on such a line, an
    error taken for the machine's. Now the line is set aside (unparsed, quarantined) with a
    rule naming the depth limit, and the others load."""
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    lines = [json.dumps(r) for r in _rows(40)]
    depth = 1_000_000
    lines[6] = lines[6][:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"
    lines[9] = lines[9][:-1] + ', "y": ' + '{"a": ' * 30 + "1" + "}" * 30 + "}"  # within a limit of 50
    path = folder / "deep.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    started = time.perf_counter()
    (result,) = ingest_paths(settings, "surveys", [path], _jsonl_profile(tmp_path))
    assert time.perf_counter() - started < 60
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == ("loaded", 40, 39, 1)
    con = connect(settings.warehouse, read_only=True)
    try:
        quarantined = con.execute("SELECT source_line, reasons, length(raw_record) FROM quarantine").fetchall()
    finally:
        con.close()
    assert quarantined[0][:2] == (7, ["json: nested deeper than 1000 levels (ingest.max_json_depth)"])
    assert quarantined[0][2] <= 20_000  # the record's first 10,000 characters, not its 2 MB


def test_the_depth_limit_is_a_setting(settings, tmp_path):
    from pipelines.ingest.readers import json_depth

    assert json_depth('{"a": [1, {"b": "[[[[ in a string ]]"}], "c": "\\"{"}') == 3
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    lines = [json.dumps(r) for r in _rows(30)]
    lines[3] = lines[3][:-1] + ', "y": ' + "[" * 60 + "]" * 60 + "}"
    path = folder / "deeper.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings.ingest["max_json_depth"] = 50
    (result,) = ingest_paths(settings, "surveys", [path], _jsonl_profile(tmp_path))
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 29, 1)
    assert result.problems == ["deeper.jsonl: line 4: json: nested deeper than 50 levels (ingest.max_json_depth)"]


def test_a_gzip_expanding_beyond_the_cap_is_rejected_before_it_fills_memory_or_disk(settings):
    """Before, a small gzip of blank lines was decompressed whole (9 MB of them took 279 s,
    21.3 GB of memory and 4.1 GB of disk). Now the scan stops at ingest.max_decompressed_bytes."""
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    path = folder / "bomb.csv.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(csv_text(_rows(2)).encode("utf-8"))
        for _ in range(16):
            fh.write(b"\n" * (1 << 20))
    assert path.stat().st_size < 100_000
    settings.ingest["max_decompressed_bytes"] = 4 << 20
    started = time.perf_counter()
    (result,) = ingest_paths(settings, "surveys", [path], load_profile(SURVEYS))
    assert time.perf_counter() - started < 30
    assert result.status == "rejected"
    assert (
        "bomb.csv.gz: line 1, column -: rule decompressed_size: decompressed, the file holds more than 4 MB"
        in (result.problems[0])
    )
    assert "raise the setting" in result.problems[0] and "ingest.max_decompressed_bytes" in result.problems[0]
    assert not [p for p in settings.temp_dir.rglob("*") if p.is_file()]


def test_rejected_files_and_reports_are_private_and_purged_after_their_retention(settings, monkeypatch, capsys):
    """rejected/ keeps raw exports: owner-only folders and files; `esprit purge-rejected` (and each
    source's ingest) deletes those set aside longer ago than ingest.rejected_retention_days."""
    from pipelines.cli import main

    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    for name in ("old.csv", "new.csv"):
        (folder / name).write_text("response_id,nps\nR1,5\n", encoding="utf-8")  # no customer_ref: rejected
    os.umask(0o022)
    with pytest.raises(IngestError):
        ingest_source(settings, "surveys")
    rejected = settings.rejected / "surveys"
    kept = sorted(p.name for p in rejected.iterdir())
    assert kept == ["new.csv", "new.csv.report.txt", "old.csv", "old.csv.report.txt"]
    assert _mode(settings.rejected) == _mode(rejected) == 0o700
    assert {_mode(p) for p in rejected.iterdir()} == {0o600}
    month_ago = time.time() - 31 * 86400
    for name in ("old.csv", "old.csv.report.txt"):
        os.utime(rejected / name, (month_ago, month_ago))
    monkeypatch.setenv("ESPRIT_HOME", str(settings.landing.parent))
    assert main(["purge-rejected"]) == 0
    out = capsys.readouterr().out
    assert "removed 2 file(s) set aside more than 30 day(s) ago" in out
    assert "surveys/old.csv\n" in out and "surveys/old.csv.report.txt" in out and "new.csv" not in out
    assert sorted(p.name for p in rejected.iterdir()) == ["new.csv", "new.csv.report.txt"]
    # the scheduled ingest purges its source too
    for name in ("new.csv", "new.csv.report.txt"):
        os.utime(rejected / name, (month_ago, month_ago))
    assert ingest_source(settings, "surveys") == []
    assert list(rejected.iterdir()) == []


def test_temporary_copies_live_in_a_private_folder_and_a_dead_ingests_are_removed(settings):
    """Decompressed copies go to the warehouse's tmp/ (owner only), one folder per process: the
    next ingest removes those of processes that are gone, never those of a running one."""
    finished = subprocess.Popen(["true"])
    finished.wait()
    settings.temp_dir.mkdir(parents=True)
    dead = settings.temp_dir / f"ingest-{finished.pid}-crashed"
    live = settings.temp_dir / f"ingest-{os.getppid()}-running"
    for folder in (dead, live):
        folder.mkdir()
        (folder / "utf8-export.csv").write_text("a copy\n", encoding="utf-8")
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    path = folder / "s.csv.gz"
    path.write_bytes(gzip.compress(csv_text(_rows(3)).encode("utf-8")))
    (result,) = ingest_paths(settings, "surveys", [path], load_profile(SURVEYS))
    assert result.status == "loaded"
    assert not dead.exists() and (live / "utf8-export.csv").exists()
    assert sorted(settings.temp_dir.iterdir()) == [live]  # this ingest's own folder went with its file
    assert _mode(settings.temp_dir) == 0o700


def _breaking_settings(tmp_path, settings):
    """Settings whose surveys bind bad*.csv to a profile whose derived table raises a DuckDB error
    (a text that is no timestamp): not a rule's verdict, an error in the middle of the load."""
    import yaml

    spec = yaml.safe_load(load_profile(SURVEYS).path.read_text(encoding="utf-8"))
    spec.update(
        name="derive_breaks",
        derive=[
            {
                "table": "cases",
                "sql": "SELECT response_id AS case_id, customer_ref, verbatim AS opened_at, 'web' AS channel, "
                "'x' AS category, NULL AS origin_ref, NULL AS priority, NULL AS resolved_at FROM batch",
            }
        ],
    )
    profile = tmp_path / "derive_breaks.yaml"
    profile.write_text(yaml.safe_dump(spec), encoding="utf-8")
    home = settings.landing.parent
    config = home / "esprit.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "sources": {
                    "surveys": [{"match": "bad*", "profile": str(profile)}, {"match": "*", "profile": SURVEYS}],
                    "calls": [{"match": "*", "profile": "generator_calls"}],
                }
            }
        ),
        encoding="utf-8",
    )
    return load_settings(config, base_dir=home)


def test_a_file_whose_load_fails_is_retried_then_set_aside_and_never_blocks_the_others(settings, tmp_path):
    """Before, the error went out of ingest: the good file after it and every other source were
    not loaded, at every run. Now the failure is counted, the others load, and at the third
    attempt (ingest.max_attempts) the file is set aside with a report, its values masked."""
    settings = _breaking_settings(tmp_path, settings)
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    secret = "jean.dupont@exemple.fr"
    bad = folder / "bad.csv"
    bad.write_text(csv_text([survey_row(rid="B1", verbatim=secret)]), encoding="utf-8")
    good = folder / "good.csv"
    good.write_text(csv_text([survey_row(rid="G1")]), encoding="utf-8")
    for attempt in (1, 2):
        results = {r.file: r for r in ingest_source(settings, "surveys", fail_on_reject=False)}
        assert results["bad.csv"].status == "failed" and bad.exists()
        assert results["good.csv"].status == ("loaded" if attempt == 1 else "skipped")
        problem = results["bad.csv"].problems[0]
        assert problem.startswith("bad.csv: line 1, column -: rule load_failed: ConversionException: ")
        assert f"(attempt {attempt} of 3: the file stays where it is" in problem and secret not in problem
    with pytest.raises(IngestError, match=r"bad.csv: line 1, column -: rule load_failed: .*attempt 3 of 3: set aside"):
        ingest_source(settings, "surveys")
    assert not bad.exists() and (settings.rejected / "surveys" / "bad.csv").exists()
    report = (settings.rejected / "surveys" / "bad.csv.report.txt").read_text(encoding="utf-8")
    assert "rule load_failed: ConversionException" in report and secret not in report and "jean" not in report
    assert [(a[0], a[1]) for a in _audit(settings)] == [("good.csv", "loaded"), ("bad.csv", "rejected")]
    con = connect(settings.warehouse, read_only=True)
    try:
        assert con.execute("SELECT file_name, attempts, set_aside_as IS NOT NULL FROM load_failures").fetchall() == [
            ("bad.csv", 3, True)
        ]
    finally:
        con.close()
    assert [r.file for r in ingest_source(settings, "surveys")] == ["good.csv"]  # skipped; bad.csv blocks nothing


def test_esprit_run_loads_every_other_source_and_exits_1_when_a_file_failed(
    settings, generated, tmp_path, monkeypatch, capsys
):
    import shutil

    from pipelines.cli import main

    settings = _breaking_settings(tmp_path, settings)
    (settings.landing / "surveys").mkdir(parents=True)
    (settings.landing / "surveys" / "bad.csv").write_text(csv_text([survey_row(rid="B1")]), encoding="utf-8")
    (settings.landing / "calls").mkdir(parents=True)
    shutil.copy(sorted((generated / "calls").glob("*.csv"))[0], settings.landing / "calls")
    monkeypatch.setenv("ESPRIT_HOME", str(settings.landing.parent))
    monkeypatch.setenv("ESPRIT_CONFIG", str(settings.landing.parent / "esprit.yaml"))
    assert main(["run", "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["failed_files"] == ["bad.csv"] and summary["files_loaded"] == 1
