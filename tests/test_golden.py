"""Hand-worked golden cases: a tiny service week whose every expected figure is worked out by
hand in the comments, including a short abandon, a Sunday-midnight week boundary on the day
summer time ends (25 October 2026), a journey spanning two weeks, a reopened complaint and a
week whose denominators are zero."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.config import load_settings
from pipelines.contracts import CONTRACTS
from pipelines.ingest.load import ingest_paths
from pipelines.ingest.profiles import load_profile, parse_profile
from pipelines.model.build import build_models, parameter_set
from pipelines.warehouse import connect
from tests.conftest import copy_prebuilt, models_sql_dir
from tests.test_pulse import PULSE_COLUMNS

CALLS = [
    # C1, Monday 19 Oct (W43): 10 s wait, 300 s handled at accueil, warm transfer; 60 s wait, 240 s at facturation
    (
        "A",
        1,
        "C1",
        "accueil",
        "2026-10-19T09:00:00+02:00",
        "2026-10-19T09:00:10+02:00",
        "2026-10-19T09:05:10+02:00",
        "answered",
        "warm",
    ),
    (
        "A",
        2,
        "C1",
        "facturation",
        "2026-10-19T09:05:10+02:00",
        "2026-10-19T09:06:10+02:00",
        "2026-10-19T09:10:10+02:00",
        "answered",
        "none",
    ),
    # C2, Sunday 25 Oct 23:59:50 CET (still W43): hangs up after 3 s, a short abandon
    ("B", 1, "C2", "accueil", "2026-10-25T23:59:50+01:00", "", "2026-10-25T23:59:53+01:00", "abandoned", "none"),
    # C2 again 40 s later, Monday 26 Oct (W44): 30 s wait, 120 s handled; same journey, started in W43
    (
        "C",
        1,
        "C2",
        "accueil",
        "2026-10-26T00:00:30+01:00",
        "2026-10-26T00:01:00+01:00",
        "2026-10-26T00:03:00+01:00",
        "answered",
        "none",
    ),
    # C3, Saturday 24 Oct (W43): abandons after 40 s, calls back and is answered after 5 s, 100 s handled
    ("D", 1, "C3", "accueil", "2026-10-24T10:00:00+02:00", "", "2026-10-24T10:00:40+02:00", "abandoned", "none"),
    (
        "E",
        1,
        "C3",
        "accueil",
        "2026-10-24T10:30:00+02:00",
        "2026-10-24T10:30:05+02:00",
        "2026-10-24T10:31:45+02:00",
        "answered",
        "none",
    ),
]
SURVEYS = [
    # id, customer, rated type, rated ref, responded, nps, csat, ces, resolved, had to repeat
    ("R1", "C1", "call", "A", "2026-10-20T10:00:00+02:00", "10", "5", "7", "true", "true"),  # W43
    ("R2", "C3", "call", "E", "2026-10-26T09:00:00+01:00", "6", "3", "4", "false", "false"),  # W44
    ("R3", "C2", "call", "C", "2026-10-27T09:00:00+01:00", "9", "4", "5", "true", "false"),  # W44
    ("R4", "C4", "case", "CASE1", "2026-11-02T09:00:00+01:00", "", "", "", "", ""),  # W45: no scores at all
]
CASES = [("CASE1", "C4", "2026-10-20T10:00:00+02:00", "web", "billing", "", "normal")]  # W43, a direct complaint
CASE_EVENTS = [
    ("CASE1", 1, "opened", "2026-10-20T10:00:00+02:00", "reclamations", "open"),
    ("CASE1", 2, "reassigned", "2026-10-21T10:00:00+02:00", "facturation", "in_progress"),
    ("CASE1", 3, "resolved", "2026-10-23T10:00:00+02:00", "facturation", "resolved"),  # 3 days after opening
    ("CASE1", 4, "reopened", "2026-10-26T10:00:00+01:00", "facturation", "open"),
    ("CASE1", 5, "resolved", "2026-11-05T10:00:00+01:00", "facturation", "resolved"),
    ("CASE1", 6, "closed", "2026-11-06T10:00:00+01:00", "facturation", "closed"),
]


FIELDS = {
    "calls": [
        "call_id",
        "segment_no",
        "customer_ref",
        "team",
        "offered_at",
        "answered_at",
        "ended_at",
        "outcome",
        "transfer_type",
        "hold_seconds",
        "agent_id",  # "A1" where an answered segment leaves it out, "-": none recorded
    ],
    "survey_responses": [
        "response_id",
        "customer_ref",
        "interaction_type",
        "interaction_ref",
        "responded_at",
        "nps",
        "csat",
        "ces",
        "resolved",
        "had_to_repeat",
        "verbatim",  # left out by the tuples above: no verbatim
    ],
    "cases": ["case_id", "customer_ref", "opened_at", "channel", "category", "origin_ref", "priority", "resolved_at"],
    "case_events": ["case_id", "event_seq", "event_type", "event_at", "team", "status", "agent_id"],
    "internal_pulse": list(PULSE_COLUMNS),
}


def _rows(table, tuples):
    cols = CONTRACTS[table].column_names
    rows = [dict({c: "" for c in cols}, **dict(zip(FIELDS[table], t))) for t in tuples]
    for row in rows:  # what the tables above leave out: each team has its own queue; language fr
        if table == "calls":
            row.update(
                queue=f"Q_{row['team'].upper()}",
                agent_id="" if row["agent_id"] == "-" else row["agent_id"] or ("A1" if row["answered_at"] else ""),
                hold_seconds=row["hold_seconds"] or "0",
                wrap_code="w",
            )
        elif table == "survey_responses":
            row["language"] = "fr"
    return rows


def load_files(settings, name, files):
    """Ingest {table: [tuple in FIELDS order]} as one canonical CSV file per table, named <table>_<name>."""
    folder = settings.landing / "golden"
    folder.mkdir(parents=True, exist_ok=True)
    for table, tuples in files.items():
        rows = _rows(table, tuples)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CONTRACTS[table].column_names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        path = folder / f"{table}_{name}.csv"
        path.write_text(out.getvalue(), encoding="utf-8")
        (result,) = ingest_paths(settings, "golden", [path], load_profile(f"generator_{table}"))
        # a row a file loaded earlier holds in a later version (a correction) counts as a duplicate
        assert result.status == "loaded" and result.rows_loaded + result.rows_duplicate == len(rows), result.problems


def scorecard(settings):
    """(week, metric) -> (numerator, denominator, value, ci_low, ci_high), and each handoff's reasons."""
    con = connect(settings.warehouse, read_only=True)
    rows = con.execute(
        "SELECT week, metric, numerator, denominator, value, ci_low, ci_high FROM weekly_scorecard"
    ).fetchall()
    handoffs = {
        k: (w, sorted(r))
        for k, w, r in con.execute("SELECT handoff_key, week, failure_reasons FROM handoffs").fetchall()
    }
    con.close()
    return {(w, m): (n, d, v, lo, hi) for w, m, n, d, v, lo, hi in rows}, handoffs


def load_golden(settings):
    load_files(
        settings, "golden", {"calls": CALLS, "survey_responses": SURVEYS, "cases": CASES, "case_events": CASE_EVENTS}
    )


# ---- team_attention_link on a hand-made weekly_team_attention -----------------------------------
# pulse.link_weeks 3 and pulse.min_team_weeks 5. Team-weeks with both figures (nps): W01 3, W02 1,
# W03 2 (C has no served score), W04 2, W05 1; so the windows of W01-W05 hold 3, 4, 6, 5, 5. The
# friction share is the same everywhere (no spread: no correlation); C's of W01 is missing.
LINK_WEEKS, LINK_MIN_TEAM_WEEKS = 3, 5
LINK_POINTS = [  # week, team, served_score, nps, friction_share
    ("2026-W01", "A", 2.0, 10.0, 0.5),
    ("2026-W01", "B", 3.0, 30.0, 0.5),
    ("2026-W01", "C", 1.0, -20.0, None),
    ("2026-W02", "A", 4.0, 20.0, 0.5),
    ("2026-W03", "A", 5.0, 60.0, 0.5),
    ("2026-W03", "B", 3.0, 20.0, 0.5),
    ("2026-W03", "C", None, 50.0, 0.5),
    ("2026-W04", "A", 2.0, 0.0, 0.5),
    ("2026-W04", "B", 4.0, 45.0, 0.5),
    ("2026-W05", "A", 3.0, 25.0, 0.5),
]


def _expected_link(week_no: int):
    """The nps row of week W0<week_no>, from Python's statistics over the window's points."""
    import math
    import statistics

    points = [
        (s, n) for w, _, s, n, _ in LINK_POINTS if week_no - LINK_WEEKS < int(w[-2:]) <= week_no and s is not None
    ]
    if len(points) < 4:
        return (f"2026-W0{week_no}", "nps", len(points), None, None, None, None, "no_data")
    xs, ys = zip(*points, strict=True)
    r = statistics.correlation(xs, ys)
    margin = 1.959964 / math.sqrt(len(points) - 3)
    return (
        f"2026-W0{week_no}",
        "nps",
        len(points),
        pytest.approx(r),
        pytest.approx(math.tanh(math.atanh(r) - margin)),
        pytest.approx(math.tanh(math.atanh(r) + margin)),
        pytest.approx(statistics.linear_regression(xs, ys).slope),
        "provisional" if len(points) < LINK_MIN_TEAM_WEEKS else "final",
    )


def test_team_attention_link_over_its_window_of_weeks():
    import duckdb

    (model,) = models_sql_dir().glob("*/team_attention_link.sql")
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE weekly_team_attention (week VARCHAR, team VARCHAR, served_score DOUBLE, nps DOUBLE, "
        "friction_share DOUBLE)"
    )
    con.executemany("INSERT INTO weekly_team_attention VALUES (?, ?, ?, ?, ?)", LINK_POINTS)
    con.execute(f"SET VARIABLE pulse_link_weeks = {LINK_WEEKS}")
    con.execute(f"SET VARIABLE pulse_min_team_weeks = {LINK_MIN_TEAM_WEEKS}")
    rows = con.execute(f"SELECT * FROM ({model.read_text(encoding='utf-8')}) ORDER BY outcome, week").fetchall()
    con.close()
    # windows of 3, 4, 6, 5, 5: none below 4 has a correlation; 4 is provisional, 5 final
    assert [r[2] for r in rows if r[1] == "nps"] == [3, 4, 6, 5, 5]
    assert [r for r in rows if r[1] == "nps"] == [_expected_link(n) for n in range(1, 6)]
    # the friction share has no spread: no correlation, whatever the count (C's missing one of W01
    # left out, and C's of W03, which has no served score)
    assert [r for r in rows if r[1] == "friction_share"] == [
        (f"2026-W0{n}", "friction_share", count, None, None, None, None, "no_data")
        for n, count in zip(range(1, 6), [2, 3, 5, 5, 5], strict=True)
    ]


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    home = tmp_path_factory.mktemp("golden")
    settings = load_settings(base_dir=home)
    if not copy_prebuilt("golden", home):  # the mutation gate ingested these files once
        load_golden(settings)
    build_models(settings, sql_dir=models_sql_dir())
    return settings


@pytest.fixture(scope="module")
def figures(golden):
    return scorecard(golden)


def value(figures, week, metric):
    return figures[0][(week, metric)][2]


def num_den(figures, week, metric):
    return figures[0][(week, metric)][:2]


def test_calls_week_by_week(figures):
    # W43 offered A, B, D, E; B (3 s) and D (40 s) abandoned
    assert num_den(figures, "2026-W43", "abandonment_rate") == (2, 4)
    # service level leaves out B, the short abandon: A (10 s) and E (5 s) within 20 s, of 4 - 1
    assert num_den(figures, "2026-W43", "service_level") == (2, 3)
    # speed of answer of A and E: (10 + 5) / 2; handle time of A (300 + 240) and E (100): 640 / 2
    assert value(figures, "2026-W43", "average_speed_of_answer") == 7.5
    assert value(figures, "2026-W43", "average_handle_time") == 320
    assert num_den(figures, "2026-W43", "transfer_rate") == (1, 2)
    # W44: C alone, answered after 30 s: outside the service level
    assert num_den(figures, "2026-W44", "service_level") == (0, 1)
    assert value(figures, "2026-W44", "average_speed_of_answer") == 30


