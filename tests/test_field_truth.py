"""Figures that stay right at the edges of a real operation's data: figures that look ahead in
time are provisional until the data reaches past their window, and a site with fewer feeds
shows "no data" where a feed is absent, never 0."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter, defaultdict
from datetime import UTC, date, timedelta
from pathlib import Path

import pytest

from pipelines.config import load_settings
from pipelines.generate import generate
from pipelines.ingest.load import ingest_source
from pipelines.model.build import build_models
from pipelines.orchestration.run import run_all
from pipelines.report.scorecard import available_weeks, build_tiles, metric_history, previous_week
from pipelines.warehouse import connect
from pipelines.weeks import week_bounds
from tests.truth import truth_journeys

SEED, JOURNEYS = 5, 90


@pytest.fixture(scope="module")
def four_weeks(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("censoring") / "generated"
    generate(landing, weeks=4, seed=SEED, journeys_per_week=JOURNEYS)
    return landing


def _copy_weeks(generated: Path, landing: Path, weeks: list[str]) -> None:
    """The exports of some weeks only: the data's horizon cuts journeys of the last one mid-window."""
    for path in generated.glob("*/*.csv"):
        if path.parent.name != "ground_truth" and any(path.stem.endswith(w) for w in weeks):
            (landing / path.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, landing / path.parent.name / path.name)


