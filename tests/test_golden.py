"""Hand-worked golden cases: a tiny service week whose every expected figure is worked out by
hand in the comments, including a short abandon, a Sunday-midnight week boundary on the day
summer time ends (25 October 2026), a journey spanning two weeks, a reopened complaint and a
week whose denominators are zero."""

import csv
import io

import pytest

from pipelines.config import load_settings
from pipelines.contracts import CONTRACTS
from pipelines.ingest import ingest_paths
from pipelines.models import build_models
from pipelines.profiles import load_profile
from pipelines.warehouse import connect

CALLS = [
    # C1, Monday 19 Oct (W43): 10 s wait, 300 s handled at accueil, warm transfer; 60 s wait, 240 s at facturation
    ("A", 1, "C1", "accueil", "2026-10-19T09:00:00+02:00", "2026-10-19T09:00:10+02:00", "2026-10-19T09:05:10+02:00",
     "answered", "warm"),
    ("A", 2, "C1", "facturation", "2026-10-19T09:05:10+02:00", "2026-10-19T09:06:10+02:00",
     "2026-10-19T09:10:10+02:00", "answered", "none"),
    # C2, Sunday 25 Oct 23:59:50 CET (still W43): hangs up after 3 s, a short abandon
    ("B", 1, "C2", "accueil", "2026-10-25T23:59:50+01:00", "", "2026-10-25T23:59:53+01:00", "abandoned", "none"),
    # C2 again 40 s later, Monday 26 Oct (W44): 30 s wait, 120 s handled; same journey, started in W43
    ("C", 1, "C2", "accueil", "2026-10-26T00:00:30+01:00", "2026-10-26T00:01:00+01:00", "2026-10-26T00:03:00+01:00",
     "answered", "none"),
    # C3, Saturday 24 Oct (W43): abandons after 40 s, calls back and is answered after 5 s, 100 s handled
    ("D", 1, "C3", "accueil", "2026-10-24T10:00:00+02:00", "", "2026-10-24T10:00:40+02:00", "abandoned", "none"),
    ("E", 1, "C3", "accueil", "2026-10-24T10:30:00+02:00", "2026-10-24T10:30:05+02:00", "2026-10-24T10:31:45+02:00",
     "answered", "none"),
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
    "calls": ["call_id", "segment_no", "customer_ref", "team", "offered_at", "answered_at", "ended_at", "outcome",
              "transfer_type"],
    "survey_responses": ["response_id", "customer_ref", "interaction_type", "interaction_ref", "responded_at", "nps",
                         "csat", "ces", "resolved", "had_to_repeat"],
    "cases": ["case_id", "customer_ref", "opened_at", "channel", "category", "origin_ref", "priority"],
    "case_events": ["case_id", "event_seq", "event_type", "event_at", "team", "status"],
}


def _rows(table, tuples):
    cols = CONTRACTS[table].column_names
    rows = [dict({c: "" for c in cols}, **dict(zip(FIELDS[table], t))) for t in tuples]
    for row in rows:  # what the tables above leave out: each team has its own queue; language fr
        if table == "calls":
            row.update(queue=f"Q_{row['team'].upper()}", agent_id="A1" if row["answered_at"] else "",
                       hold_seconds="0", wrap_code="w")
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
        assert result.status == "loaded" and result.rows_loaded == len(rows), result.problems


def scorecard(settings):
    """(week, metric) -> (numerator, denominator, value, ci_low, ci_high), and each handoff's reasons."""
    con = connect(settings.warehouse, read_only=True)
    rows = con.execute("SELECT week, metric, numerator, denominator, value, ci_low, ci_high FROM weekly_scorecard"
                       ).fetchall()
    handoffs = {k: (w, sorted(r)) for k, w, r in con.execute(
        "SELECT handoff_key, week, failure_reasons FROM handoffs").fetchall()}
    con.close()
    return {(w, m): (n, d, v, lo, hi) for w, m, n, d, v, lo, hi in rows}, handoffs


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    settings = load_settings(base_dir=tmp_path_factory.mktemp("golden"))
    load_files(settings, "golden", {"calls": CALLS, "survey_responses": SURVEYS, "cases": CASES,
                                    "case_events": CASE_EVENTS})
    build_models(settings)
    return scorecard(settings)


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
    assert num_den(figures, "2026-W43", "nps") == (1, 1)  # R1: one promoter
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
    assert figures[0][("2026-W45", "nps")][1:3] == (0, None)
    assert figures[0][("2026-W45", "csat")][1:3] == (0, None)


def test_complaints(figures):
    # CASE1 opened in W43 among 4 calls + 1 case: 200 per 1,000 contacts
    assert num_den(figures, "2026-W43", "complaints_per_1000_contacts") == (1000, 5)
    # first resolved 3 days after opening (both in summer time: exactly 72 hours), within the 10-day SLA
    assert num_den(figures, "2026-W43", "complaints_resolved_within_sla") == (1, 1)
    assert value(figures, "2026-W43", "complaint_resolution_days_median") == 3
    assert num_den(figures, "2026-W43", "complaint_reopen_rate") == (1, 1)