def test_journeys_friction_and_first_contact_resolution(figures):
    # four journeys, all started in W43: C1 {A}, C2 {B, C} spans W43-W44, C3 {D, E}, C4 {CASE1}
    assert value(figures, "2026-W43", "journeys") == 4
    assert ("2026-W44", "journeys") not in figures[0] or value(figures, "2026-W44", "journeys") == 0
    # reach: C2 and C3 abandoned once, then reached an agent at their second attempt (several attempts)
    assert num_den(figures, "2026-W43", "friction_share_reach") == (2, 4)
    assert value(figures, "2026-W43", "friction_share_reach") == 50  # a percentage, as the page shows it
    assert value(figures, "2026-W43", "friction_index_reach") == 100  # 100 * (2 * 1.0 + 2 * 1.0) / 4
    # understand (reached by all four): C1 transferred (0.5) and said it had to repeat (1.0)
    assert num_den(figures, "2026-W43", "friction_share_understand") == (1, 4)
    assert value(figures, "2026-W43", "friction_index_understand") == 37.5  # 100 * 1.5 / 4
    # resolve: C3 said not resolved (1.0), C4's case was reopened (1.0)
    assert num_den(figures, "2026-W43", "friction_share_resolve") == (2, 4)
    assert value(figures, "2026-W43", "friction_index_resolve") == 50
    # recover: reached by C4 only, whose complaint was made directly (not an escalation), acknowledged
    # (reassigned) 24 h after opening, within 48 h, and first resolved in 3 days: no friction
    assert num_den(figures, "2026-W43", "friction_share_recover") == (0, 1)
    # first-contact resolution: C1, C2, C3 had a call answered and no contact after it
    assert num_den(figures, "2026-W43", "first_contact_resolution") == (3, 3)


def test_handoffs_and_their_failures(figures):
    _, handoffs = figures
    assert handoffs == {
        "call:A:2": ("2026-W43", ["repeat_info"]),  # R1 says C1 had to repeat
        # facturation resolved it, then it was reopened; its next event came 48 h after it received
        # the case (21 Oct 10:00 -> 23 Oct 10:00), beyond its 24 h pickup SLA
        "case:CASE1:2": ("2026-W43", ["reopened", "slow_pickup"]),
    }
    assert num_den(figures, "2026-W43", "handoff_failure_rate") == (2, 2)


def test_surveys_with_intervals_and_zero_denominators(figures):
    # R1, one promoter: NPS 100; the variance p + d - (p - d)^2 = 1 + 0 - 1 is 0: the interval is 100 to 100
    assert figures[0][("2026-W43", "nps")] == (1, 1, 100, 100, 100)
    # CSAT 1 of 1: Wilson (1 + 1.9208 -+ 1.96 * sqrt(0 + 0.9604)) / 4.8416 = 1 / 4.8416 and 1
    n, d, v, lo, hi = figures[0][("2026-W43", "csat")]
    assert (n, d, v, round(lo, 2), hi) == (1, 1, 100, 20.65, 100)
    # W44: R2 detractor (6), R3 promoter (9): NPS 0; the interval is clamped to the scale
    n, d, v, lo, hi = figures[0][("2026-W44", "nps")]
    assert (n, d, v, lo, hi) == (0, 2, 0, -100, 100)
    # CSAT 4-5: R3 of R2, R3; Wilson interval for 1 of 2: 0.5 +- 1.96 * sqrt(0.125 + 0.2401) / 2.9208
    n, d, v, lo, hi = figures[0][("2026-W44", "csat")]
    assert (n, d, v) == (1, 2, 50)
    assert (round(lo, 2), round(hi, 2)) == (9.45, 90.55)
    assert value(figures, "2026-W44", "ces") == 4.5
    assert num_den(figures, "2026-W44", "ces_easy") == (1, 2)
    # W45: one response and no score: every survey rate has a zero denominator and no value
    assert figures[0][("2026-W45", "nps")] == (0, 0, None, None, None)
    assert figures[0][("2026-W45", "csat")] == (0, 0, None, None, None)
    # no call that week: no call counted, a count of 0 (not missing)
    assert figures[0][("2026-W45", "calls_offered")][:3] == (0, None, 0)


def test_nps_distribution_counts_each_score_of_its_own_week(golden):
    con = connect(golden.warehouse, read_only=True)
    rows = con.execute("SELECT week, score, responses FROM weekly_nps_distribution").fetchall()
    con.close()
    # every week with a response has the eleven scores 0-10, each counted in its own week only:
    # R1's 10 in W43, R2's 6 and R3's 9 in W44, and R4 in W45 with no score at all
    scored = {("2026-W43", 10): 1, ("2026-W44", 6): 1, ("2026-W44", 9): 1}
    expected = {(w, s): scored.get((w, s), 0) for w in ("2026-W43", "2026-W44", "2026-W45") for s in range(11)}
    assert len(rows) == 33 and {(w, s): n for w, s, n in rows} == expected


def test_complaints(figures):
    # CASE1 opened in W43 among 4 calls + 1 case: 200 per 1,000 contacts
    assert num_den(figures, "2026-W43", "complaints_per_1000_contacts") == (1000, 5)
    # first resolved 3 days after opening (both in summer time: exactly 72 hours), within the 10-day SLA
    assert num_den(figures, "2026-W43", "complaints_resolved_within_sla") == (1, 1)
    assert value(figures, "2026-W43", "complaint_resolution_days_median") == 3
    assert value(figures, "2026-W43", "complaint_resolution_days_p90") == 3
    assert num_den(figures, "2026-W43", "complaint_resolution_days_median") == (None, 1)  # a value, no numerator
    assert num_den(figures, "2026-W43", "complaint_reopen_rate") == (1, 1)


# ---- both daylight-saving changes of 2026, and the newer signals, worked by hand ---------------
# Europe/Paris: on Sunday 29 March 02:00 CET the clocks jump to 03:00 CEST; on Sunday 25 October
# 03:00 CEST they fall back to 02:00 CET. Every duration below is elapsed time (a day is 24 h).
DST_CALLS = [
    # S1, spring: offered 01:59:50 CET, answered 03:00:10 CEST: 20 s of waiting (not 1 h 00 min 20 s),
    # 300 s handled, warm transfer to technique, where it waits 180 s (> its 120 s pickup SLA), 120 s handled
    (
        "S1A",
        1,
        "S1",
        "accueil",
        "2026-03-29T01:59:50+01:00",
        "2026-03-29T03:00:10+02:00",
        "2026-03-29T03:05:10+02:00",
        "answered",
        "warm",
    ),
    (
        "S1A",
        2,
        "S1",
        "technique",
        "2026-03-29T03:05:10+02:00",
        "2026-03-29T03:08:10+02:00",
        "2026-03-29T03:10:10+02:00",
        "answered",
        "none",
    ),
    # S1 calls back on Friday 3 April (W14) at 02:30 CEST: 4 d 23 h 30 min 10 s after the journey started
    # (within the 5-day resolution SLA, though 5 calendar days later on the wall clock), 10 s wait
    (
        "S1B",
        1,
        "S1",
        "accueil",
        "2026-04-03T02:30:00+02:00",
        "2026-04-03T02:30:10+02:00",
        "2026-04-03T02:31:10+02:00",
        "answered",
        "none",
    ),
    # S2, autumn: offered 02:59:50 CEST, hangs up at 02:00:02 CET, 12 s later (not a short abandon) ...
    ("S2A", 1, "S2", "accueil", "2026-10-25T02:59:50+02:00", "", "2026-10-25T02:00:02+01:00", "abandoned", "none"),
    # ... and calls again at 02:10 CET, after S2A though earlier on the wall clock: a second attempt
    (
        "S2B",
        1,
        "S2",
        "accueil",
        "2026-10-25T02:10:00+01:00",
        "2026-10-25T02:10:15+01:00",
        "2026-10-25T02:11:15+01:00",
        "answered",
        "none",
    ),
]
DST_CASES = [
    ("CASE2", "S2", "2026-10-25T09:00:00+01:00", "phone", "billing", "S2B", "normal"),  # escalated from S2B
    ("CASE3", "S3", "2026-10-24T09:30:00+02:00", "web", "information", "", "normal"),  # made directly
]
DST_CASE_EVENTS = [
    ("CASE2", 1, "opened", "2026-10-25T09:00:00+01:00", "reclamations", "open"),
    ("CASE2", 2, "assigned", "2026-10-27T10:00:00+01:00", "reclamations", "in_progress"),  # 49 h: beyond 48 h
    ("CASE2", 3, "reassigned", "2026-10-28T10:00:00+01:00", "facturation", "in_progress"),
    ("CASE2", 4, "assigned", "2026-10-29T09:00:00+01:00", "facturation", "in_progress"),  # 23 h: within 24 h
    # first resolved 5 d 1 h after the journey's first call (S2A, 25 Oct 00:59:50 UTC): beyond 5 days
    ("CASE2", 5, "resolved", "2026-10-30T10:00:00+01:00", "facturation", "resolved"),
    ("CASE3", 1, "opened", "2026-10-24T09:30:00+02:00", "reclamations", "open"),
    # 48 h 30 min after opening across the autumn change (47 h 30 min on the wall clock): beyond 48 h
    ("CASE3", 2, "assigned", "2026-10-26T09:00:00+01:00", "reclamations", "in_progress"),
    ("CASE3", 3, "resolved", "2026-10-27T09:00:00+01:00", "reclamations", "resolved"),
]
DST_SURVEYS = [("R9", "S3", "case", "CASE3", "2026-10-28T12:00:00+01:00", "8", "4", "6", "true", "false")]