def _final_fcr(generated: Path) -> dict[str, tuple[int, int]]:
    """week -> (resolved at first contact, journeys with an answered call), as the simulation ran
    each journey to its end: follow-ups after the data's cut-off included."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for j in truth_journeys(generated):
        if j["first_contact_resolved_final"]:
            counts[j["week"]]["n"] += 1
            counts[j["week"]]["ok"] += j["first_contact_resolved_final"] == "true"
    return {w: (c["ok"], c["n"]) for w, c in counts.items()}


def _fcr(con) -> dict[str, tuple]:
    return {
        w: (num, den, provisional)
        for w, num, den, provisional in con.execute(
            "SELECT week, numerator, denominator, provisional FROM weekly_scorecard "
            "WHERE metric = 'first_contact_resolution' ORDER BY week"
        ).fetchall()
    }


def test_first_contact_resolution_is_provisional_until_the_window_closes_then_final_and_true(four_weeks, tmp_path):
    settings = load_settings(base_dir=tmp_path)
    weeks = sorted({j["week"] for j in truth_journeys(four_weeks)})
    final = _final_fcr(four_weeks)
    _copy_weeks(four_weeks, settings.landing, weeks[:2])
    for source in settings.sources:
        ingest_source(settings, source)
    build_models(settings)
    con = connect(settings.warehouse, read_only=True)
    try:
        before = _fcr(con)
        history, known = metric_history(con), available_weeks(con)
    finally:
        con.close()
    # the second week's last journeys had no time for a follow-up: its figure is not final, and
    # the simulation's own truth says it would have been wrong
    num, den, provisional = before[weeks[1]]
    assert provisional is True
    assert (num, den) != final[weeks[1]]
    tile = next(t for t in build_tiles(settings, history, weeks[1], known) if t.metric == "first_contact_resolution")
    assert (tile.status, tile.significant, tile.provisional) == ("provisional", None, True)
    # within journey_window_days (7) of the week's end
    week_end = week_bounds(weeks[1], settings.week_timezone)[1].date()
    assert week_end <= date.fromisoformat(tile.provisional_until) <= week_end + timedelta(days=7)
    # every figure shown final is the simulation's final truth
    for week, (num, den, provisional) in before.items():
        if not provisional:
            assert (num, den) == final[week], week

    # the next weeks arrive: the second week's window has closed, its figure turns final and true,
    # and the build names it among the weeks to publish again
    _copy_weeks(four_weeks, settings.landing, weeks[2:])
    for source in settings.sources:
        ingest_source(settings, source)
    built = build_models(settings)
    con = connect(settings.warehouse, read_only=True)
    try:
        after = _fcr(con)
    finally:
        con.close()
    assert after[weeks[1]] == (*final[weeks[1]], False)
    assert weeks[1] in built["recomputed_weeks"]
    assert after[weeks[3]][2] is True
    for week, (num, den, provisional) in after.items():
        if not provisional:
            assert (num, den) == final[week], week


def _site(tmp_path: Path, generated: Path, sources: dict) -> object:
    """A deployment whose esprit.yaml configures only some sources, with only their exports."""
    config = tmp_path / "esprit.yaml"
    config.write_text(json.dumps({"sources": sources}), encoding="utf-8")
    settings = load_settings(config_file=config, base_dir=tmp_path)
    for source in sources:
        shutil.copytree(generated / source, settings.landing / source)
    run_all(settings)
    return settings


def _figures(settings, week: str) -> dict[str, dict]:
    con = connect(settings.warehouse, read_only=True)
    try:
        cursor = con.execute("SELECT * FROM weekly_scorecard WHERE week = ?", [week])
        names = [d[0] for d in cursor.description]
        return {r[1]: dict(zip(names, r)) for r in cursor.fetchall()}
    finally:
        con.close()


def test_a_complaint_only_site_shows_no_data_where_the_calls_feed_is_absent(generated, tmp_path):
    settings = _site(
        tmp_path,
        generated,
        {
            "complaints": [
                {"match": "case_events*", "profile": "generator_case_events"},
                {"match": "cases*", "profile": "generator_cases"},
            ]
        },
    )
    week = sorted(json.loads((generated / "ground_truth" / "summary.json").read_text())["weeks"])[0]
    figures = _figures(settings, week)
    for metric in (
        "service_level",
        "abandonment_rate",
        "friction_index_reach",
        "friction_share_reach",
        "friction_index_understand",
        "complaints_per_1000_contacts",
        "first_contact_resolution",
    ):
        assert figures[metric]["value"] is None, metric
        assert figures[metric]["missing_feeds"] == "calls", metric
    assert figures["complaints_opened"]["value"] > 0
    assert figures["friction_index_recover"]["value"] is not None
    assert figures["friction_index_recover"]["missing_feeds"] is None

    page = json.loads((settings.scorecards_dir / week / "scorecard.json").read_text(encoding="utf-8"))
    stages = page["stages"]
    assert stages["reach"]["share"] == "" and stages["reach"]["missing_feeds"] == "calls"
    assert stages["recover"]["share"].endswith("%")
    tiles = page["headline"]
    assert tiles["complaints_per_1000_contacts"]["status"] == "no_data"
    assert tiles["service_level"]["status"] == "no_data"
    # the week is complete: only the configured source is waited for, and only it is listed
    assert page["quality"]["complete"] is True
    assert [s["source"] for s in page["quality"]["sources"]] == ["complaints"]
    html = (settings.scorecards_dir / week / "scorecard.en.html").read_text(encoding="utf-8")
    reach_row = html.split('data-stage="reach"')[1].split("</tr>")[0]
    assert "0.0%" not in reach_row and "no data" in reach_row and "no calls feed configured" in reach_row


def test_a_calls_only_site_has_no_complaint_figures(generated, tmp_path):
    settings = _site(tmp_path, generated, {"calls": [{"match": "*", "profile": "generator_calls"}]})
    week = sorted(json.loads((generated / "ground_truth" / "summary.json").read_text())["weeks"])[0]
    figures = _figures(settings, week)
    for metric in ("complaints_per_1000_contacts", "complaints_opened", "complaints_resolved_within_sla"):
        assert figures[metric]["value"] is None, metric
        assert figures[metric]["numerator"] is None, metric
    assert "friction_index_recover" not in figures  # no journey reached the stage: no row, no 0
    assert figures["complaints_per_1000_contacts"]["missing_feeds"] == "complaints"
    assert figures["service_level"]["value"] is not None
    page = json.loads((settings.scorecards_dir / week / "scorecard.json").read_text(encoding="utf-8"))
    assert page["headline"]["complaints_per_1000_contacts"]["status"] == "no_data"
    assert page["headline"]["nps"]["missing_feeds"] == "surveys"
    # no pulse feed: the symmetry of attention has its teams' calls but "no data" for the pulse
    teams = page["attention"]["teams"]
    assert teams and any(r["journeys_touched"] for r in teams)
    assert {(r["served_status"], r["serving_status"], r["engagement_status"]) for r in teams} == {("no_data",) * 3}
    assert all(r["served_score"] is None and r["serving_score"] is None and r["engagement"] is None for r in teams)


def test_a_change_compares_only_with_a_recent_week():
    weeks = {"1970-W01": {}, "2026-W38": {}, "2026-W40": {}}
    assert previous_week(weeks, "2026-W40", 4) == "2026-W38"
    assert previous_week(weeks, "2026-W40", 1) is None  # two weeks back: no week-on-week change
    assert previous_week({"1970-W01": {}, "2026-W40": {}}, "2026-W40", 4) is None


def test_cases_without_a_history_take_their_resolution_from_the_export(tmp_path):
    """A snapshot export (no case events) says when a case was resolved: the SLA figures use it."""
    from pipelines.contracts import CONTRACTS
    from pipelines.ingest.load import ingest_paths
    from pipelines.ingest.profiles import load_profile

    settings = load_settings(base_dir=tmp_path)
    path = tmp_path / "cases_snapshot.csv"
    columns = CONTRACTS["cases"].column_names
    rows = [  # opened W43; one resolved within 10 days, one after 12, one still open
        {
            "case_id": "S1",
            "customer_ref": "K1",
            "opened_at": "2026-10-20T10:00:00+02:00",
            "channel": "web",
            "category": "billing",
            "resolved_at": "2026-10-23T10:00:00+02:00",
        },
        {
            "case_id": "S2",
            "customer_ref": "K2",
            "opened_at": "2026-10-20T11:00:00+02:00",
            "channel": "web",
            "category": "billing",
            "resolved_at": "2026-11-01T11:00:00+01:00",
        },
        {
            "case_id": "S3",
            "customer_ref": "K3",
            "opened_at": "2026-10-21T11:00:00+02:00",
            "channel": "web",
            "category": "billing",
        },
    ]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    (result,) = ingest_paths(settings, "complaints", [path], load_profile("generator_cases"))
    assert result.status == "loaded" and result.rows_loaded == 3, result.problems
    build_models(settings)
    con = connect(settings.warehouse, read_only=True)
    try:
        within = {
            w: (n, d)
            for w, n, d in con.execute(
                "SELECT week, numerator, denominator FROM weekly_scorecard "
                "WHERE metric = 'complaints_resolved_within_sla'"
            ).fetchall()
        }
    finally:
        con.close()
    assert within["2026-W43"] == (1, 1)  # S1, resolved Friday 23 October
    assert within["2026-W44"] == (0, 1)  # S2, resolved Sunday 1 November, 12 days after opening


def _load_complaints(settings, folder: Path, cases: list[dict], events: list[dict]) -> None:
    """Cases and their events, in the canonical format, through the generator's profiles; every row loads."""
    from pipelines.contracts import CONTRACTS
    from pipelines.ingest.load import ingest_paths
    from pipelines.ingest.profiles import load_profile

    for table, rows, profile in (("cases", cases, "generator_cases"), ("case_events", events, "generator_case_events")):
        path = folder / f"{table}_2026-W43.csv"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=CONTRACTS[table].column_names)
            writer.writeheader()
            writer.writerows(rows)
        (result,) = ingest_paths(settings, "complaints", [path], load_profile(profile))
        assert result.status == "loaded" and result.rows_quarantined == 0, result.problems


