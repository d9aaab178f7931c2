"""Field truth on a real operation's exports: keys of different sources, corrected deliveries and
profiles, and the continuity of the pseudonymisation key. Real DuckDB, files written here."""

from __future__ import annotations

import csv
import io
import json

import pytest

from pipelines.contracts import CONTRACTS
from pipelines.ingest.load import ingest_paths
from pipelines.ingest.profiles import load_profile
from pipelines.warehouse import connect
from tests.test_ingest_corpus import CALL_COLS, call_row

CASE_COLS = CONTRACTS["cases"].column_names
EVENT_COLS = CONTRACTS["case_events"].column_names


def _csv(rows: list[dict], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _write(folder, name, rows, columns):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(_csv(rows, columns), encoding="utf-8")
    return folder / name


def case_row(case_id, customer="C1", opened="2026-10-05T10:00:00+02:00", category="billing", **extra) -> dict:
    row = {
        "case_id": case_id,
        "customer_ref": customer,
        "opened_at": opened,
        "channel": "web",
        "category": category,
        "origin_ref": "",
        "priority": "normal",
        "resolved_at": "",
    }
    row.update(extra)
    return row


def event_row(case_id, seq=1, at="2026-10-05T10:00:00+02:00", **extra) -> dict:
    row = {
        "case_id": case_id,
        "event_seq": str(seq),
        "event_type": "opened",
        "event_at": at,
        "team": "accueil",
        "agent_id": "A1",
        "status": "open",
    }
    row.update(extra)
    return row


def _profile(folder, name, table, **keys):
    """A profile of the canonical CSV format, written as a file (its name is the file's)."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "name": name,
        "table": table,
        "format": {"type": "csv", "delimiter": ",", "encoding": "utf-8"},
        "timezone": "Europe/Paris",
        "personal_columns": ["customer_ref"],
        **keys,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_profile(path)


def _rows(settings, sql, params=()):
    con = connect(settings.warehouse, read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _accounted(result):
    assert (
        result.rows_read == result.rows_loaded + result.rows_quarantined + result.rows_duplicate + result.rows_rejected
    ), result


# ---- 4. keys from different sources never overwrite each other --------------------------------


def test_a_key_loaded_from_another_source_is_quarantined_never_replaced(settings, tmp_path):
    """The CFPB case 511424 must survive an SF311 export that also has a case 511424."""
    cfpb = _profile(tmp_path / "profiles", "cfpb_like_cases", "cases")
    sf311 = _profile(tmp_path / "profiles", "sf311_cases", "cases")
    first = _write(
        settings.landing / "complaints",
        "cfpb_2026-10.csv",
        [case_row("511424", customer="C1", category="mortgage")],
        CASE_COLS,
    )
    (r1,) = ingest_paths(settings, "complaints", [first], cfpb)
    assert (r1.status, r1.rows_loaded) == ("loaded", 1)
    # 30 rows, one of them colliding: under the 5 % threshold, so the file loads and the row is quarantined
    rows = [case_row(str(600000 + i), customer=f"S{i}", category="streets") for i in range(29)]
    rows.insert(7, case_row("511424", customer="S99", category="streets"))
    second = _write(settings.landing / "complaints", "sf311_2026-10.csv", rows, CASE_COLS)
    (r2,) = ingest_paths(settings, "complaints", [second], sf311)
    _accounted(r2)
    assert (r2.status, r2.rows_read, r2.rows_loaded, r2.rows_quarantined, r2.rows_duplicate) == ("loaded", 30, 29, 1, 0)
    assert _rows(settings, "SELECT category, source_file FROM cases WHERE case_id = '511424'") == [
        ("mortgage", "cfpb_2026-10.csv")
    ]
    # the audit says what the table holds
    assert _rows(settings, "SELECT count(*) FROM cases WHERE load_id = ?", [r2.load_id])[0][0] == r2.rows_loaded
    ((line, reasons),) = _rows(settings, "SELECT source_line, reasons FROM quarantine WHERE load_id = ?", [r2.load_id])
    assert line == 9
    (reason,) = reasons
    assert "column case_id: rule key_namespace" in reason
    assert "'511424'" in reason and "cfpb_like_cases" in reason and "cfpb_2026-10.csv" in reason
    assert "key_namespace" in reason and "sf311_cases" in reason  # what to do
    assert any("line 9" in p and "key_namespace" in p for p in r2.problems)


def test_a_namespace_prefixes_keys_and_the_references_of_its_own_source(settings, tmp_path):
    """Two systems with the same case numbers both load when one declares a namespace that
    prefixes its keys; its case history and the cases' calls still find each other."""
    profiles = tmp_path / "profiles"
    crm = _profile(profiles, "crm_cases", "cases")
    sf_cases = _profile(profiles, "sf_cases", "cases", key_namespace="sf311", namespace_keys=True)
    sf_events = _profile(profiles, "sf_events", "case_events", key_namespace="sf311", namespace_keys=True)
    sf_calls = _profile(profiles, "sf_calls", "calls", key_namespace="sf311", namespace_keys=True)
    folder = settings.landing / "complaints"
    ingest_paths(
        settings, "complaints", [_write(folder, "crm.csv", [case_row("511424", category="mortgage")], CASE_COLS)], crm
    )
    calls = _write(settings.landing / "calls", "sf_calls.csv", [call_row(call_id="CALL9")], CALL_COLS)
    cases = _write(folder, "sf_cases.csv", [case_row("511424", category="streets", origin_ref="CALL9")], CASE_COLS)
    events = _write(folder, "sf_events.csv", [event_row("511424")], EVENT_COLS)
    results = [
        *ingest_paths(settings, "calls", [calls], sf_calls),
        *ingest_paths(settings, "complaints", [cases], sf_cases),
        *ingest_paths(settings, "complaints", [events], sf_events),
    ]
    assert [(r.status, r.rows_loaded, r.rows_quarantined) for r in results] == [("loaded", 1, 0)] * 3
    assert _rows(settings, "SELECT case_id, category, origin_ref FROM cases ORDER BY case_id") == [
        ("511424", "mortgage", None),
        ("sf311:511424", "streets", "sf311:CALL9"),
    ]
    assert _rows(settings, "SELECT case_id FROM case_events") == [("sf311:511424",)]
    assert _rows(settings, "SELECT call_id FROM calls") == [("sf311:CALL9",)]


def test_a_derived_row_whose_key_another_source_owns_rejects_its_file(settings, tmp_path):
    """A case history deriving its cases (as BPIC 2013's profile does) cannot replace another
    system's case either: the file is rejected, nothing of it loaded."""
    crm = _profile(tmp_path / "profiles", "crm_cases", "cases")
    history = _profile(
        tmp_path / "profiles",
        "hist_events",
        "case_events",
        derive=[
            {
                "table": "cases",
                "sql": (
                    "SELECT case_id, case_id AS customer_ref, min(event_at) AS opened_at, 'other' AS channel, "
                    "'incident' AS category, NULL AS origin_ref, NULL AS priority, NULL AS resolved_at FROM batch GROUP BY case_id"
                ),
            }
        ],
    )
    folder = settings.landing / "complaints"
    ingest_paths(
        settings, "complaints", [_write(folder, "crm.csv", [case_row("511424", category="mortgage")], CASE_COLS)], crm
    )
    events = _write(folder, "events.csv", [event_row("511424"), event_row("700001")], EVENT_COLS)
    (result,) = ingest_paths(settings, "complaints", [events], history)
    _accounted(result)
    assert (result.status, result.rows_read, result.rows_rejected) == ("rejected", 2, 2)
    assert "rule key_namespace: derive cases: column case_id: rule key_namespace; key '511424'" in result.problems[0]
    assert "crm.csv" in result.problems[0]
    assert _rows(settings, "SELECT case_id, category FROM cases") == [("511424", "mortgage")]
    assert _rows(settings, "SELECT count(*) FROM case_events")[0][0] == 0


# ---- 8. corrected deliveries and corrected profiles ---------------------------------------------


def test_a_corrected_delivery_under_the_same_file_name_wins(settings):
    """calls_2026-W40.csv delivered again with a corrected figure (and a row fewer at the top, so
    every line moves up): its rows win; the unchanged ones count as duplicates."""
    profile = load_profile("generator_calls")
    folder = settings.landing / "calls"
    rows = [call_row(call_id=f"CALL{i}", customer_ref=f"C{i}") for i in range(1, 6)]
    path = _write(folder, "calls_2026-W40.csv", rows, CALL_COLS)
    (first,) = ingest_paths(settings, "calls", [path], profile)
    corrected = [call_row(call_id=f"CALL{i}", customer_ref=f"C{i}", hold="30" if i == 3 else "0") for i in range(2, 6)]
    _write(folder, "calls_2026-W40.csv", corrected, CALL_COLS)
    (second,) = ingest_paths(settings, "calls", [path], profile)
    _accounted(second)
    assert (second.status, second.rows_read, second.rows_loaded, second.rows_duplicate) == ("loaded", 4, 1, 3)
    assert _rows(settings, "SELECT hold_seconds, source_line, load_id FROM calls WHERE call_id = 'CALL3'") == [
        (30, 3, second.load_id)
    ]
    assert _rows(settings, "SELECT count(*) FROM calls")[0][0] == 5  # CALL1 was not retracted by its absence
    # the same content again, under its name or another: skipped, and the result says why
    (again,) = ingest_paths(settings, "calls", [path], profile)
    assert again.status == "skipped" and f"load {second.load_id}" in again.reason and "unchanged" in again.reason
    copy = folder / "calls_copy.csv"
    copy.write_bytes(path.read_bytes())
    (same,) = ingest_paths(settings, "calls", [copy], profile)
    assert same.status == "skipped" and "same content" in same.reason and "calls_2026-W40.csv" in same.reason


def test_a_corrected_delivery_replaces_the_earlier_one_when_its_profile_says_so(settings, tmp_path):
    """With `redelivery: replace`, calls_2026-W40.csv delivered again is the whole truth for that
    name: CALL1, which only the earlier delivery had, is taken back, and the next build drops it.
    A row another file holds now (CALL5, corrected since in calls_late.csv) is not the earlier
    delivery's to take back. The default (`update`) is the test above: CALL1 stays."""
    from pipelines.model.build import build_models

    profile = _profile(tmp_path / "profiles", "acd_calls", "calls", redelivery="replace")
    assert profile.redelivery == "replace" and load_profile("generator_calls").redelivery == "update"
    folder = settings.landing / "calls"
    path = _write(
        folder,
        "calls_2026-W40.csv",
        [call_row(call_id=f"CALL{i}", customer_ref=f"C{i}") for i in range(1, 6)],
        CALL_COLS,
    )
    (first,) = ingest_paths(settings, "calls", [path], profile)
    late = _write(folder, "calls_late.csv", [call_row(call_id="CALL5", customer_ref="C5", hold="40")], CALL_COLS)
    ingest_paths(settings, "calls", [late], profile)
    build_models(settings)
    assert _rows(settings, "SELECT count(*) FROM stg_calls WHERE call_id = 'CALL1'")[0][0] == 1
    corrected = [call_row(call_id=f"CALL{i}", customer_ref=f"C{i}", hold="30" if i == 3 else "0") for i in range(2, 5)]
    _write(folder, "calls_2026-W40.csv", corrected, CALL_COLS)
    (second,) = ingest_paths(settings, "calls", [path], profile)
    _accounted(second)
    assert (second.status, second.replaces, second.rows_loaded, second.rows_duplicate) == (
        "loaded",
        [first.load_id],
        3,
        0,
    )
    assert _rows(settings, "SELECT call_id FROM calls ORDER BY call_id") == [
        ("CALL2",),
        ("CALL3",),
        ("CALL4",),
        ("CALL5",),
    ]
    assert _rows(settings, "SELECT hold_seconds FROM calls WHERE call_id = 'CALL5'") == [(40,)]
    assert _rows(settings, "SELECT status, replaced_by FROM load_audit WHERE load_id = ?", [first.load_id]) == [
        ("replaced", second.load_id)
    ]
    built = build_models(settings)
    assert built["full"]  # CALL1 is gone: no incremental slice finds what was built from it
    assert _rows(settings, "SELECT count(*) FROM stg_calls WHERE call_id = 'CALL1'")[0][0] == 0


def test_a_profile_without_redelivery_keeps_the_digest_its_loads_recorded():
    """A key added to profiles later is left out of the digest while it has its default, so the
    loads made before it stay current (esprit reload --stale does not list them)."""
    from pipelines.ingest.profiles import parse_profile

    data = {"name": "p", "table": "calls", "format": {"type": "csv"}}
    assert parse_profile(data, "p").digest == parse_profile({**data, "redelivery": "update"}, "p").digest
    assert parse_profile(data, "p").digest != parse_profile({**data, "redelivery": "replace"}, "p").digest
    # so are the building blocks added since (let, rename, file_name) while unused
    assert parse_profile(data, "p").digest == parse_profile({**data, "let": {}, "rename": {}}, "p").digest
    assert parse_profile(data, "p").digest != parse_profile({**data, "let": {"x": "1"}}, "p").digest
    with pytest.raises(ValueError, match="redelivery"):
        parse_profile({**data, "redelivery": "sometimes"}, "p")


def _naive_calls() -> list[dict]:
    """Timestamps without offset: the profile's timezone places them. CALL1, Sunday 23:30, is in
    2026-W40 read as Tokyo time and in 2026-W41 read as Los Angeles time; CALL2 has a wrap code the
    corrected profile does not accept."""
    rows = [
        call_row(
            call_id="CALL1",
            customer_ref="C1",
            offered="2026-10-04 23:30:00",
            answered="2026-10-04 23:30:30",
            ended="2026-10-04 23:40:00",
        )
    ]
    rows.append(
        call_row(
            call_id="CALL2",
            customer_ref="C2",
            offered="2026-10-07 10:00:00",
            answered="2026-10-07 10:00:30",
            ended="2026-10-07 10:05:00",
            wrap_code="oops",
        )
    )
    rows += [
        call_row(
            call_id=f"CALL{i}",
            customer_ref=f"C{i}",
            offered="2026-10-07 11:00:00",
            answered="2026-10-07 11:00:30",
            ended="2026-10-07 11:05:00",
        )
        for i in range(3, 26)
    ]
    return rows


def test_reload_applies_a_corrected_profile_and_the_next_build_restates_its_weeks(
    settings, tmp_path, monkeypatch, capsys
):
    from pipelines.cli import main
    from pipelines.model.build import build_models

    monkeypatch.setenv("ESPRIT_HOME", str(tmp_path))
    profiles = tmp_path / "profiles"
    # the first version reads the exporter's local times in the wrong zone: CALL1 lands on Sunday
    wrong = _profile(profiles, "acd_calls", "calls", timezone="Asia/Tokyo")
    path = _write(settings.landing / "calls", "calls_2026-W40.csv", _naive_calls(), CALL_COLS)
    (first,) = ingest_paths(settings, "calls", [path], wrong)
    assert (first.rows_loaded, first.weeks) == (25, ["2026-W40", "2026-W41"])
    build_models(settings)
    assert _rows(settings, "SELECT week FROM stg_calls WHERE call_id = 'CALL1'") == [("2026-W40",)]
    before = _rows(settings, "SELECT count(*) FROM stg_calls WHERE week = '2026-W41'")[0][0]
    # corrected: the exporter's zone, and CALL2's wrap code is not one it accepts
    _profile(
        profiles,
        "acd_calls",
        "calls",
        timezone="America/Los_Angeles",
        value_maps={"wrap_code": {"resolved": "resolved"}},
    )
    assert main(["reload", str(path), "--profile", str(profiles / "acd_calls.yaml")]) == 0
    out = capsys.readouterr().out
    assert "calls_2026-W40.csv" in out and f"replaces load {first.load_id}" in out
    audit = _rows(
        settings,
        "SELECT load_id, status, rows_read, rows_loaded, rows_quarantined, rows_duplicate, weeks "
        "FROM load_audit ORDER BY load_id",
    )
    (old, new) = audit
    assert old[:2] == (first.load_id, "replaced")
    assert new[1:6] == ("loaded", 25, 24, 1, 0)
    assert _rows(settings, "SELECT count(*) FROM calls WHERE load_id = ?", [new[0]])[0][0] == 24
    assert _rows(settings, "SELECT count(*) FROM calls WHERE call_id = 'CALL2'")[0][0] == 0
    built = build_models(settings)
    # CALL2 is gone: no slice of an incremental build would find the rows built from it
    assert built["full"] and "2026-W41" in built["recomputed_weeks"] and "2026-W40" not in built["weeks"]
    assert _rows(settings, "SELECT week FROM stg_calls WHERE call_id = 'CALL1'") == [("2026-W41",)]
    assert _rows(settings, "SELECT count(*) FROM stg_calls WHERE call_id = 'CALL2'")[0][0] == 0
    assert _rows(settings, "SELECT count(*) FROM stg_calls WHERE week = '2026-W41'")[0][0] == before
    assert _rows(settings, "SELECT count(*) FROM metric_restatements WHERE week = '2026-W40'")[0][0] > 0
    # the scorecard's data-quality panel counts the file once: its reload, not the load it replaced
    from pipelines.report.scorecard import _quality

    con = connect(settings.warehouse, read_only=True)
    try:
        (calls,) = [s for s in _quality(settings, con, "2026-W41")["sources"] if s["source"] == "calls"]
    finally:
        con.close()
    assert (calls["files"], calls["rows_loaded"], calls["rows_quarantined"]) == (1, 24, 1)
    # the landing file is unchanged since its reload: the next ingest skips it, and says why
    assert main(["ingest", str(path), "--profile", str(profiles / "acd_calls.yaml")]) == 0
    out = capsys.readouterr().out
    assert "skipped" in out and f"unchanged since load {new[0]}" in out


def test_reload_stale_finds_the_loads_of_a_profile_changed_since(settings, tmp_path, monkeypatch, capsys):
    from pipelines.cli import main

    monkeypatch.setenv("ESPRIT_HOME", str(tmp_path))
    profiles = tmp_path / "profiles"
    acd = _profile(profiles, "acd_calls", "calls", timezone="Asia/Tokyo")
    path = _write(settings.landing / "calls", "calls_2026-W40.csv", _naive_calls(), CALL_COLS)
    other = _write(settings.landing / "calls", "calls_2026-W41.csv", [call_row(call_id="CALL77")], CALL_COLS)
    (first,) = ingest_paths(settings, "calls", [path], acd)
    ingest_paths(settings, "calls", [other], load_profile("generator_calls"))
    given = ["reload", "--stale", "--profile", str(profiles / "acd_calls.yaml")]
    assert main(given) == 0
    assert "no load in force was made with a profile that has changed since" in capsys.readouterr().out
    _profile(profiles, "acd_calls", "calls", timezone="America/Los_Angeles")
    assert main(given) == 0
    out = capsys.readouterr().out
    assert f"calls_2026-W40.csv: replaces load {first.load_id}" in out and "calls_2026-W41.csv" not in out
    assert _rows(
        settings, "SELECT strftime(offered_at AT TIME ZONE 'Europe/Paris', '%G-W%V') FROM calls WHERE call_id = 'CALL1'"
    ) == [("2026-W41",)]
    assert main(given) == 0  # reloaded: its load now records the profile as it is
    assert "no load in force" in capsys.readouterr().out


def test_the_ingest_task_result_says_why_a_file_was_skipped(settings, tmp_path, monkeypatch):
    from pipelines.orchestration.tasks import ingest

    monkeypatch.setenv("ESPRIT_HOME", str(tmp_path))
    path = _write(settings.landing / "calls", "calls_2026-W40.csv", [call_row()], CALL_COLS)
    assert ingest("calls")["files"] == ["calls_2026-W40.csv"]
    again = ingest("calls")
    assert again["files"] == [] and [s["file"] for s in again["skipped"]] == [path.name]
    assert "unchanged since load 1" in again["skipped"][0]["reason"]
    # what the DAG's publish task logs when it skips
    from pipelines.orchestration.tasks import skip_report

    assert skip_report(again) == (
        "no new calls file loaded; 1 skipped:\n- calls_2026-W40.csv: unchanged since load 1 "
        "(same name, size and modification time)"
    )


# ---- 9. pseudonym key continuity ------------------------------------------------------------------

KEY_A = "esprit-test-key-0123456789abcdef"  # conftest's
KEY_B = "a-second-secret-key-for-rotation-0042"


def _key(raw):
    from pipelines.ingest.privacy import PseudonymKey

    return PseudonymKey(raw.encode(), False)


def test_a_load_with_another_key_is_refused_and_the_warehouse_holds_no_key(settings, monkeypatch):
    from pipelines.ingest.privacy import PrivacyError, pseudonym

    profile = load_profile("generator_calls")
    folder = settings.landing / "calls"
    ingest_paths(
        settings, "calls", [_write(folder, "a.csv", [call_row(call_id="CALL1", customer_ref="C1")], CALL_COLS)], profile
    )
    monkeypatch.setenv("ESPRIT_PSEUDONYM_KEY", KEY_B)
    later = _write(folder, "b.csv", [call_row(call_id="CALL2", customer_ref="C1")], CALL_COLS)
    with pytest.raises(PrivacyError, match="another pseudonymisation key") as refused:
        ingest_paths(settings, "calls", [later], profile)
    assert "esprit rotate-key" in str(refused.value)
    assert KEY_A not in str(refused.value) and KEY_B not in str(refused.value)
    # the customer kept one reference: nothing was loaded under the other key
    assert _rows(settings, "SELECT call_id, customer_ref FROM calls") == [("CALL1", pseudonym("C1", _key(KEY_A)))]
    stored = settings.warehouse.read_bytes()
    assert KEY_A.encode() not in stored and KEY_B.encode() not in stored


def _operation(settings):
    """Calls (one row quarantined, its customer's identifier pseudonymised in the raw record), a
    case escalated from a call and a survey, loaded through the source bindings."""
    from pipelines.ingest.load import ingest_source

    calls = [call_row(call_id=f"CALL{i}", customer_ref=f"C{i % 3}") for i in range(1, 25)]
    calls.append(call_row(call_id="CALL99", customer_ref="C9", outcome="lost"))
    _write(settings.landing / "calls", "calls_2026-W41.csv", calls, CALL_COLS)
    _write(
        settings.landing / "complaints",
        "cases_2026-W41.csv",
        [case_row("K1", customer="C1", origin_ref="CALL1", opened="2026-10-05T11:00:00+02:00")],
        CASE_COLS,
    )
    _write(
        settings.landing / "complaints",
        "case_events_2026-W41.csv",
        [event_row("K1", at="2026-10-05T11:00:00+02:00")],
        EVENT_COLS,
    )
    from tests.test_ingest_corpus import SURVEY_COLS, csv_text, survey_row

    (settings.landing / "surveys").mkdir(parents=True, exist_ok=True)
    (settings.landing / "surveys" / "surveys_2026-W41.csv").write_text(
        csv_text(
            [survey_row(rid="R1", customer="C7", interaction_ref="CALL2", at="2026-10-06T10:00:00+02:00")], SURVEY_COLS
        ),
        encoding="utf-8",
    )
    from tests.test_pulse import PULSE_COLUMNS, pulse_row

    # the internal pulse's staff references are pseudonymised and rotated like customers'
    (settings.landing / "pulse").mkdir(parents=True, exist_ok=True)
    (settings.landing / "pulse" / "pulse_2026-W41.csv").write_text(
        csv_text([pulse_row("P1", "accueil", "facturation", respondent_ref="C2")], PULSE_COLUMNS), encoding="utf-8"
    )
    for source in ("calls", "complaints", "surveys", "pulse"):
        ingest_source(settings, source)


PSEUDONYM_TABLES = {
    "internal_pulse": "respondent_ref",
    "calls": "customer_ref",
    "cases": "customer_ref",
    "survey_responses": "customer_ref",
    "journey_contacts": "customer_ref",
    "journeys": "journey_id",
}


def test_rotate_key_re_pseudonymises_the_whole_warehouse(settings, tmp_path, monkeypatch, capsys):
    from pipelines.cli import main
    from pipelines.ingest.privacy import pseudonym
    from pipelines.model.build import build_models

    monkeypatch.setenv("ESPRIT_HOME", str(tmp_path))
    _operation(settings)
    build_models(settings)
    figures = _rows(settings, "SELECT week, metric, value FROM weekly_scorecard ORDER BY week, metric")
    journeys = _rows(settings, "SELECT count(*) FROM journeys")[0][0]
    old = {pseudonym(f"C{i}", _key(KEY_A)) for i in range(10)}
    new = {pseudonym(f"C{i}", _key(KEY_B)) for i in range(10)}
    quarantined = _rows(settings, "SELECT raw_record FROM quarantine")[0][0]
    assert pseudonym("C9", _key(KEY_A)) in quarantined

    monkeypatch.setenv("ESPRIT_PSEUDONYM_KEY_OLD", KEY_A)
    monkeypatch.setenv("ESPRIT_PSEUDONYM_KEY", KEY_B)
    assert main(["rotate-key"]) == 0
    printed = capsys.readouterr()
    assert KEY_A not in printed.out + printed.err and KEY_B not in printed.out + printed.err

    for table, column in PSEUDONYM_TABLES.items():
        refs = {r[0].split(":")[0] for r in _rows(settings, f"SELECT {column} FROM {table}")}
        assert refs and refs <= new and not refs & old, table
    # agent codes are pseudonyms too, re-made under the new key
    assert {r[0] for r in _rows(settings, "SELECT DISTINCT agent_id FROM calls")} == {pseudonym("A1", _key(KEY_B))}
    (record,) = _rows(settings, "SELECT raw_record FROM quarantine")[0]
    assert pseudonym("C9", _key(KEY_B)) in record and pseudonym("C9", _key(KEY_A)) not in record
    assert json.loads(record)["call_id"] == "CALL99"
    # the models were rebuilt: the same figures, the same journeys
    assert _rows(settings, "SELECT week, metric, value FROM weekly_scorecard ORDER BY week, metric") == figures
    assert _rows(settings, "SELECT count(*) FROM journeys")[0][0] == journeys
    # a later export of the same customer joins them; the old key is refused from now on
    later = _write(
        settings.landing / "calls",
        "calls_2026-W42.csv",
        [
            call_row(
                call_id="CALL50",
                customer_ref="C1",
                offered="2026-10-12T10:00:00+02:00",
                answered="2026-10-12T10:00:30+02:00",
                ended="2026-10-12T10:05:00+02:00",
            )
        ],
        CALL_COLS,
    )
    ingest_paths(settings, "calls", [later], load_profile("generator_calls"))
    assert (
        len({r[0] for r in _rows(settings, "SELECT customer_ref FROM calls WHERE call_id IN ('CALL1', 'CALL50')")}) == 1
    )
    monkeypatch.setenv("ESPRIT_PSEUDONYM_KEY", KEY_A)
    assert main(["ingest", str(later), "--profile", "generator_calls"]) == 2
    assert "another pseudonymisation key" in capsys.readouterr().err


def test_reload_of_a_file_never_loaded_is_skipped_and_says_why(settings):
    path = _write(settings.landing / "calls", "calls_2026-W45.csv", [call_row()], CALL_COLS)
    (result,) = ingest_paths(settings, None, [path], reload=True)
    assert result.status == "skipped" and "no load of this content" in result.reason
    assert _rows(settings, "SELECT count(*) FROM calls")[0][0] == 0


def test_rotate_key_refuses_when_a_loaded_file_is_gone_and_changes_nothing(settings, tmp_path, monkeypatch, capsys):
    from pipelines.cli import main
    from pipelines.ingest.privacy import pseudonym

    monkeypatch.setenv("ESPRIT_HOME", str(tmp_path))
    _operation(settings)
    before = _rows(settings, "SELECT customer_ref FROM calls ORDER BY call_id")
    kept = tmp_path / "archive"
    kept.mkdir()
    (settings.landing / "surveys" / "surveys_2026-W41.csv").rename(kept / "surveys_2026-W41.csv")
    monkeypatch.setenv("ESPRIT_PSEUDONYM_KEY_OLD", KEY_A)
    monkeypatch.setenv("ESPRIT_PSEUDONYM_KEY", KEY_B)
    assert main(["rotate-key"]) == 2
    err = capsys.readouterr().err
    assert "surveys_2026-W41.csv" in err and "survey_responses" in err and "--search" in err
    assert _rows(settings, "SELECT customer_ref FROM calls ORDER BY call_id") == before
    # the warehouse still takes the old key, not the new one
    monkeypatch.setenv("ESPRIT_PSEUDONYM_KEY", KEY_A)
    assert main(["ingest", str(settings.landing / "calls" / "calls_2026-W41.csv"), "--profile", "generator_calls"]) == 0
    # the wrong old key is refused before anything is read
    monkeypatch.setenv("ESPRIT_PSEUDONYM_KEY_OLD", KEY_B)
    monkeypatch.setenv("ESPRIT_PSEUDONYM_KEY", "yet-another-secret-key-7777")
    assert main(["rotate-key"]) == 2
    assert "ESPRIT_PSEUDONYM_KEY_OLD" in capsys.readouterr().err
    # the file found where it is kept: the rotation goes through
    monkeypatch.setenv("ESPRIT_PSEUDONYM_KEY_OLD", KEY_A)
    monkeypatch.setenv("ESPRIT_PSEUDONYM_KEY", KEY_B)
    assert main(["rotate-key", "--search", str(kept), "--no-build"]) == 0
    assert _rows(settings, "SELECT customer_ref FROM survey_responses") == [(pseudonym("C7", _key(KEY_B)),)]


# ---- 3. a case event before its case was opened ------------------------------------------------


@pytest.mark.parametrize("order", [("cases", "events"), ("events", "cases")])
def test_an_event_before_its_case_opened_is_quarantined_in_either_load_order(tmp_path, order):
    """Event 2 of case K1 is dated an hour before the case's opening: quarantined with rule
    event_before_case_opened, whichever file comes first; the tables, the quarantine's lines and
    reasons, and each file's audit counts are the same both ways."""
    from pipelines.config import load_settings

    settings = load_settings(base_dir=tmp_path)
    settings.ingest["max_bad_row_share"] = 1.0  # a three-line file: one bad line is a third
    folder = settings.landing / "complaints"
    files = {
        "cases": _write(
            folder,
            "cases_w41.csv",
            [case_row("K1", opened="2026-10-05T10:00:00+02:00"), case_row("K2", opened="2026-10-05T11:00:00+02:00")],
            CASE_COLS,
        ),
        "events": _write(
            folder,
            "case_events_w41.csv",
            [
                event_row("K1", 1, at="2026-10-05T10:00:00+02:00"),
                event_row("K1", 2, at="2026-10-05T09:00:00+02:00", event_type="assigned", status="in_progress"),
                event_row("K2", 1, at="2026-10-05T11:00:00+02:00"),
            ],
            EVENT_COLS,
        ),
    }
    results = {}
    for name in order:
        (results[name],) = ingest_paths(settings, "complaints", [files[name]])
        _accounted(results[name])
    assert _rows(settings, "SELECT case_id, event_seq FROM case_events ORDER BY ALL") == [("K1", 1), ("K2", 1)]
    ((file, line, reasons),) = _rows(settings, "SELECT source_file, source_line, reasons FROM quarantine")
    assert (file, line) == ("case_events_w41.csv", 3)
    assert reasons == [
        "column event_at: rule event_before_case_opened; value '2026-10-05 07:00:00 UTC' is before "
        "its case's opened_at 2026-10-05 08:00:00 UTC (cases_w41.csv line 2): the event is not loaded. "
        "Check both exports' timestamps and timezones, then esprit reload the file that was wrong"
    ]
    audit = {
        f: (read, loaded, quarantined)
        for f, read, loaded, quarantined in _rows(
            settings, "SELECT file_name, rows_read, rows_loaded, rows_quarantined FROM load_audit"
        )
    }
    assert audit == {"cases_w41.csv": (2, 2, 0), "case_events_w41.csv": (3, 2, 1)}
    assert "2026-W41" in results["cases"].weeks and "2026-W41" in results["events"].weeks