# ---- W20 (11-17 May 2026, CEST): a call and a case that share the id X2, journeys cut at exactly ---
# journey_window_days (7 d) and one second beyond it, and queue segments at each rate's edge.
MAY_CALLS = [
    ("X1", 1, "V1", "technique", "2026-05-11T09:00:00+02:00", "", "2026-05-11T09:00:03+02:00", "abandoned", "none"),
    # X2: abandoned at accueil after 30 s, then offered to facturation (overflow), answered in 10 s,
    # 300 s handled, 200 s of them on hold: a long hold (above 120 s)
    ("X2", 1, "V2", "accueil", "2026-05-11T10:00:00+02:00", "", "2026-05-11T10:00:30+02:00", "abandoned", "none"),
    (
        "X2",
        2,
        "V2",
        "facturation",
        "2026-05-11T10:00:30+02:00",
        "2026-05-11T10:00:40+02:00",
        "2026-05-11T10:05:40+02:00",
        "answered",
        "none",
        "200",
    ),
    # X3: answered in 10 s (100 s handled), passed on within accueil, answered in 10 s (50 s handled)
    (
        "X3",
        1,
        "V3",
        "accueil",
        "2026-05-11T11:00:00+02:00",
        "2026-05-11T11:00:10+02:00",
        "2026-05-11T11:01:50+02:00",
        "answered",
        "warm",
    ),
    (
        "X3",
        2,
        "V3",
        "accueil",
        "2026-05-11T11:01:50+02:00",
        "2026-05-11T11:02:00+02:00",
        "2026-05-11T11:02:50+02:00",
        "answered",
        "none",
    ),
    # X4: answered in 1 s, over 2 s later: 3 s in all, shorter than a short abandon, yet answered
    (
        "X4",
        1,
        "V4",
        "accueil",
        "2026-05-11T12:00:00+02:00",
        "2026-05-11T12:00:01+02:00",
        "2026-05-11T12:00:03+02:00",
        "answered",
        "none",
    ),
    (
        "X7",
        1,
        "V8",
        "accueil",
        "2026-05-11T13:00:00+02:00",
        "2026-05-11T13:00:05+02:00",
        "2026-05-11T13:01:05+02:00",
        "answered",
        "none",
    ),
    # X8: abandoned at accueil after 20 s, offered to facturation, abandoned there after 15 s
    ("X8", 1, "V9", "accueil", "2026-05-11T15:00:00+02:00", "", "2026-05-11T15:00:20+02:00", "abandoned", "none"),
    ("X8", 2, "V9", "facturation", "2026-05-11T15:00:20+02:00", "", "2026-05-11T15:00:35+02:00", "abandoned", "none"),
    # W21: X5 exactly 7 days after X3 (same journey), X6 7 days and 1 second after X4 (a new one);
    # Y1 exactly 7 days after X2's transfer (a recontact), Y2 7 days and 1 second after X8's (none)
    (
        "X5",
        1,
        "V3",
        "accueil",
        "2026-05-18T11:00:00+02:00",
        "2026-05-18T11:00:05+02:00",
        "2026-05-18T11:01:05+02:00",
        "answered",
        "none",
    ),
    (
        "X6",
        1,
        "V4",
        "accueil",
        "2026-05-18T12:00:01+02:00",
        "2026-05-18T12:00:06+02:00",
        "2026-05-18T12:01:06+02:00",
        "answered",
        "none",
    ),
]
MAY_CALLS += [  # each answered in 5 s, 60 s handled
    (
        "Y1",
        1,
        "V2",
        "accueil",
        "2026-05-18T10:00:30+02:00",
        "2026-05-18T10:00:35+02:00",
        "2026-05-18T10:01:35+02:00",
        "answered",
        "none",
    ),
    (
        "Y2",
        1,
        "V9",
        "accueil",
        "2026-05-18T15:00:21+02:00",
        "2026-05-18T15:00:26+02:00",
        "2026-05-18T15:01:26+02:00",
        "answered",
        "none",
    ),
    # Z1 is escalated from Y3; Y4 comes exactly 5 days after Y3, within 7 days of each of Z1's handoffs
    (
        "Y3",
        1,
        "V10",
        "accueil",
        "2026-05-18T09:00:00+02:00",
        "2026-05-18T09:00:05+02:00",
        "2026-05-18T09:01:05+02:00",
        "answered",
        "none",
    ),
    (
        "Y4",
        1,
        "V10",
        "accueil",
        "2026-05-23T09:00:00+02:00",
        "2026-05-23T09:00:05+02:00",
        "2026-05-23T09:01:05+02:00",
        "answered",
        "none",
    ),
    # Z2, a call with a reopened case's id, transferred to technique at 14:31:05, after the case's
    # handoff to technique (14:00) and before technique resolved the case (16:00): the case's
    # reopening blames the case's handoff, not the call's transfer
    (
        "Z2",
        1,
        "V12",
        "accueil",
        "2026-05-19T14:30:00+02:00",
        "2026-05-19T14:30:05+02:00",
        "2026-05-19T14:31:05+02:00",
        "answered",
        "warm",
    ),
    (
        "Z2",
        2,
        "V12",
        "technique",
        "2026-05-19T14:31:05+02:00",
        "2026-05-19T14:31:10+02:00",
        "2026-05-19T14:32:10+02:00",
        "answered",
        "none",
    ),
    # W22: abandoned segments with an answer time (the contract admits one: a caller who hangs up
    # once picked up). AB1 picked up after 130 s, 200 s on hold: neither a long wait nor a long hold,
    # which count answered segments only; AB2 picked up in 10 s: not answered within 20 s
    (
        "AB1",
        1,
        "V13",
        "accueil",
        "2026-05-26T10:00:00+02:00",
        "2026-05-26T10:02:10+02:00",
        "2026-05-26T10:06:00+02:00",
        "abandoned",
        "none",
        "200",
    ),
    (
        "AB2",
        1,
        "V14",
        "accueil",
        "2026-05-26T11:00:00+02:00",
        "2026-05-26T11:00:10+02:00",
        "2026-05-26T11:00:40+02:00",
        "abandoned",
        "none",
    ),
]
MAY_CASES = [
    ("X2", "V5", "2026-05-12T10:00:00+02:00", "web", "billing", "", "normal"),  # made directly; its id is a call's
    ("E2", "V2", "2026-05-11T11:00:00+02:00", "phone", "billing", "X2", "normal"),  # escalated from call X2
    ("E3", "V8", "2026-05-11T14:00:00+02:00", "phone", "information", "X7", "normal"),  # from X7, same team
    ("Z1", "V10", "2026-05-18T10:00:00+02:00", "phone", "information", "Y3", "normal"),  # from Y3 (accueil)
    ("Z2", "V11", "2026-05-19T09:00:00+02:00", "web", "information", "", "normal"),
]
MAY_CASE_EVENTS = [
    ("X2", 1, "opened", "2026-05-12T10:00:00+02:00", "reclamations", "open"),
    # no acknowledgement by the 48 h deadline; the first event after it is the one 1 s beyond
    ("X2", 2, "status_changed", "2026-05-14T10:00:00+02:00", "reclamations", "pending_customer"),
    ("X2", 3, "status_changed", "2026-05-14T10:00:01+02:00", "reclamations", "pending_customer"),
    ("X2", 4, "assigned", "2026-05-15T10:00:00+02:00", "reclamations", "in_progress"),  # 72 h: beyond 48 h
    # 4 d and 1 s after opening, within 10 d; 5 d and 1 s after the call X2's journey started
    ("X2", 5, "resolved", "2026-05-16T10:00:01+02:00", "reclamations", "resolved"),
    ("X2", 6, "reopened", "2026-05-18T10:00:00+02:00", "reclamations", "open"),
    ("X2", 7, "reassigned", "2026-05-18T11:00:00+02:00", "facturation", "in_progress"),
    ("X2", 8, "resolved", "2026-05-19T07:00:00+02:00", "facturation", "resolved"),  # picked up in 20 h of 24
    ("E2", 1, "opened", "2026-05-11T11:00:00+02:00", "reclamations", "open"),
    ("E2", 2, "resolved", "2026-05-12T11:00:00+02:00", "reclamations", "resolved"),
    ("E3", 1, "opened", "2026-05-11T14:00:00+02:00", "accueil", "open"),
    ("E3", 2, "assigned", "2026-05-11T15:00:00+02:00", "accueil", "in_progress"),
    ("E3", 3, "resolved", "2026-05-16T13:00:01+02:00", "accueil", "resolved"),  # 5 d and 1 s after X7 started
    # Z1: resolved by facturation, which took it at that very moment; reopened, passed to technique,
    # resolved there, then closed by reclamations (a handoff back) and reopened again
    ("Z1", 1, "opened", "2026-05-18T10:00:00+02:00", "reclamations", "open"),
    ("Z1", 2, "resolved", "2026-05-18T15:00:00+02:00", "facturation", "resolved"),
    ("Z1", 3, "reopened", "2026-05-19T10:00:00+02:00", "facturation", "open"),
    ("Z1", 4, "reassigned", "2026-05-19T11:00:00+02:00", "technique", "in_progress"),
    ("Z1", 5, "resolved", "2026-05-19T15:00:00+02:00", "technique", "resolved"),
    ("Z1", 6, "closed", "2026-05-19T16:00:00+02:00", "reclamations", "closed"),
    ("Z1", 7, "reopened", "2026-05-20T10:00:00+02:00", "reclamations", "open"),
    # Z2: resolved by facturation, moved to technique and resolved again there, then reopened
    ("Z2", 1, "opened", "2026-05-19T09:00:00+02:00", "reclamations", "open"),
    ("Z2", 2, "resolved", "2026-05-19T12:00:00+02:00", "facturation", "resolved"),
    ("Z2", 3, "reassigned", "2026-05-19T14:00:00+02:00", "technique", "in_progress"),
    ("Z2", 4, "resolved", "2026-05-19T16:00:00+02:00", "technique", "resolved"),
    ("Z2", 5, "reopened", "2026-05-20T09:00:00+02:00", "technique", "open"),
]
MAY_SURVEYS = [
    # rates case X2 (not call X2); says it had to repeat and was not resolved
    ("X2", "V5", "case", "X2", "2026-05-20T12:00:00+02:00", "3", "2", "3", "false", "true"),
    # no reference: placed by customer and time. W1 exactly 7 days after V3's last call (X5): in
    # its journey; W2 7 days and 1 second after V4's (X6): unmatched; X4 (an id a call has too) at
    # the very second of V1's call: in its journey; W4 from a customer with no contact: unmatched
    ("W1", "V3", "", "", "2026-05-25T11:00:00+02:00", "8", "", "", "", ""),
    ("W2", "V4", "", "", "2026-05-25T12:00:02+02:00", "8", "", "", "", ""),
    ("X4", "V1", "", "", "2026-05-11T09:00:00+02:00", "8", "", "", "", ""),
    ("W4", "V7", "", "", "2026-05-13T09:00:00+02:00", "8", "", "", "", ""),
]


def _chain_call(name, customer, at):
    """A call answered in 5 s, 60 s handled."""
    return (
        name,
        1,
        customer,
        "accueil",
        at.isoformat(),
        (at + timedelta(seconds=5)).isoformat(),
        (at + timedelta(seconds=65)).isoformat(),
        "answered",
        "none",
    )


# W23-W33 (summer time throughout): journeys cut at journey_max_span_days (30). V20 calls every 6
# days from Monday 1 June 10:00, 13 calls, never a gap over the 7-day window: L00-L05 (days 0 to
# 30, the last exactly 30 days after the first), L06-L11 (36 to 66, counted from L06), L12 (72);
# L00b, at the very second of L00, is in L00's journey and starts nothing.
# V21 calls every 6 days from Tuesday 2 June, then 30 days and 1 s after its first call: cut there;
# two weeks later, twice on consecutive days: a journey of its own, not walked.
CHAIN_START = datetime.fromisoformat("2026-06-01T10:00:00+02:00")
CHAIN_CALLS = [_chain_call(f"L{i:02d}", "V20", CHAIN_START + timedelta(days=6 * i)) for i in range(13)]
CHAIN_CALLS += [_chain_call("L00b", "V20", CHAIN_START)]
CHAIN_CALLS += [_chain_call(f"M{i}", "V21", CHAIN_START + timedelta(days=1 + 6 * i)) for i in range(5)]
CHAIN_CALLS += [_chain_call("M5", "V21", CHAIN_START + timedelta(days=31, seconds=1))]
CHAIN_CALLS += [_chain_call(f"M{i}", "V21", CHAIN_START + timedelta(days=40 + i)) for i in (6, 7)]
# a complaint with the call M6's id, made directly and first resolved 10 days and 1 s after opening
CHAIN_CASES = [("M6", "V22", "2026-07-20T10:00:00+02:00", "web", "billing", "", "normal")]
CHAIN_CASE_EVENTS = [
    ("M6", 1, "opened", "2026-07-20T10:00:00+02:00", "reclamations", "open"),
    ("M6", 2, "assigned", "2026-07-20T12:00:00+02:00", "reclamations", "in_progress"),
    ("M6", 3, "resolved", "2026-07-30T10:00:01+02:00", "reclamations", "resolved"),
]

# W27 (29 June - 2 July 2026, summer time): reopenings and the handoff each blames, the last one
# that gave the case to the team that resolved it before the reopening, at or before that resolution.
# RB1 goes to facturation twice (ping-pong: three changes): only the second is blamed. RB2 is
# resolved by technique and moved to the unassigned state at that very second, after the
# resolution in the case's order, then taken back by technique before its reopening: the handoff
# to technique before the resolution is blamed, neither the move nor the one after the resolution.
REOPEN_CASES = [
    ("RB1", "V30", "2026-06-29T09:00:00+02:00", "web", "information", "", "normal"),
    ("RB2", "V31", "2026-06-30T09:00:00+02:00", "web", "information", "", "normal"),
]
REOPEN_CASE_EVENTS = [  # every pickup within its team's SLA (facturation's 20 h within 22 h too)
    ("RB1", 1, "opened", "2026-06-29T09:00:00+02:00", "reclamations", "open"),
    ("RB1", 2, "reassigned", "2026-06-29T12:00:00+02:00", "facturation", "in_progress"),
    ("RB1", 3, "reassigned", "2026-06-30T08:00:00+02:00", "reclamations", "in_progress"),
    ("RB1", 4, "reassigned", "2026-06-30T14:00:00+02:00", "facturation", "in_progress"),
    ("RB1", 5, "resolved", "2026-07-01T10:00:00+02:00", "facturation", "resolved"),
    ("RB1", 6, "reopened", "2026-07-02T10:00:00+02:00", "facturation", "open"),
    ("RB2", 1, "opened", "2026-06-30T09:00:00+02:00", "reclamations", "open"),
    ("RB2", 2, "reassigned", "2026-06-30T11:00:00+02:00", "technique", "in_progress"),
    ("RB2", 3, "resolved", "2026-07-01T09:00:00+02:00", "technique", "resolved"),
    ("RB2", 4, "reassigned", "2026-07-01T09:00:00+02:00", "", "resolved"),
    ("RB2", 5, "reassigned", "2026-07-01T15:00:00+02:00", "technique", "resolved"),
    ("RB2", 6, "reopened", "2026-07-01T20:00:00+02:00", "technique", "open"),
]


# ---- W10 (2-8 March 2026, winter): verbatim themes by team of the rated interaction ------------
# Call G1 was handled at facturation; case G1 was opened by reclamations; case G2 by technique,
# and no call G2 is in the export (it predates the calls file).
SHARED_ID_CALLS = [
    ("G1", 1, "N1", "facturation", "2026-03-02T10:00:00+01:00", "2026-03-02T10:00:05+01:00",
     "2026-03-02T10:01:05+01:00", "answered", "none"),
]  # fmt: skip
SHARED_ID_CASES = [
    ("G1", "N2", "2026-03-02T11:00:00+01:00", "web", "billing", "", "normal"),
    ("G2", "N3", "2026-03-02T12:00:00+01:00", "web", "billing", "", "normal"),
]
SHARED_ID_CASE_EVENTS = [
    ("G1", 1, "opened", "2026-03-02T11:00:00+01:00", "reclamations", "open"),
    ("G2", 1, "opened", "2026-03-02T12:00:00+01:00", "technique", "open"),
]
WAITED = "Beaucoup trop d'attente au téléphone."  # one complaint theme
SHARED_ID_SURVEYS = [  # each with the same complaint
    ("V1", "N2", "case", "G1", "2026-03-04T10:00:00+01:00", "", "", "", "", "", WAITED),  # reclamations
    ("V2", "N1", "call", "G1", "2026-03-04T11:00:00+01:00", "", "", "", "", "", WAITED),  # facturation
    # the call G2 is not in the export: no team, though a case has that id
    ("V3", "N3", "call", "G2", "2026-03-04T12:00:00+01:00", "", "", "", "", "", WAITED),
]