def test_complaint_deadlines_follow_priority_and_category(tmp_path):
    """A high-priority complaint has 2 days and 4 hours (a rule), a normal one the defaults (10 days,
    48 hours): both acknowledged after 5 hours and resolved after 3 days."""
    config = tmp_path / "esprit.yaml"
    config.write_text(
        json.dumps(
            {
                "metrics": {
                    "complaint_sla_rules": [
                        {"priority": "high", "sla_days": 2, "ack_hours": 4},
                        {"category": "billing", "sla_days": 1},
                    ]
                }
            }
        )
    )
    settings = load_settings(config_file=config, base_dir=tmp_path)
    opened = "2026-10-20T10:00:00+02:00"
    cases = [
        {
            "case_id": case,
            "customer_ref": f"K{case}",
            "opened_at": opened,
            "channel": "web",
            "category": "technical",
            "priority": priority,
        }
        for case, priority in (("H", "high"), ("N", "normal"))
    ]
    events = [
        row
        for case in ("H", "N")
        for row in (
            {
                "case_id": case,
                "event_seq": 1,
                "event_type": "opened",
                "event_at": opened,
                "team": "reclamations",
                "status": "open",
            },
            {
                "case_id": case,
                "event_seq": 2,
                "event_type": "assigned",
                "event_at": "2026-10-20T15:00:00+02:00",
                "team": "reclamations",
                "status": "in_progress",
            },
            {
                "case_id": case,
                "event_seq": 3,
                "event_type": "resolved",
                "event_at": "2026-10-23T10:00:00+02:00",
                "team": "reclamations",
                "status": "resolved",
            },
        )
    ]
    _load_complaints(settings, tmp_path, cases, events)
    build_models(settings)
    con = connect(settings.warehouse, read_only=True)
    try:
        within = con.execute(
            "SELECT numerator, denominator FROM weekly_scorecard "
            "WHERE metric = 'complaints_resolved_within_sla' AND week = '2026-W43'"
        ).fetchone()
        late = sorted(
            con.execute(
                "SELECT signal, source_ref FROM friction_events WHERE signal LIKE 'complaint_%' ORDER BY ALL"
            ).fetchall()
        )
    finally:
        con.close()
    assert within == (1, 2)  # N within its 10 days; H past its 2
    assert late == [("complaint_acknowledged_beyond_sla", "H"), ("complaint_resolved_beyond_sla", "H")]