# ---- the internal pulse of W20 and W21, beside their handoffs, journeys and responses above ------
# W20: five accueil staff (a1-a5) rate facturation and say how engaged they are (5, 4, 4, 2, 1);
# a1 also rates its own team (left out) and technique without any item (no score: left out); a6
# answers nothing. Four technique staff (t1-t4, one short of pulse.min_group_size) rate facturation,
# t1 with an engagement on the same answer (an engagement counts only on an answer rating no team).
# Five reclamations staff (r1-r5) rate technique without any item: no score, so no respondent.
# W21: a1-a5 rate facturation 3, 3, 3.
PULSE_W20, PULSE_W21 = "2026-05-13T10:00:00+02:00", "2026-05-20T10:00:00+02:00"
ACCUEIL_RATES = [(5, 4, 3), (4, 4, 4), (3, 2, 1), (2, 3, 4), (1, 2, 3)]  # scores 4, 4, 2, 3, 2
TECHNIQUE_RATES = [(5, 5, 5), (4, 4, 5), (3, 3, 3), (2, 2, 2)]  # scores 5, 13/3, 3, 2
PULSE_ANSWERS = [
    *((f"PA{i}", f"a{i}", PULSE_W20, "accueil", "facturation", *r, "") for i, r in enumerate(ACCUEIL_RATES, 1)),
    *((f"PE{i}", f"a{i}", PULSE_W20, "accueil", "", "", "", "", e) for i, e in enumerate([5, 4, 4, 2, 1], 1)),
    ("PS1", "a1", PULSE_W20, "accueil", "accueil", 1, 1, 1, ""),
    ("PN1", "a1", PULSE_W20, "accueil", "technique", "", "", "", ""),
    ("PX6", "a6", PULSE_W20, "accueil", "", "", "", "", ""),
    *((f"PT{i}", f"t{i}", PULSE_W20, "technique", "facturation", *r, 5 if i == 1 else "")
      for i, r in enumerate(TECHNIQUE_RATES, 1)),
    *((f"PR{i}", f"r{i}", PULSE_W20, "reclamations", "technique", "", "", "", "") for i in range(1, 6)),
    *((f"PB{i}", f"a{i}", PULSE_W21, "accueil", "facturation", 3, 3, 3, "") for i in range(1, 6)),
]  # fmt: skip


def load_golden_dst(settings):
    load_files(
        settings,
        "dst",
        {
            "calls": DST_CALLS + MAY_CALLS + CHAIN_CALLS + SHARED_ID_CALLS,
            "cases": DST_CASES + MAY_CASES + CHAIN_CASES + REOPEN_CASES + SHARED_ID_CASES,
            "case_events": DST_CASE_EVENTS
            + MAY_CASE_EVENTS
            + CHAIN_CASE_EVENTS
            + REOPEN_CASE_EVENTS
            + SHARED_ID_CASE_EVENTS,
            "survey_responses": DST_SURVEYS + MAY_SURVEYS + SHARED_ID_SURVEYS,
            "internal_pulse": PULSE_ANSWERS,
        },
    )


@pytest.fixture(scope="module")
def dst(tmp_path_factory):
    home = tmp_path_factory.mktemp("golden_dst")
    settings = load_settings(base_dir=home)
    if not copy_prebuilt("golden_dst", home):  # the mutation gate ingested these files once
        load_golden_dst(settings)
    build_models(settings, sql_dir=models_sql_dir())
    con = connect(settings.warehouse, read_only=True)
    # each journey named by its first contact (customer references are pseudonymised)
    events = sorted(
        con.execute("SELECT string_split(journey_id, ':')[-1], signal, source_ref FROM friction_events").fetchall()
    )
    queues = {
        (w, q): (o, a, t, sl if sl is None else round(sl, 4), asa, aht, tr)
        for w, q, o, a, t, sl, asa, aht, tr in con.execute(
            "SELECT week, queue, offered, answered, answered_in_time, service_level, average_speed_of_answer, "
            "average_handle_time, transfer_rate FROM weekly_queue_kpis"
        ).fetchall()
    }
    con.close()
    return settings, scorecard(settings), events, queues


def test_spring_change_call_times_and_slow_pickup(dst):
    _, figures, _, queues = dst
    assert num_den(figures, "2026-W13", "service_level") == (1, 1)  # 20 s: within 20 s
    assert value(figures, "2026-W13", "average_speed_of_answer") == 20
    assert value(figures, "2026-W13", "average_handle_time") == 420  # 300 + 120 over one answered call
    # the transfer waited 180 s at technique (SLA 120 s); S1 called again within 7 days
    assert figures[1]["call:S1A:2"] == ("2026-W13", ["recontact", "slow_pickup"])
    assert num_den(figures, "2026-W13", "handoff_failure_rate") == (1, 1)
    # per queue: accueil answered its one segment in 20 s and passed it on; technique took 180 s
    assert queues[("2026-W13", "Q_ACCUEIL")] == (1, 1, 1, 1.0, 20, 300, 1.0)
    assert queues[("2026-W13", "Q_TECHNIQUE")] == (1, 1, 0, 0.0, 180, 120, 0.0)
    assert value(figures, "2026-W14", "average_speed_of_answer") == 10


def test_spring_journey_spans_two_weeks_within_its_resolution_sla(dst):
    _, figures, events, _ = dst
    assert value(figures, "2026-W13", "journeys") == 1
    assert [e for e in events if e[0] == "S1A"] == [
        ("S1A", "repeat_contact", "S1B"),
        ("S1A", "transferred", "call:S1A:2"),
    ]
    assert num_den(figures, "2026-W13", "friction_share_reach") == (0, 1)
    assert value(figures, "2026-W13", "friction_index_understand") == 50  # transferred, 0.5
    assert value(figures, "2026-W13", "friction_index_resolve") == 100  # repeat contact, 1.0
    assert num_den(figures, "2026-W13", "first_contact_resolution") == (0, 1)


def test_autumn_change_attempts_acknowledgement_and_resolution_sla(dst):
    _, figures, events, _ = dst
    assert num_den(figures, "2026-W43", "abandonment_rate") == (1, 2)
    assert num_den(figures, "2026-W43", "service_level") == (1, 2)  # S2A waited 12 s: not a short abandon
    assert [e for e in events if e[0] in ("S2A", "CASE3")] == [
        ("CASE3", "complaint_acknowledged_beyond_sla", "CASE3"),  # a direct complaint: no complaint_opened
        ("S2A", "abandoned", "S2A"),
        ("S2A", "complaint_acknowledged_beyond_sla", "CASE2"),
        ("S2A", "complaint_opened", "CASE2"),  # the escalation of S2B into a complaint
        ("S2A", "resolution_beyond_sla", "CASE2"),  # its first resolution, 5 d 1 h after S2A
        ("S2A", "several_attempts", "S2B"),
    ]
    assert num_den(figures, "2026-W43", "friction_share_reach") == (1, 2)
    assert value(figures, "2026-W43", "friction_index_reach") == 100  # 100 * (1.0 + 1.0) / 2
    assert num_den(figures, "2026-W43", "friction_share_resolve") == (1, 2)
    assert num_den(figures, "2026-W43", "friction_share_recover") == (2, 2)
    assert value(figures, "2026-W43", "friction_index_recover") == 150  # 100 * (2 + 1) / 2
    # both complaints first resolved in W44, within 10 days: CASE3 in 3 d 0.5 h, CASE2 in 5 d 1 h
    assert num_den(figures, "2026-W44", "complaints_resolved_within_sla") == (2, 2)
    # the escalation and facturation's pickup (23 h of 24) both succeeded
    assert figures[1]["escalation:CASE2"] == ("2026-W43", [])
    assert figures[1]["case:CASE2:3"] == ("2026-W44", [])
    assert num_den(figures, "2026-W44", "nps_passives") == (1, 1)  # R9 gave 8


def _may(con, sql):
    """Rows of a query over W20-W21, each journey_id replaced by its opening contact ('call X2')."""
    opening = dict(
        con.execute(
            "SELECT journey_id, contact_type || ' ' || contact_ref FROM journey_contacts WHERE stitch_rule = 'new_journey'"
        ).fetchall()
    )
    rows = con.execute(sql).fetchall()
    return sorted(tuple(opening.get(v, v) if isinstance(v, str) else v for v in row) for row in rows)


def test_journeys_cut_at_the_window_and_contacts_placed_by_type(dst):
    settings, *_ = dst
    con = connect(settings.warehouse, read_only=True)
    placed = _may(
        con,
        "SELECT contact_type, contact_ref, coalesce(journey_id, '-'), stitch_rule FROM journey_contacts "
        "WHERE contact_at BETWEEN '2026-05-11' AND '2026-05-31'",
    )
    journeys = _may(
        con,
        "SELECT journey_id, calls, cases, survey_responses, engaged, final_at FROM journeys "
        "WHERE week IN ('2026-W20', '2026-W21')",
    )
    con.close()
    assert placed == [
        ("call", "AB1", "call AB1", "new_journey"),
        ("call", "AB2", "call AB2", "new_journey"),
        ("call", "X1", "call X1", "new_journey"),
        ("call", "X2", "call X2", "new_journey"),
        ("call", "X3", "call X3", "new_journey"),
        ("call", "X4", "call X4", "new_journey"),
        ("call", "X5", "call X3", "same_customer_within_window"),  # exactly 7 days after X3
        ("call", "X6", "call X6", "new_journey"),  # 7 days and 1 second after X4
        ("call", "X7", "call X7", "new_journey"),
        ("call", "X8", "call X8", "new_journey"),
        ("call", "Y1", "call Y1", "new_journey"),  # 7 days and 30 s after X2
        ("call", "Y2", "call Y2", "new_journey"),
        ("call", "Y3", "call Y3", "new_journey"),
        ("call", "Y4", "call Y3", "same_customer_within_window"),
        ("call", "Z2", "call Z2", "new_journey"),
        ("case", "E2", "call X2", "explicit_origin_call"),  # the call X2, not the case X2
        ("case", "E3", "call X7", "explicit_origin_call"),
        ("case", "X2", "case X2", "new_journey"),
        ("case", "Z1", "call Y3", "explicit_origin_call"),
        ("case", "Z2", "case Z2", "new_journey"),
        ("survey", "W1", "call X3", "customer_window"),  # 7 days after X5, the journey's last anchor
        ("survey", "W2", "-", "unmatched"),  # 7 days and 1 second after X6
        ("survey", "W4", "-", "unmatched"),  # V7 has no journey
        ("survey", "X2", "case X2", "explicit_interaction_ref"),  # it rates the case X2
        ("survey", "X4", "call X1", "customer_window"),  # at the very second of X1
    ]
    # calls, cases, responses; final: 7 days after the last call or case, 5 after the start, or
    # complaint_sla_days_max (10) after the last case, whichever is latest (UTC below)
    assert journeys == [
        ("call X1", 1, 0, 1, False, datetime(2026, 5, 18, 7, 0, tzinfo=UTC)),  # X4 the response, not the call
        ("call X2", 1, 1, 0, True, datetime(2026, 5, 21, 9, 0, tzinfo=UTC)),  # E2 + 10 d
        ("call X3", 2, 0, 1, True, datetime(2026, 5, 25, 9, 0, tzinfo=UTC)),  # X5 + 7 d
        ("call X4", 1, 0, 0, True, datetime(2026, 5, 18, 10, 0, tzinfo=UTC)),
        ("call X6", 1, 0, 0, True, datetime(2026, 5, 25, 10, 0, 1, tzinfo=UTC)),
        ("call X7", 1, 1, 0, True, datetime(2026, 5, 21, 12, 0, tzinfo=UTC)),  # E3 + 10 d
        ("call X8", 1, 0, 0, False, datetime(2026, 5, 18, 13, 0, tzinfo=UTC)),
        ("call Y1", 1, 0, 0, True, datetime(2026, 5, 25, 8, 0, 30, tzinfo=UTC)),
        ("call Y2", 1, 0, 0, True, datetime(2026, 5, 25, 13, 0, 21, tzinfo=UTC)),
        ("call Y3", 2, 1, 0, True, datetime(2026, 5, 30, 7, 0, tzinfo=UTC)),  # Y4 + 7 d, after Z1 + 10 d
        ("call Z2", 1, 0, 0, True, datetime(2026, 5, 26, 12, 30, tzinfo=UTC)),
        ("case X2", 0, 1, 1, True, datetime(2026, 5, 22, 8, 0, tzinfo=UTC)),  # + 10 d, not from the response
        ("case Z2", 0, 1, 0, True, datetime(2026, 5, 29, 7, 0, tzinfo=UTC)),
    ]


def test_queue_team_and_call_figures_at_their_edges(dst):
    settings, figures, _, queues = dst
    # accueil, W20: X2 and X8 abandoned (30 s, 20 s), X3 twice (10 s, 10 s), X4 (1 s), X7 (5 s);
    # X4's 3 s are no short abandon: it was answered. Handle 100 + 50 + 2 + 60 over 4
    assert queues[("2026-W20", "Q_ACCUEIL")] == (6, 4, 4, 0.6667, 6.5, 53, 0.0)
    assert queues[("2026-W20", "Q_FACTURATION")] == (2, 1, 1, 0.5, 10, 300, 0.0)  # X2 answered, X8 abandoned
    # technique: X1, a short abandon alone: nothing to rate, no rate (not 0, not NaN)
    assert queues[("2026-W20", "Q_TECHNIQUE")] == (1, 0, 0, None, None, None, None)
    con = connect(settings.warehouse, read_only=True)
    teams = con.execute(
        "SELECT team, segments_offered, answered, transferred_out FROM weekly_team_kpis WHERE week = '2026-W20'"
    ).fetchall()
    con.close()
    # passed on to another team: X2 and X8 from accueil to facturation (X3 stayed within accueil)
    assert sorted(teams) == [("accueil", 6, 4, 2), ("facturation", 2, 1, 0), ("technique", 1, 0, 0)]
    # calls by their first segment: X1 (short), X2, X8 abandoned; X3, X4, X7 answered within 20 s
    assert num_den(figures, "2026-W20", "abandonment_rate") == (3, 6)
    assert num_den(figures, "2026-W20", "service_level") == (3, 5)
    # answered calls X2, X3, X4, X7; X2 changed team (X8 did too, unanswered)
    assert num_den(figures, "2026-W20", "transfer_rate") == (1, 4)
    # with an answered call: X2 (then E2), X3 (then X5), X7 (then E3) and X4 alone
    assert num_den(figures, "2026-W20", "first_contact_resolution") == (1, 4)
    # W22: AB1 and AB2 abandoned, each after an answer time: none answered, none in time
    assert queues[("2026-W22", "Q_ACCUEIL")] == (2, 0, 0, 0.0, None, None, None)
    assert num_den(figures, "2026-W22", "service_level") == (0, 2)
    con = connect(settings.warehouse, read_only=True)
    events = _may(con, "SELECT journey_id, signal, source_ref FROM friction_events WHERE week = '2026-W22'")
    con.close()
    assert events == [("call AB1", "abandoned", "AB1"), ("call AB2", "abandoned", "AB2")]


def test_friction_and_handoffs_of_a_call_and_a_case_sharing_an_id(dst):
    settings, figures, _, _ = dst
    con = connect(settings.warehouse, read_only=True)
    events = _may(
        con, "SELECT journey_id, signal, source_ref FROM friction_events WHERE week IN ('2026-W20', '2026-W21')"
    )
    handoffs = _may(
        con,
        "SELECT handoff_key, journey_id, failure_reasons FROM handoffs WHERE week IN ('2026-W20', '2026-W21')",
    )
    stages = con.execute(
        "SELECT week, stage, journeys_reached, journeys_with_friction, weighted_signals, friction_index, "
        "friction_share FROM weekly_stage_friction WHERE week IN ('2026-W20', '2026-W21')"
    ).fetchall()
    con.close()
    assert events == [
        ("call X1", "abandoned", "X1"),
        ("call X2", "abandoned", "X2"),
        ("call X2", "complaint_opened", "E2"),
        ("call X2", "long_hold", "X2:2"),  # 200 s on hold at facturation
        ("call X2", "transferred", "call:X2:2"),
        ("call X3", "repeat_contact", "X5"),
        ("call X3", "resolution_beyond_sla", "X5"),  # 7 days after the journey started, beyond 5
        ("call X7", "complaint_opened", "E3"),
        ("call X7", "resolution_beyond_sla", "E3"),  # E3 resolved 5 d and 1 s after X7
        ("call X8", "abandoned", "X8"),
        ("call X8", "transferred", "call:X8:2"),
        ("call Y3", "case_reopened", "Z1:3"),
        ("call Y3", "case_reopened", "Z1:7"),
        ("call Y3", "complaint_opened", "Z1"),
        ("call Y3", "repeat_contact", "Y4"),  # exactly 5 days after Y3: not beyond the resolution SLA
        ("call Z2", "transferred", "call:Z2:2"),
        ("case X2", "case_reopened", "X2:6"),
        ("case X2", "complaint_acknowledged_beyond_sla", "X2"),  # first acknowledged after 72 h
        ("case X2", "not_resolved", "X2"),
        ("case X2", "repeat_info", "X2"),
        ("case Z2", "case_reopened", "Z2:5"),
    ]
    assert handoffs == [
        # picked up in 10 s; V2 called again (Y1) exactly 7 days later; the response that says it
        # had to repeat rates the case X2, not this call
        ("call:X2:2", "call X2", ["recontact"]),
        ("call:X8:2", "call X8", ["dropped"]),  # V9 called again 7 days and 1 s later: too late
        ("call:Z2:2", "call Z2", []),  # a transfer of the call Z2, never blamed for the case Z2's reopening
        ("case:X2:7", "case X2", ["repeat_info"]),  # picked up in 20 h of facturation's 24
        # Z1 changed team three times: ping-pong for each change (not for the escalation). Its first
        # reopening blames the handoff to facturation, made at the moment facturation resolved it;
        # its second blames the handoff to technique, which resolved it before reclamations closed it
        ("case:Z1:2", "call Y3", ["ping_pong", "reopened"]),
        ("case:Z1:4", "call Y3", ["ping_pong", "reopened"]),
        ("case:Z1:6", "call Y3", ["bounce_back", "ping_pong"]),
        # Z2's reopening blames the handoff to technique, which resolved it last, not the one to
        # facturation, which resolved it first
        ("case:Z2:2", "case Z2", []),
        ("case:Z2:3", "case Z2", ["reopened"]),
        ("escalation:E2", "call X2", []),  # E3 stayed with X7's team: no handoff
        ("escalation:Z1", "call Y3", []),
    ]
    assert sorted(stages) == [
        # reach: 7 journeys, X1, X2, X8 abandoned: 100 * 3 / 7, rounded to 2 places
        ("2026-W20", "reach", 7, 3, 3.0, 42.86, 3 / 7),
        # recover: X2 (E2), X7 (E3) and case X2 complained, each with one signal
        ("2026-W20", "recover", 3, 3, 3.0, 100.0, 1.0),
        ("2026-W20", "resolve", 5, 3, 5.0, 100.0, 0.6),  # engaged: X2, X3, X4, X7, case X2
        # X2's transfer (0.5) and long hold (0.5), case X2's repeat (1.0); X8's transfer: X8 never engaged
        ("2026-W20", "understand", 5, 2, 2.0, 40.0, 0.4),
        # W21: X6, Y1, Y2 without friction; Y3's two reopenings and its repeat contact (Y4), Z2's
        # reopening; the call Z2's transfer (0.5)
        ("2026-W21", "reach", 6, 0, 0.0, 0.0, 0.0),
        ("2026-W21", "recover", 2, 1, 1.0, 50.0, 0.5),  # Y3 (Z1's escalation), case Z2
        ("2026-W21", "resolve", 6, 2, 4.0, 66.67, 2 / 6),
        ("2026-W21", "understand", 6, 1, 0.5, 8.33, 1 / 6),
    ]
    assert num_den(figures, "2026-W20", "handoff_failure_rate") == (2, 3)
    # final 7 days after the week's last handoff, X8's transfer (11 May 13:00:20 UTC)
    con = connect(settings.warehouse, read_only=True)
    assert con.execute(
        "SELECT final_at FROM weekly_metrics WHERE week = '2026-W20' AND metric = 'handoff_failure_rate'"
    ).fetchone() == (datetime(2026, 5, 18, 13, 0, 20, tzinfo=UTC),)
    # the case X2 unacknowledged: seen at its first event beyond 48 h, 1 s beyond (14 May 08:00:01 UTC)
    assert con.execute(
        "SELECT event_at FROM friction_events WHERE signal = 'complaint_acknowledged_beyond_sla' AND source_ref = 'X2'"
    ).fetchone() == (datetime(2026, 5, 14, 8, 0, 1, tzinfo=UTC),)
    con.close()