def test_no_team_is_an_explicit_state_shown_apart_and_teams_have_names(tmp_path):
    """A case passes through no team (an empty assignment group): both moves are handoffs in the
    failure rate, reported apart from the team pairs; teams are shown by name, accents kept."""
    from pipelines.report.scorecard import render_weeks

    settings = load_settings(base_dir=tmp_path)
    opened = "2026-10-20T10:00:00+02:00"
    cases = [
        {"case_id": "U", "customer_ref": "KU", "opened_at": opened, "channel": "web", "category": "billing"},
        {"case_id": "V", "customer_ref": "KV", "opened_at": opened, "channel": "web", "category": "billing"},
    ]
    events = [
        {"case_id": "U", "event_seq": 1, "event_type": "opened", "event_at": opened, "team": "reclamations"},
        {
            "case_id": "U",
            "event_seq": 2,
            "event_type": "reassigned",
            "event_at": "2026-10-20T11:00:00+02:00",
            "team": "",
        },
        {
            "case_id": "U",
            "event_seq": 3,
            "event_type": "assigned",
            "event_at": "2026-10-20T12:00:00+02:00",
            "team": "facturation",
        },
        {
            "case_id": "U",
            "event_seq": 4,
            "event_type": "resolved",
            "event_at": "2026-10-21T12:00:00+02:00",
            "team": "facturation",
        },
        {"case_id": "V", "event_seq": 1, "event_type": "opened", "event_at": opened, "team": "reclamations"},
        {
            "case_id": "V",
            "event_seq": 2,
            "event_type": "reassigned",
            "event_at": "2026-10-20T11:00:00+02:00",
            "team": "facturation",
        },
        # picked up 26 hours after the handoff: a slow pickup, so the pair is listed with its failure
        {
            "case_id": "V",
            "event_seq": 3,
            "event_type": "resolved",
            "event_at": "2026-10-21T13:00:00+02:00",
            "team": "facturation",
        },
    ]
    for row in events:
        row["status"] = "resolved" if row["event_type"] == "resolved" else "in_progress"
    _load_complaints(settings, tmp_path, cases, events)
    build_models(settings)
    con = connect(settings.warehouse, read_only=True)
    try:
        moves = con.execute("SELECT from_team, to_team FROM handoffs ORDER BY handoff_key").fetchall()
        rate = con.execute(
            "SELECT denominator FROM weekly_scorecard WHERE week = '2026-W43' AND metric = 'handoff_failure_rate'"
        ).fetchone()
    finally:
        con.close()
    assert moves == [("reclamations", "(unassigned)"), ("(unassigned)", "facturation"), ("reclamations", "facturation")]
    assert rate == (3,)
    render_weeks(settings, ["2026-W43"], pdf=False, exports=False)
    for lang, name, apart in (
        ("en", "Complaints", "2 handoffs to or from no team"),
        ("fr", "Réclamations", "2 passages de relais vers ou depuis aucune équipe"),
    ):
        html = (settings.scorecards_dir / "2026-W43" / f"scorecard.{lang}.html").read_text(encoding="utf-8")
        assert apart in html
        assert 'data-pair="reclamations|facturation"' in html and "(unassigned)|" not in html
        assert "|(unassigned)" not in html and 'data-team="(unassigned)"' not in html
        assert f"<td>{name}</td>" in html