def _fetch(dst, sql):
    """The rows of one query on the DST set's warehouse."""
    con = connect(dst[0].warehouse, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_reopening_blames_the_last_handoff_to_the_team_that_resolved_the_case(dst):
    handoffs = _fetch(
        dst,
        "SELECT handoff_key, list_sort(failure_reasons) FROM handoffs WHERE container IN ('RB1', 'RB2') "
        "ORDER BY handoff_key",
    )
    assert handoffs == [
        ("case:RB1:2", ["ping_pong"]),  # to facturation, which had it again later: not blamed
        ("case:RB1:3", ["bounce_back", "ping_pong"]),
        ("case:RB1:4", ["bounce_back", "ping_pong", "reopened"]),
        # RB2 changes team three times too
        ("case:RB2:2", ["ping_pong", "reopened"]),  # to technique, which resolved it
        ("case:RB2:4", ["ping_pong"]),  # to the unassigned state, at the second of the resolution but after it
        ("case:RB2:5", ["bounce_back", "ping_pong"]),  # back to technique after the resolution
    ]


def test_journeys_cut_at_their_span_bound(dst):
    placed = _fetch(
        dst,
        "SELECT contact_ref, split_part(journey_id, ':', -1), stitch_rule FROM journey_contacts WHERE customer_ref IN "
        "(SELECT customer_ref FROM journey_contacts WHERE contact_ref IN ('L00', 'M0')) ORDER BY contact_ref",
    )
    opening = {"L00": "new_journey", "L06": "journey_span_limit", "L12": "journey_span_limit"}
    expected = [
        (f"L{i:02d}", f"L{6 * (i // 6):02d}", opening.get(f"L{i:02d}", "same_customer_within_window"))
        for i in range(13)
    ]
    expected.insert(1, ("L00b", "L00", "same_customer_within_window"))
    expected += [(f"M{i}", "M0", "same_customer_within_window" if i else "new_journey") for i in range(5)]
    expected += [("M5", "M5", "journey_span_limit")]  # 30 days and 1 s after M0
    expected += [("M6", "M6", "new_journey"), ("M7", "M6", "same_customer_within_window")]
    assert placed == expected
    # the case M6's late resolution is friction of its own journey, not of the call M6's
    late = _fetch(
        dst,
        "SELECT f.signal, j.customer_ref = c.customer_ref FROM friction_events AS f JOIN journeys AS j "
        "USING (journey_id) JOIN stg_cases AS c ON c.case_id = 'M6' WHERE f.source_ref = 'M6' ORDER BY 1",
    )
    assert late == [("complaint_resolved_beyond_sla", True), ("resolution_beyond_sla", True)]


def test_verbatim_themes_take_the_team_of_the_rated_interaction_of_its_type(dst):
    rows = _fetch(
        dst,
        "SELECT team, polarity, responses, responses_with_verbatim FROM weekly_verbatim_themes WHERE week = '2026-W10'",
    )
    assert sorted(rows, key=lambda r: r[0] or "") == [
        (None, "-", 1, 1),
        ("facturation", "-", 1, 1),
        ("reclamations", "-", 1, 1),
    ]


def test_team_attention_beside_its_handoffs_journeys_and_responses(dst):
    rows = _fetch(
        dst,
        "SELECT * EXCLUDE (parameter_set, build_id, computed_at) FROM weekly_team_attention WHERE week IN ('2026-W20', '2026-W21') "
        "ORDER BY week, team",
    )
    no_pulse = ("no_data", None, None, None, None, None, "no_data", None, None, "no_data", None, None)
    assert rows == [
        # served: a1-a5's scores (4 + 4 + 2 + 3 + 2) / 5, items 15/5, 15/5, 15/5; engagement 16/5.
        # No handoff received; gave X2's and X8's transfers, both failed. Touched X2, X3, X4, X7, X8,
        # all but X4 with friction; W1 (passive) answered for X3
        ("2026-W20", "accueil", "shown", 5, 3.0, 3.0, 3.0, 3.0, "no_data", None, None, "shown", 5, 3.2,
         0, 0, None, 2, 2, 1.0, 5, 0.8, 1, 0.0),
        # rated by 5 + 4 = 9: (15 + 43/3) / 9. Received X2's and X8's transfers (failed); gave the
        # escalation E2 (after X2's last answer, here). Touched X2, X8 and the case X2, whose
        # response X2 is a detractor's
        ("2026-W20", "facturation", "no_data", None, None, None, None, None, "shown", 9, pytest.approx(88 / 27),
         "no_data", None, None, 2, 2, 1.0, 1, 0, 0.0, 3, 1.0, 1, -100.0),
        # received the escalation E2 (not failed); touched X2 (E2) and the case X2
        ("2026-W20", "reclamations", *no_pulse, 1, 0, 0.0, 0, 0, None, 2, 1.0, 1, -100.0),
        # four raters: too few; no handoff; touched X1 (abandoned), answered by X4 (passive)
        ("2026-W20", "technique", "too_few_answers", None, None, None, None, None, "no_data", None, None,
         "no_data", None, None, None, None, None, None, None, None, 1, 1.0, 1, 0.0),
        # gave the call Z2's transfer and the escalation Z1, neither failed; touched X6, Y1, Y2 (no
        # friction), Y3 and Z2; no response
        ("2026-W21", "accueil", "shown", 5, 3.0, 3.0, 3.0, 3.0, "no_data", None, None, "no_data", None, None,
         0, 0, None, 2, 0, 0.0, 5, 0.4, None, None),
        # received X2:7 and Z1:2 (failed), Z2:2; gave Z1:4 and Z2:3 (failed); touched Y3 (Z1), case Z2
        ("2026-W21", "facturation", "no_data", None, None, None, None, None, "shown", 5, 3.0, "no_data", None,
         None, 3, 2, pytest.approx(2 / 3), 2, 2, 1.0, 2, 1.0, None, None),
        # received Z1:6 (failed) and the escalation Z1; gave X2:7, Z1:2 (failed) and Z2:2
        ("2026-W21", "reclamations", *no_pulse, 2, 1, 0.5, 3, 2, pytest.approx(2 / 3), 2, 1.0, None, None),
        # received the call Z2's transfer, Z1:4 and Z2:3 (failed); gave Z1:6 (failed); touched Y3,
        # the call Z2 and the case Z2
        ("2026-W21", "technique", *no_pulse, 3, 2, pytest.approx(2 / 3), 1, 1, 1.0, 3, 1.0, None, None),
    ]  # fmt: skip
    # the unassigned state (RB2's move in W27) is no team
    assert _fetch(dst, "SELECT count(*) FROM weekly_team_attention WHERE team = '(unassigned)'") == [(0,)]


def test_a_changed_config_is_recorded_in_every_weekly_result(dst):
    settings, *_ = dst
    config = settings.warehouse.parent.parent / "esprit.yaml"
    config.write_text("metrics:\n  pickup_sla:\n    facturation: {call_seconds: 120, case_hours: 22}\n")
    changed = load_settings(config, base_dir=settings.warehouse.parent.parent)
    digest = parameter_set(changed)[0]
    assert digest != parameter_set(settings)[0]
    build_models(changed, sql_dir=models_sql_dir())
    con = connect(settings.warehouse, read_only=True)
    # facturation took 23 h to pick CASE2 up: now beyond its own 22 h SLA
    assert con.execute("SELECT failure_reasons FROM handoffs WHERE handoff_key = 'case:CASE2:3'").fetchone() == (
        ["slow_pickup"],
    )
    assert con.execute(
        "SELECT slow_pickup, parameter_set FROM weekly_team_supplier WHERE week = '2026-W44' AND team = 'facturation'"
    ).fetchone() == (1, digest)
    for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'weekly_%'").fetchall():
        rows, sets = con.execute(f"SELECT count(*), list(DISTINCT parameter_set) FROM {table}").fetchone()
        assert rows == 0 or sets == [digest], table  # a table with no row here (no wide survey) names none
    # the figure it moved is restated under the new parameter set
    assert con.execute(
        "SELECT previous_value, new_value, parameter_set FROM metric_restatements "
        "WHERE week = '2026-W44' AND metric = 'handoff_failure_rate'"
    ).fetchone() == (0, 100, digest)
    # that one change marks its week restated; the other weeks, unchanged, are not
    assert con.execute("SELECT week, restated, changes FROM week_status ORDER BY week").fetchall() == [
        ("2026-W10", False, 0),  # the verbatims of a call and a case sharing an id
        ("2026-W13", False, 0),
        ("2026-W14", False, 0),
        ("2026-W20", False, 0),
        ("2026-W21", False, 0),
        ("2026-W22", False, 0),
        *((f"2026-W{week}", False, 0) for week in range(23, 34)),  # the chains of calls
        ("2026-W43", False, 0),
        ("2026-W44", True, 1),
    ]
    con.close()


# ---- complaint deadline rules, per-channel complaint figures and the scorecard's windows --------
# Winter 2026 (CET, UTC+1), weeks W02-W08 only. One answered call a week, every Tuesday 10:00, each
# its own customer, waiting 1, 2, 4, ... 64 s: every 4-week average is a different number.
EDGE_TUESDAYS = ["2026-01-06", "2026-01-13", "2026-01-20", "2026-01-27", "2026-02-03", "2026-02-10", "2026-02-17"]


def _edge_call(i, day):
    offered = datetime.fromisoformat(f"{day}T10:00:00+01:00")
    answered = offered + timedelta(seconds=2**i)
    ended = answered + timedelta(minutes=10)
    return (
        f"T{i}",
        1,
        f"P{i}",
        "accueil",
        offered.isoformat(),
        answered.isoformat(),
        ended.isoformat(),
        "answered",
        "none",
    )


# the last, T6 on 17 Feb 10:00, is the latest event of the data: its horizon
EDGE_CALLS = [_edge_call(i, day) for i, day in enumerate(EDGE_TUESDAYS)]
# complaint_sla_rules, first match wins, each deadline from the first rule that sets it
# and a resolution SLA longer than the journey window: a journey's start can set when it is final
EDGE_RULES = (
    "metrics:\n  resolution_sla_days: 9\n  complaint_sla_rules:\n"
    "    - {priority: high, ack_hours: 4}\n"
    "    - {priority: high, sla_days: 2}\n"
    "    - {category: billing, sla_days: 15}\n"
    "    - {category: billing, ack_hours: 24}\n"
)
EDGE_CASES = [
    # K1 high billing: sla 2 d (rule 2, rule 1 sets no sla), ack 4 h (rule 1); resolved in 1 d.
    # Its customer calls the next day (T1): one journey with the call
    ("K1", "P1", "2026-01-12T10:00:00+01:00", "email", "billing", "", "high", ""),
    # K2 normal billing: sla 15 d (rule 3), ack 24 h (rule 4, rule 3 sets no ack); resolved in 3 d, reopened once
    ("K2", "Q2", "2026-01-12T11:00:00+01:00", "email", "billing", "", "normal", ""),
    # K3 normal information: no rule, the defaults 10 d and 48 h; resolved in 12 d, beyond its SLA
    ("K3", "Q3", "2026-01-13T10:00:00+01:00", "web", "information", "", "normal", ""),
    # K4, a snapshot without events: resolved 2 d after opening by the export's resolved_at
    ("K4", "Q4", "2026-01-19T10:00:00+01:00", "letter", "information", "", "normal", "2026-01-21T10:00:00+01:00"),
    # K5 reopened but never resolved
    ("K5", "Q5", "2026-01-19T11:00:00+01:00", "phone", "information", "", "normal", ""),
    # K6 resolved in 1 d, on Tue 10 Feb 10:00: exactly journey_window_days before the horizon
    ("K6", "Q6", "2026-02-09T10:00:00+01:00", "web", "information", "", "normal", ""),
    # K8 resolved in 1 d, beside K5 in W04's phone complaints; K9 never resolved nor reopened
    ("K8", "Q8", "2026-01-20T10:00:00+01:00", "phone", "information", "", "normal", ""),
    ("K9", "Q9", "2026-01-28T10:00:00+01:00", "email", "information", "", "normal", ""),
    # K7 first resolved on Monday 2 Feb 00:30 in Paris (W06), which is still Sunday 1 Feb (W05) in UTC
    ("K7", "Q7", "2026-01-30T10:00:00+01:00", "letter", "information", "", "normal", ""),
    # K10 opened on Sunday 15 Feb 10:00 (W07), never acknowledged: its 48 h deadline is the horizon itself
    ("K10", "Q10", "2026-02-15T10:00:00+01:00", "phone", "information", "", "normal", ""),
]
EDGE_CASE_EVENTS = [
    ("K1", 1, "opened", "2026-01-12T10:00:00+01:00", "reclamations", "open"),
    ("K1", 2, "resolved", "2026-01-13T10:00:00+01:00", "reclamations", "resolved"),
    ("K2", 1, "opened", "2026-01-12T11:00:00+01:00", "reclamations", "open"),
    ("K2", 2, "assigned", "2026-01-13T11:00:00+01:00", "reclamations", "in_progress"),
    ("K2", 3, "resolved", "2026-01-15T11:00:00+01:00", "reclamations", "resolved"),
    ("K2", 4, "reopened", "2026-01-16T11:00:00+01:00", "reclamations", "open"),
    ("K2", 5, "resolved", "2026-01-17T11:00:00+01:00", "reclamations", "resolved"),
    ("K3", 1, "opened", "2026-01-13T10:00:00+01:00", "reclamations", "open"),
    ("K3", 2, "resolved", "2026-01-25T10:00:00+01:00", "reclamations", "resolved"),
    ("K5", 1, "opened", "2026-01-19T11:00:00+01:00", "reclamations", "open"),
    ("K5", 2, "reopened", "2026-01-20T11:00:00+01:00", "reclamations", "open"),
    ("K6", 1, "opened", "2026-02-09T10:00:00+01:00", "reclamations", "open"),
    ("K6", 2, "resolved", "2026-02-10T10:00:00+01:00", "reclamations", "resolved"),
    ("K8", 1, "opened", "2026-01-20T10:00:00+01:00", "reclamations", "open"),
    ("K8", 2, "resolved", "2026-01-21T10:00:00+01:00", "reclamations", "resolved"),
    ("K9", 1, "opened", "2026-01-28T10:00:00+01:00", "reclamations", "open"),
    ("K7", 1, "opened", "2026-01-30T10:00:00+01:00", "reclamations", "open"),
    ("K7", 2, "resolved", "2026-02-02T00:30:00+01:00", "reclamations", "resolved"),
    ("K10", 1, "opened", "2026-02-15T10:00:00+01:00", "reclamations", "open"),
]
# Wednesday 7 Jan (W02), ten responses: 4 promoters, 3 passives, 3 detractors
EDGE_SURVEYS = [
    (f"U{i}", f"U{i}", "", "", "2026-01-07T12:00:00+01:00", str(nps), "", "", "", "")
    for i, nps in enumerate([10, 9, 9, 10, 7, 8, 8, 0, 3, 6])
]

# Wednesday 28 Jan (W05), a wide survey: two rated aspects on 1-5 (0: not applicable). Satisfied:
# a CSAT of 4 or more, else, without a CSAT, an NPS of 7 or more. D1 (CSAT 4) and D2 (3) sit either
# side of the CSAT cut, D3 (NPS 7) and D4 (6) of the NPS cut; D5's CSAT 5 outweighs its NPS 2; D6
# gave neither: only the all-respondents figures count it. D2's courtesy is not applicable, D5's empty.
DRIVER_SURVEY = """id,csat,nps,speed,courtesy
D1,4,,5,4
D2,3,,2,0
D3,,7,4,5
D4,,6,1,3
D5,5,2,3,
D6,,,2,2
"""
DRIVER_PROFILE = {
    "name": "golden_wide_survey",
    "table": "survey_responses",
    "format": {"type": "csv", "delimiter": ",", "encoding": "auto"},
    "timezone": "Europe/Paris",
    "fixed": {"responded_at": "2026-01-28T12:00:00"},
    "columns": {
        "response_id": "'wide/' || \"id\"",
        "customer_ref": "'wide-respondent/' || \"id\"",
        "csat": '"csat"',
        "nps": '"nps"',
    },
    "unpivot": {"scale": "1-5", "not_applicable": [0], "questions": {"speed": "speed", "courtesy": "courtesy"}},
}


def load_golden_edges(settings):
    load_files(
        settings,
        "edges",
        {"calls": EDGE_CALLS, "cases": EDGE_CASES, "case_events": EDGE_CASE_EVENTS, "survey_responses": EDGE_SURVEYS},
    )
    path = settings.landing / "golden" / "wide_survey_edges.csv"
    path.write_text(DRIVER_SURVEY, encoding="utf-8")
    (result,) = ingest_paths(settings, "golden", [path], parse_profile(DRIVER_PROFILE, "golden_wide_survey"))
    assert result.status == "loaded" and result.rows_loaded == 6 and result.derived_rows == 11, result.problems


def built_with_config(tmp_path_factory, name, load, config_text):
    """A read-only connection to the golden set `name`, its models built under its own esprit.yaml."""
    home = tmp_path_factory.mktemp(name)
    if not copy_prebuilt(name, home):  # the mutation gate ingested these files once
        load(load_settings(base_dir=home))
    config = home / "esprit.yaml"
    config.write_text(config_text, encoding="utf-8")
    settings = load_settings(config, base_dir=home)
    build_models(settings, sql_dir=models_sql_dir())
    return connect(settings.warehouse, read_only=True)


@pytest.fixture(scope="module")
def edges(tmp_path_factory):
    con = built_with_config(tmp_path_factory, "golden_edges", load_golden_edges, EDGE_RULES)
    yield con
    con.close()


def test_complaint_deadlines_come_from_the_first_rule_that_sets_each(edges):
    rows = edges.execute("SELECT case_id, sla_days, ack_sla_hours, reopenings FROM stg_cases").fetchall()
    assert sorted(rows) == [
        ("K1", 2, 4, 0),
        ("K10", 10, 48, 0),
        ("K2", 15, 24, 1),
        ("K3", 10, 48, 0),
        ("K4", 10, 48, 0),  # no events: no reopening
        ("K5", 10, 48, 1),
        ("K6", 10, 48, 0),
        ("K7", 10, 48, 0),
        ("K8", 10, 48, 0),
        ("K9", 10, 48, 0),
    ]


def test_complaint_figures_per_channel(edges):
    rows = edges.execute(
        "SELECT week, channel, opened, resolved, resolved_within_sla, resolved_within_sla_rate, reopened, "
        "reopen_rate, round(resolution_days_median, 6), round(resolution_days_p90, 6) FROM weekly_channel_kpis"
    ).fetchall()
    assert sorted(rows) == [
        # K1 in 1 d (of 2) and K2 in 3 d (of 15), K2 reopened: median (1 + 3) / 2, P90 1 + 0.9 * (3 - 1)
        ("2026-W03", "email", 2, 2, 2, 1.0, 1, 0.5, 2.0, 2.8),
        ("2026-W03", "web", 1, 1, 0, 0.0, 0, 0.0, 12.0, 12.0),  # K3 in 12 d, beyond 10
        ("2026-W04", "letter", 1, 1, 1, 1.0, 0, 0.0, 2.0, 2.0),  # K4, from the export's resolved_at
        ("2026-W04", "phone", 2, 1, 1, 1.0, 0, 0.0, 1.0, 1.0),  # K8 in 1 d; K5 reopened, never resolved
        ("2026-W05", "email", 1, 0, 0, None, 0, None, None, None),  # K9: nothing resolved, no rate
        ("2026-W05", "letter", 1, 1, 1, 1.0, 0, 0.0, 2.604167, 2.604167),  # K7 in 2 d 14 h 30 min
        ("2026-W07", "phone", 1, 0, 0, None, 0, None, None, None),  # K10
        ("2026-W07", "web", 1, 1, 1, 1.0, 0, 0.0, 1.0, 1.0),  # K6
    ]


def test_four_week_average_and_provisional_at_the_horizon(edges):
    rows = edges.execute(
        "SELECT week, value, average_4_weeks FROM weekly_scorecard WHERE metric = 'average_speed_of_answer'"
    ).fetchall()
    # the average of the four weeks before, the week itself left out: W06 (1 + 2 + 4 + 8) / 4,
    # W07 (2 + 4 + 8 + 16) / 4, W08 (4 + 8 + 16 + 32) / 4
    assert sorted(rows)[4:] == [("2026-W06", 16, 3.75), ("2026-W07", 32, 7.5), ("2026-W08", 64, 15)]
    # K6's reopen rate can change until 7 days after its resolution, which is the horizon itself
    # (the W08 call, the latest event): final, not provisional
    assert edges.execute(
        "SELECT provisional, final_at = data_horizon FROM weekly_scorecard "
        "WHERE week = '2026-W07' AND metric = 'complaint_reopen_rate'"
    ).fetchone() == (False, True)


def test_complaint_figures_by_week_of_resolution_in_paris(edges):
    rows = edges.execute(
        "SELECT week, metric, numerator, denominator FROM weekly_metrics WHERE metric IN "
        "('complaints_resolved_within_sla', 'complaint_reopen_rate') AND denominator > 0"
    ).fetchall()
    assert sorted(rows) == [
        ("2026-W03", "complaint_reopen_rate", 1, 2),  # K1, K2 (reopened once)
        ("2026-W03", "complaints_resolved_within_sla", 2, 2),
        ("2026-W04", "complaint_reopen_rate", 0, 3),  # K3 (beyond its 10 d), K4, K8, none reopened
        ("2026-W04", "complaints_resolved_within_sla", 2, 3),
        ("2026-W06", "complaint_reopen_rate", 0, 1),  # K7, on the Monday 00:30 of W06 in Paris
        ("2026-W06", "complaints_resolved_within_sla", 1, 1),
        ("2026-W07", "complaint_reopen_rate", 0, 1),  # K6
        ("2026-W07", "complaints_resolved_within_sla", 1, 1),
    ]
    # W02: T0, no complaint: 0 per 1,000 of 1 contact
    assert edges.execute(
        "SELECT numerator, denominator FROM weekly_metrics WHERE week = '2026-W02' "
        "AND metric = 'complaints_per_1000_contacts'"
    ).fetchone() == (0, 1)


def test_complaints_acknowledged_within_their_deadline_by_week_of_opening(edges):
    rows = edges.execute(
        "SELECT week, numerator, denominator, provisional FROM weekly_scorecard "
        "WHERE metric = 'complaints_acknowledged_within_sla' AND denominator > 0"
    ).fetchall()
    assert sorted(rows) == [
        # K2 assigned exactly 24 h after opening, its deadline: in time; K1 first acknowledged by its
        # resolution 24 h after opening, its deadline 4 h; K3 by its resolution after 12 d
        ("2026-W03", 1, 3, False),
        # K8 resolved in 24 h of 48; K5 reopened, never acknowledged; K4 has no history: not counted
        ("2026-W04", 1, 2, False),
        # K9 never acknowledged, its deadline long past the horizon; K7 after 62 h 30 min
        ("2026-W05", 0, 2, False),
        # K6 in 24 h; K10 not by the horizon, which is its deadline: missed, and final, since an
        # acknowledgement after the horizon would come after the deadline too
        ("2026-W07", 1, 2, False),
    ]
    # the week stops looking ahead at K10's deadline, to the microsecond: the horizon itself
    assert edges.execute(
        "SELECT final_at, final_at = data_horizon FROM weekly_scorecard "
        "WHERE week = '2026-W07' AND metric = 'complaints_acknowledged_within_sla'"
    ).fetchone() == (datetime(2026, 2, 17, 9, 0, tzinfo=UTC), True)


def test_survey_drivers_split_respondents_at_the_csat_and_nps_cuts(edges):
    rows = edges.execute(
        "SELECT week, question, scale, answers, not_applicable, mean_value, satisfied_answers, satisfied_mean, "
        "dissatisfied_answers, dissatisfied_mean, gap FROM weekly_survey_drivers ORDER BY question"
    ).fetchall()
    assert rows == [
        # 4, 5, 3, 2 answered, D2 not applicable, D5 empty: satisfied D1 4, D3 5; dissatisfied D4 3
        ("2026-W05", "courtesy", "1-5", 4, 1, 3.5, 2, 4.5, 1, 3.0, 1.5),
        # satisfied D1 5, D3 4, D5 3; dissatisfied D2 2, D4 1; D6's 2 in the mean only
        ("2026-W05", "speed", "1-5", 6, 0, 17 / 6, 3, 4.0, 2, 1.5, 2.5),
    ]


def test_nps_interval_and_what_stays_open(edges):
    n, d, v, lo, hi = edges.execute(
        "SELECT numerator, denominator, value, ci_low, ci_high FROM weekly_metrics "
        "WHERE week = '2026-W02' AND metric = 'nps'"
    ).fetchone()
    # p = 0.4, d = 0.3: NPS 10; variance 0.7 - 0.1^2 = 0.69; 100 * (0.1 -+ 1.96 * sqrt(0.69 / 10))
    assert (n, d, round(v, 6), round(lo, 4), round(hi, 4)) == (1, 10, 10, -41.485, 61.485)
    # three journeys start in W03: K1 with T1, K2, K3 (T1 joins K1's journey)
    assert edges.execute(
        "SELECT value FROM weekly_metrics WHERE week = '2026-W03' AND metric = 'journeys'"
    ).fetchone() == (3,)
    # T0's journey (6 Jan 09:00 UTC) is final 9 days after its start (the resolution SLA), later
    # than 7 days after its last call
    assert edges.execute("SELECT final_at FROM journeys WHERE week = '2026-W02' AND calls = 1").fetchone() == (
        datetime(2026, 1, 15, 9, 0, tzinfo=UTC),
    )
    # first-contact resolution of W08 (T6, 17 Feb 09:00 UTC) can change until 7 days later
    assert edges.execute(
        "SELECT final_at FROM weekly_metrics WHERE week = '2026-W08' AND metric = 'first_contact_resolution'"
    ).fetchone() == (datetime(2026, 2, 24, 9, 0, tzinfo=UTC),)


def test_praise_counts_a_verbatim_that_praises_and_complains_of_nothing(settings):
    """verbatim_praise, the surprising level's reading of the verbatims: praise only counts; a
    verbatim that also complains does not; a response without a verbatim is not counted at all."""
    from pipelines.listening.matcher import default_matcher
    from tests.test_ingest_corpus import csv_text, survey_row

    verbatims = [
        "Conseiller très aimable, problème réglé en un appel.",  # praise only
        "Conseiller aimable mais beaucoup trop d'attente au téléphone.",  # praise and a complaint
        "Beaucoup trop d'attente au téléphone.",  # a complaint only
        "Rien à signaler.",  # no theme: counted, no praise
        "",  # no verbatim: not in the denominator
    ]
    matcher = default_matcher()
    polarities = [{m.polarity for m in matcher.mentions(v, "fr")} for v in verbatims]
    assert polarities == [{"+"}, {"+", "-"}, {"-"}, set(), set()]  # the cases are what they claim
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    rows = [survey_row(rid=f"R{i}", customer=f"C{i}", verbatim=v) for i, v in enumerate(verbatims)]
    (folder / "s.csv").write_text(csv_text(rows), encoding="utf-8")
    ingest_paths(settings, "surveys", [folder / "s.csv"], load_profile("generator_survey_responses"))
    build_models(settings, sql_dir=models_sql_dir())
    con = connect(settings.warehouse, read_only=True)
    try:
        figure = con.execute(
            "SELECT numerator, denominator FROM weekly_metrics WHERE metric = 'verbatim_praise'"
        ).fetchall()
    finally:
        con.close()
    assert figure == [(1, 4)]


# W44-W47 of 2026 (winter time, UTC+1): continuity of agent and team (docs/metrics.md). Agents
# AG1-AG10; a segment's agent "-" is none recorded. Calls and cases share ids (S1 across two
# journeys, Q1 and Q2 within one, N3) so that each condition keeping a contact's type changes a
# follow-up when dropped.
def _handled(call, seg, customer, team, at, agent, outcome="answered", transfer="none"):
    """A segment offered at `at` (Paris), answered 10 s later and over 5 min after that."""
    offered = datetime.fromisoformat(at + "+01:00")
    answered = (offered + timedelta(seconds=10)).isoformat() if outcome == "answered" else ""
    ended = (offered + timedelta(seconds=310)).isoformat()
    return (call, seg, customer, team, offered.isoformat(), answered, ended, outcome, transfer, "0", agent)


CONTINUITY_CALLS = [
    # K1: G1 is transferred from AG1 (accueil) to AG2 (facturation): a transfer, no follow-up. G2,
    # 5 days later, reaches AG2 at facturation first, then is transferred to technique: its handler
    # is the first it reached, its previous handler the last of G1: same agent, same team (W47)
    _handled("G1", 1, "K1", "accueil", "2026-11-12T10:00:00", "AG1", transfer="warm"),
    _handled("G1", 2, "K1", "facturation", "2026-11-12T10:05:10", "AG2"),
    _handled("G2", 1, "K1", "facturation", "2026-11-17T10:00:00", "AG2", transfer="warm"),
    _handled("G2", 2, "K1", "technique", "2026-11-17T10:05:10", "AG9"),
    # K5: H1 goes from AG1 to AG2 at facturation; H2 reaches AG1 at accueil: AG1 handled the
    # journey, but not last: neither the same agent nor the same team (W46)
    _handled("H1", 1, "K5", "accueil", "2026-11-09T11:00:00", "AG1", transfer="warm"),
    _handled("H1", 2, "K5", "facturation", "2026-11-09T11:05:10", "AG2"),
    _handled("H2", 1, "K5", "accueil", "2026-11-11T11:00:00", "AG1"),
    # K2: M2 is answered with no agent recorded, then M3 follows it: two follow-ups of the same
    # team, neither counted for the agent (W46)
    _handled("M1", 1, "K2", "accueil", "2026-11-10T10:00:00", "AG3"),
    _handled("M2", 1, "K2", "accueil", "2026-11-11T10:00:00", "-"),
    _handled("M3", 1, "K2", "accueil", "2026-11-12T10:00:00", "AG3"),
    # K3: N1 abandoned, N2 answered: nothing handled before N2, no follow-up; N3 abandoned: a
    # follow-up nobody handled, not counted, and nothing to wait for (K7's case N3 is another)
    _handled("N1", 1, "K3", "accueil", "2026-11-09T10:00:00", "", outcome="abandoned"),
    _handled("N2", 1, "K3", "accueil", "2026-11-09T10:30:00", "AG4"),
    _handled("N3", 1, "K3", "accueil", "2026-11-10T10:00:00", "", outcome="abandoned"),
    # K4: P2 on Sunday 23:30 in Paris reaches AG5 again (W46); P3 on Monday 00:30 in Paris, still
    # Sunday in UTC, reaches AG6 of the same team: W47, not W46
    _handled("P1", 1, "K4", "accueil", "2026-11-15T20:00:00", "AG5"),
    _handled("P2", 1, "K4", "accueil", "2026-11-15T23:30:00", "AG5"),
    _handled("P3", 1, "K4", "accueil", "2026-11-16T00:30:00", "AG6"),
    # K6: Q1, escalated into the case Q1 (no follow-up: the organisation's move); the call Q2 after
    # the case Q2, whose handling had no team: same agent, no team to compare (W46)
    _handled("Q1", 1, "K6", "accueil", "2026-11-10T14:00:00", "AG7"),
    _handled("Q2", 1, "K6", "accueil", "2026-11-14T10:00:00", "AG10"),
    # K7: R1, then the case N3, not taken in hand yet
    _handled("R1", 1, "K7", "accueil", "2026-11-19T10:00:00", "AG9"),
    # K8: S1 reaches AG2 after S0's AG1, same team (W46); K9's case S1 is another contact
    _handled("S0", 1, "K8", "accueil", "2026-11-09T09:00:00", "AG1"),
    _handled("S1", 1, "K8", "accueil", "2026-11-10T09:00:00", "AG2"),
    # K9: S3 (AG6), then a complaint S1 taken in hand by AG5 at réclamations, then S2 reaching AG5
    # at accueil: same agent, not the same team (W46)
    _handled("S3", 1, "K9", "accueil", "2026-11-09T07:00:00", "AG6"),
    _handled("S2", 1, "K9", "accueil", "2026-11-11T09:00:00", "AG5"),
    # K10: T2 starts at the very second T1 is answered: nothing was handled before it, no follow-up
    _handled("T1", 1, "K10", "accueil", "2026-11-09T15:00:00", "AG1"),
    _handled("T2", 1, "K10", "accueil", "2026-11-09T15:00:10", "AG1"),
    # K11 (W44): U1 answered with no agent recorded, then the case U2 (below): no agent, no team
    _handled("U1", 1, "K11", "accueil", "2026-10-27T10:00:00", "-"),
    # K12 (W45): V2 reaches V1's agent, now at facturation: same agent, not the same team
    _handled("V1", 1, "K12", "accueil", "2026-11-03T10:00:00", "AG3"),
    _handled("V2", 1, "K12", "facturation", "2026-11-04T10:00:00", "AG3"),
]
CONTINUITY_CASES = [
    ("Q1", "K6", "2026-11-10T14:30:00+01:00", "phone", "billing", "Q1", "normal"),
    # K6 comes back by a complaint of their own, taken in hand at once by AG10 in the unassigned
    # state: not AG8, who resolved Q1 (W46)
    ("Q2", "K6", "2026-11-13T09:00:00+01:00", "web", "billing", "", "normal"),
    # K7's complaint, not taken in hand at the end of the data: not counted, and W47 provisional
    # until its acknowledgement deadline (48 h)
    ("N3", "K7", "2026-11-22T10:00:00+01:00", "web", "billing", "", "normal"),
    ("S1", "K9", "2026-11-09T08:00:00+01:00", "web", "billing", "", "normal"),
    ("U2", "K11", "2026-10-28T10:00:00+01:00", "web", "billing", "", "normal"),
]
CONTINUITY_CASE_EVENTS = [
    ("Q1", 1, "opened", "2026-11-10T14:30:00+01:00", "reclamations", "open", "AG8"),
    ("Q1", 2, "resolved", "2026-11-11T10:00:00+01:00", "reclamations", "resolved", "AG8"),
    ("Q2", 1, "opened", "2026-11-13T09:00:00+01:00", "", "open", "AG10"),
    ("S1", 1, "assigned", "2026-11-09T12:00:00+01:00", "reclamations", "in_progress", "AG5"),
    ("U2", 1, "opened", "2026-10-28T10:00:00+01:00", "", "open", "AG8"),
]


def load_golden_continuity(settings):
    load_files(
        settings,
        "continuity",
        {"calls": CONTINUITY_CALLS, "cases": CONTINUITY_CASES, "case_events": CONTINUITY_CASE_EVENTS},
    )


@pytest.fixture(scope="module")
def continuity(tmp_path_factory):
    home = tmp_path_factory.mktemp("golden_continuity")
    settings = load_settings(base_dir=home)
    if not copy_prebuilt("golden_continuity", home):  # the mutation gate ingested these files once
        load_golden_continuity(settings)
    build_models(settings, sql_dir=models_sql_dir())
    con = connect(settings.warehouse, read_only=True)
    yield con
    con.close()


# ---- runs longer than the span bound, with journey_scope case ----------------------------------
# Winter 2025-26 (CET throughout), journey_window_days 7, journey_max_span_days 30, journey_scope
# case. Day n is n days after Monday 3 November 2025 10:00.
# V40 has two runs longer than the bound, 14 days apart: N00-N06 every 6 days (days 0 to 36),
# cut at N06 (36 days after N00); P00-P04 every 7 days (days 50 to 78, each exactly the window
# after the one before: no gap), P05 on day 81, cut there (31 days after P00). Each run is cut
# from its own first call, never from the other run's.
# V41 calls Q0-Q4 every 7 days from day 1, Q5 on day 32 (31 days after Q0, cut), and complains
# directly (G1) on day 10: in case scope the case is a journey of its own, beside the long run.
SPAN_START = datetime.fromisoformat("2025-11-03T10:00:00+01:00")
SPAN_CALLS = [_chain_call(f"N{i:02d}", "V40", SPAN_START + timedelta(days=6 * i)) for i in range(7)]
SPAN_CALLS += [
    _chain_call(f"P{i:02d}", "V40", SPAN_START + timedelta(days=day)) for i, day in enumerate([50, 57, 64, 71, 78, 81])
]
SPAN_CALLS += [
    _chain_call(f"Q{i}", "V41", SPAN_START + timedelta(days=day)) for i, day in enumerate([1, 8, 15, 22, 29, 32])
]
SPAN_CASES = [("G1", "V41", "2025-11-13T10:00:00+01:00", "web", "billing", "", "normal")]
SPAN_CASE_EVENTS = [
    ("G1", 1, "opened", "2025-11-13T10:00:00+01:00", "reclamations", "open"),
    ("G1", 2, "resolved", "2025-11-15T10:00:00+01:00", "reclamations", "resolved"),
]


def load_golden_spans(settings):
    load_files(settings, "spans", {"calls": SPAN_CALLS, "cases": SPAN_CASES, "case_events": SPAN_CASE_EVENTS})


@pytest.fixture(scope="module")
def spans(tmp_path_factory):
    con = built_with_config(tmp_path_factory, "golden_spans", load_golden_spans, "metrics:\n  journey_scope: case\n")
    yield con
    con.close()


def test_continuity_of_agent_and_team_at_its_edges(continuity):
    followups = {
        (kind, ref): rest
        for kind, ref, *rest in continuity.execute(
            "SELECT contact_type, contact_ref, week, handled, agent_recorded, same_agent, team_recorded, same_team "
            "FROM followups"
        ).fetchall()
    }
    # week, handled, agent recorded, same agent, team recorded, same team
    assert followups == {
        ("case", "U2"): ["2026-W44", True, False, False, False, False],  # no agent before, no team now
        ("call", "V2"): ["2026-W45", True, True, True, True, False],
        ("call", "H2"): ["2026-W46", True, True, False, True, False],  # the last handler, not any handler
        ("call", "M2"): ["2026-W46", True, False, False, True, True],  # no agent recorded: left out, not a break
        ("call", "M3"): ["2026-W46", True, False, False, True, True],  # nor after one without an agent
        ("call", "N3"): ["2026-W46", False, False, False, False, False],  # abandoned: nobody handled it
        ("call", "P2"): ["2026-W46", True, True, True, True, True],
        ("case", "Q2"): ["2026-W46", True, True, False, False, False],  # unassigned: no team to compare
        ("call", "Q2"): ["2026-W46", True, True, True, False, False],  # after the case of its id: no team
        ("call", "S1"): ["2026-W46", True, True, False, True, True],
        ("case", "S1"): ["2026-W46", True, True, False, True, False],
        ("call", "S2"): ["2026-W46", True, True, True, True, False],  # after the case S1, not the call
        ("call", "G2"): ["2026-W47", True, True, True, True, True],  # the first it reached, after G1's transfer
        ("call", "P3"): ["2026-W47", True, True, False, True, True],  # Monday 00:30 in Paris: W47
        ("case", "N3"): ["2026-W47", False, False, False, False, False],  # not taken in hand yet
    }
    rows = continuity.execute(
        "SELECT week, metric, numerator, denominator, value, provisional FROM weekly_scorecard "
        "WHERE metric IN ('agent_continuity', 'team_continuity', 'followups_without_agent') ORDER BY 1, 2"
    ).fetchall()
    assert rows == [
        # W44: one follow-up, no agent recorded before it, no team now: no value, never 0 %
        ("2026-W44", "agent_continuity", 0, 0, None, False),
        ("2026-W44", "followups_without_agent", 1, None, 1, False),
        ("2026-W44", "team_continuity", 0, 0, None, False),
        ("2026-W45", "agent_continuity", 1, 1, 100, False),
        ("2026-W45", "followups_without_agent", 0, None, 0, False),
        ("2026-W45", "team_continuity", 0, 1, 0, False),
        # W46: P2, Q2, S2 the same agent of 7 (M2 and M3 left out); M2, M3, P2, call S1 the same
        # team of 7 (the case and the call Q2 left out)
        ("2026-W46", "agent_continuity", 3, 7, pytest.approx(300 / 7), False),
        ("2026-W46", "followups_without_agent", 2, None, 2, False),
        ("2026-W46", "team_continuity", 4, 7, pytest.approx(400 / 7), False),
        # W47: G2 of G2, P3; provisional until N3's deadline, 24 November 10:00, past the horizon
        ("2026-W47", "agent_continuity", 1, 2, 50, True),
        ("2026-W47", "followups_without_agent", 0, None, 0, True),
        ("2026-W47", "team_continuity", 2, 2, 100, True),
    ]
    final = dict(continuity.execute("SELECT week, final_at FROM weekly_continuity").fetchall())
    assert final == {
        "2026-W44": None,
        "2026-W45": None,
        "2026-W46": None,  # the abandoned N3 and the handled case Q2 wait for nothing
        "2026-W47": datetime(2026, 11, 24, 9, tzinfo=UTC),
    }


def test_two_long_runs_of_one_customer_are_each_cut_from_their_own_start(spans):
    placed = spans.execute(
        "SELECT contact_ref, split_part(journey_id, ':', -1), stitch_rule FROM journey_contacts "
        "WHERE contact_ref LIKE 'N%' OR contact_ref LIKE 'P%' ORDER BY contact_ref"
    ).fetchall()
    within = "same_customer_within_window"
    assert placed == [
        ("N00", "N00", "new_journey"),
        *((f"N{i:02d}", "N00", within) for i in range(1, 6)),  # N05: exactly 30 days after N00
        ("N06", "N06", "journey_span_limit"),
        ("P00", "P00", "new_journey"),  # 14 days after N06: a new run
        *((f"P{i:02d}", "P00", within) for i in range(1, 5)),
        ("P05", "P05", "journey_span_limit"),  # 31 days after P00
    ]


def test_a_case_of_its_own_beside_a_long_run_of_calls(spans):
    placed = spans.execute(
        "SELECT contact_type, contact_ref, split_part(journey_id, ':', -1), stitch_rule FROM journey_contacts "
        "WHERE contact_ref LIKE 'Q%' OR contact_ref = 'G1' ORDER BY contact_ref"
    ).fetchall()
    assert placed == [
        ("case", "G1", "G1", "new_journey"),  # 9 days after Q0, within the window: its own journey all the same
        ("call", "Q0", "Q0", "new_journey"),
        *(("call", f"Q{i}", "Q0", "same_customer_within_window") for i in range(1, 5)),
        ("call", "Q5", "Q5", "journey_span_limit"),
    ]
    journeys = spans.execute(
        "SELECT split_part(journey_id, ':', -1), calls, cases FROM journeys "
        "WHERE journey_id IN (SELECT journey_id FROM journey_contacts WHERE contact_ref IN ('G1', 'Q0', 'Q5')) "
        "ORDER BY 1"
    ).fetchall()
    assert journeys == [("G1", 0, 1), ("Q0", 5, 0), ("Q5", 1, 0)]