def test_implausible_times_are_quarantined_with_their_rule(tmp_path):
    """A 1970 default date and a date next year are typos, not history: quarantined with the rule,
    the column and what to check; a site loading an older archive moves the window."""
    from datetime import datetime, timedelta

    from pipelines.contracts import CONTRACTS
    from pipelines.ingest.load import ingest_paths
    from pipelines.ingest.profiles import load_profile

    next_year = (datetime.now(UTC) + timedelta(days=400)).strftime("%Y-%m-%dT10:00:00+00:00")
    soon = (datetime.now(UTC) + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    rows = [
        {"response_id": rid, "customer_ref": "K", "responded_at": at, "nps": "9"}
        for rid, at in (
            ("R1", "1970-01-01T00:00:00+00:00"),
            ("R2", next_year),
            ("R3", "2026-10-20T10:00:00+02:00"),
            ("R4", soon),
            ("R5", "1999-12-31T23:59:59+00:00"),
            ("R6", "2000-01-01T00:00:00+00:00"),
        )
    ]
    settings = load_settings(base_dir=tmp_path)
    profile = load_profile("generator_survey_responses")
    many = tmp_path / "many.csv"
    with open(many, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CONTRACTS["survey_responses"].column_names)
        writer.writeheader()
        writer.writerows(rows)
        writer.writerows(
            {"response_id": f"G{i}", "customer_ref": "K", "responded_at": "2026-10-20T10:00:00+02:00", "nps": "8"}
            for i in range(100)
        )
    (result,) = ingest_paths(settings, "surveys", [many], profile)
    assert result.status == "loaded", result.problems
    assert (result.rows_read, result.rows_quarantined) == (106, 3)
    con = connect(settings.warehouse, read_only=True)
    try:
        reasons = dict(con.execute("SELECT source_line, reasons FROM quarantine ORDER BY 1").fetchall())
    finally:
        con.close()
    assert sorted(reasons) == [2, 3, 6]  # 1970, next year, the last second of 1999
    assert all(
        any("column responded_at: rule plausible_time" in r and "check the date" in r for r in rs)
        for rs in reasons.values()
    )
    assert "1970-01-01 00:00:00 UTC is outside 2000-01-01" in reasons[2][0]

    # an archive site moves the window back: 1999 loads
    archive = tmp_path / "archive"
    (archive / "esprit.yaml").parent.mkdir()
    (archive / "esprit.yaml").write_text('ingest: {plausible_from: "1990-01-01"}\n')
    (result,) = ingest_paths(load_settings(archive / "esprit.yaml", base_dir=archive), "surveys", [many], profile)
    assert result.rows_quarantined == 2


@pytest.mark.parametrize("scope, journeys", [("auto", 3), ("case", 3), ("customer", 1)])
def test_a_case_only_site_makes_each_case_a_journey(tmp_path, scope, journeys):
    """One caller, three incidents within a week: on a complaint-only site (journey_scope auto)
    each case is a journey, not one journey of every incident; incremental builds agree with a
    full rebuild."""
    from tests.test_reliability import warehouse_hashes

    config = tmp_path / "esprit.yaml"
    config.write_text(
        json.dumps(
            {
                "metrics": {"journey_scope": scope},
                "sources": {
                    "complaints": [
                        {"match": "case_events*", "profile": "generator_case_events"},
                        {"match": "cases*", "profile": "generator_cases"},
                    ]
                },
            }
        )
    )
    settings = load_settings(config_file=config, base_dir=tmp_path)
    days = ("2026-10-19T09:00:00+02:00", "2026-10-21T09:00:00+02:00", "2026-10-23T09:00:00+02:00")
    cases = [
        {"case_id": f"I{i}", "customer_ref": "CALLER", "opened_at": at, "channel": "phone", "category": "technical"}
        for i, at in enumerate(days)
    ]
    events = [
        {
            "case_id": f"I{i}",
            "event_seq": 1,
            "event_type": "opened",
            "event_at": at,
            "team": "reclamations",
            "status": "open",
        }
        for i, at in enumerate(days)
    ]
    _load_complaints(settings, tmp_path, cases[:2], events[:2])
    build_models(settings)
    (tmp_path / "later").mkdir()
    _load_complaints(settings, tmp_path / "later", cases[2:], events[2:])
    assert not build_models(settings)["full"]
    incremental = warehouse_hashes(settings.warehouse)
    build_models(settings, full=True)
    assert warehouse_hashes(settings.warehouse) == incremental
    con = connect(settings.warehouse, read_only=True)
    try:
        found = con.execute("SELECT count(DISTINCT journey_id) FROM journey_contacts WHERE contact_type = 'case'")
        assert found.fetchone()[0] == journeys
    finally:
        con.close()
