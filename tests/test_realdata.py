"""Each shipped real-data profile loads its public sample, read in place from ../shared/realdata/."""

import os
from datetime import timedelta
from pathlib import Path

import pytest

from pipelines.config import load_settings
from pipelines.ingest.load import ingest_paths
from pipelines.ingest.profiles import load_profile
from pipelines.model.build import build_models
from pipelines.warehouse import connect
from tests.conftest import REPO_ROOT

# beside the repository; a checkout elsewhere (a worktree) names the folder in ESPRIT_REALDATA
REALDATA = Path(os.environ.get("ESPRIT_REALDATA") or REPO_ROOT.parent / "shared" / "realdata")
pytestmark = pytest.mark.skipif(
    not REALDATA.is_dir(), reason=f"the real public exports are not beside the repository ({REALDATA.name}/ absent)"
)

# file, profile, rows read, loaded, quarantined, duplicate, derived rows
SAMPLES = [
    # 57 AGENT calls have no service start nor end (0:00:00): quarantined
    ("anonbank_1999_08_calls.csv", "anonbank_calls", 42078, 42021, 57, 0, 0),
    ("bpic2013_volvo_incidents_VINST-new.csv", "bpic2013_case_events", 65533, 65533, 0, 0, 7554),
    ("cfpb_complaints_sample_2016_349rows.csv", "cfpb_cases", 349, 349, 0, 0, 0),
    # the same profile: ISO dates (its second timestamp format) and multi-line narratives, not kept
    ("cfpb_complaints_2019_268rows_narratives.csv", "cfpb_cases", 268, 268, 0, 0, 0),
    ("nps_verbatims_textsummary_2385.csv", "nps_survey_responses", 2385, 2385, 0, 0, 0),
    # a wide survey: 14 rated aspects per passenger, every cell given, unpivoted into survey_answers
    ("airline_passenger_satisfaction_20k.csv", "airline_survey", 20000, 20000, 0, 0, 280000),
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    home = tmp_path_factory.mktemp("realdata")
    # the bank's calls are of August 1999: an archive site moves the plausible window back
    (home / "esprit.yaml").write_text('ingest: {plausible_from: "1990-01-01"}\n')
    settings = load_settings(home / "esprit.yaml", base_dir=home)
    before = {p.name: os.stat(p).st_mtime_ns for p in REALDATA.iterdir()}
    results = {}
    for name, profile, *_ in SAMPLES:
        (results[name],) = ingest_paths(settings, "realdata", [REALDATA / name], load_profile(profile))
    assert {p.name: os.stat(p).st_mtime_ns for p in REALDATA.iterdir()} == before  # read in place, untouched
    build_models(settings)
    return settings, results


@pytest.mark.parametrize("sample", SAMPLES, ids=[s[1] for s in SAMPLES])
def test_profile_loads_its_sample_with_exact_counts(loaded, sample):
    _, results = loaded
    name, _, read, ok, quarantined, duplicate, derived = sample
    r = results[name]
    assert r.status == "loaded", r.problems[:5]
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined, r.rows_duplicate, r.derived_rows) == (
        read,
        ok,
        quarantined,
        duplicate,
        derived,
    )
    assert r.rows_read == r.rows_loaded + r.rows_quarantined + r.rows_duplicate


def test_real_exports_become_metrics(loaded):
    settings, _ = loaded
    con = connect(settings.warehouse, read_only=True)
    try:
        # the Volvo support-team and level changes are handoffs, some of them bouncing back
        kinds = dict(con.execute("SELECT kind, count(*) FROM handoffs GROUP BY kind").fetchall())
        assert kinds["reassignment"] > 5000
        reasons = {r for (rs,) in con.execute("SELECT failure_reasons FROM handoffs").fetchall() for r in rs}
        assert {"bounce_back", "ping_pong", "reopened"} <= reasons
        # the bank's August 1999 calls: HANG and PHANTOM are abandoned, AGENT answered
        calls = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE first_outcome = 'abandoned') FROM stg_call_outcomes"
        ).fetchone()
        assert calls == (42078 - 57, 42078 - 31402)  # 31,402 AGENT calls, 57 of them quarantined
        weeks = {w for (w,) in con.execute("SELECT DISTINCT week FROM stg_calls").fetchall()}
        assert weeks == {"1999-W30", "1999-W31", "1999-W32", "1999-W33", "1999-W34", "1999-W35"}
        # NPS: R's missing integer is a missing score, not a score
        nps = con.execute(
            "SELECT count(*), count(nps), min(nps), max(nps) FROM survey_responses WHERE source_file LIKE 'nps%'"
        ).fetchone()
        assert nps == (2385, 2385 - 32, 0, 10)  # 32 responses without a score
        raw_ids = con.execute("SELECT count(*) FROM calls WHERE customer_ref NOT LIKE 'p\\_%' ESCAPE '\\'").fetchone()
        assert raw_ids == (0,)
        # the Volvo cases derived from the history carry their first resolution, never before the opening
        resolved = con.execute(
            "SELECT count(resolved_at), count(*) FILTER (WHERE resolved_at < opened_at), "
            "count(*) FROM cases WHERE source_file LIKE 'bpic2013%'"
        ).fetchone()
        assert resolved[0] > 0.5 * resolved[2] and resolved[1] == 0 and resolved[2] == 7554
    finally:
        con.close()


def test_volvo_handoffs_match_an_independent_count(loaded):
    """Support-team and level changes counted with plain pandas, not with the SQL under test."""
    import pandas as pd

    settings, _ = loaded
    log = pd.read_csv(REALDATA / "bpic2013_volvo_incidents_VINST-new.csv", dtype=str, encoding="utf-8-sig")
    log["at"] = pd.to_datetime(log["Change Date+Time"], utc=True)
    log["line"] = range(len(log))
    log = log.sort_values(["SR Number", "at", "line"])
    log["team"] = log["Involved ST"] + " " + log["ST Level"]
    log["previous"] = log.groupby("SR Number")["team"].shift()
    moves = log[log["previous"].notna() & (log["team"] != log["previous"])]
    seen_before = set()
    bounce = 0
    for sr, team, prev in zip(log["SR Number"], log["team"], log["previous"]):
        if prev is not None and prev == prev and team != prev and (sr, team) in seen_before:
            bounce += 1
        seen_before.add((sr, team))
    level = moves["team"].str.split(" ").str[-1]
    previous_level = moves["previous"].str.split(" ").str[-1]
    pushed_up = int(((previous_level == "L1") & level.isin(["L2", "L3", "L2/L3"])).sum())
    came_back = int(((level == "L1") & previous_level.isin(["L2", "L3", "L2/L3"])).sum())

    con = connect(settings.warehouse, read_only=True)
    try:
        got = con.execute("""
            SELECT count(*),
                   count(*) FILTER (WHERE list_contains(failure_reasons, 'bounce_back')),
                   count(*) FILTER (WHERE split_part(from_team, ' ', -1) = 'L1'
                                    AND split_part(to_team, ' ', -1) IN ('L2', 'L3', 'L2/L3')),
                   count(*) FILTER (WHERE split_part(to_team, ' ', -1) = 'L1'
                                    AND split_part(from_team, ' ', -1) IN ('L2', 'L3', 'L2/L3'))
            FROM handoffs WHERE kind = 'reassignment'
        """).fetchone()
    finally:
        con.close()
    assert got == (len(moves), bounce, pushed_up, came_back)
    assert pushed_up > 1000 and came_back > 100


def test_bank_call_kpis_match_the_log_own_durations(loaded):
    """Abandonment, speed of answer, handle time and service level against the log's own
    q_time and ser_time fields (the warehouse derives them from the clock times)."""
    import pandas as pd

    settings, _ = loaded
    log = pd.read_csv(REALDATA / "anonbank_1999_08_calls.csv", dtype=str)
    for col in ("q_time", "ser_time"):
        log[col] = log[col].astype(int)
    no_service = (log["outcome"] == "AGENT") & (log["ser_start"] == "0:00:00")
    assert no_service.sum() == 57  # the rows the profile quarantines
    log = log[~no_service]
    agent = log[log["outcome"] == "AGENT"]
    abandoned = log[log["outcome"] != "AGENT"]
    abandonment = len(abandoned) / len(log)
    asa = agent["q_time"].mean()
    aht = agent["ser_time"].mean()
    short = (abandoned["q_time"].where(abandoned["q_time"] > 0, 0) < 5).sum()
    service_level = (agent["q_time"] <= 20).sum() / (len(log) - short)

    con = connect(settings.warehouse, read_only=True)
    try:
        got = con.execute("""
            SELECT count(*) FILTER (WHERE first_outcome = 'abandoned') / count(*),
                   avg(first_wait_seconds) FILTER (WHERE first_outcome = 'answered'),
                   avg(handle_seconds) FILTER (WHERE answered),
                   count(*) FILTER (WHERE first_outcome = 'answered' AND first_wait_seconds <= 20)
                   / (count(*) - count(*) FILTER (WHERE first_outcome = 'abandoned' AND first_abandon_seconds < 5))
            FROM stg_call_outcomes
        """).fetchone()
    finally:
        con.close()
    assert got[0] == pytest.approx(abandonment, abs=1e-12)
    # the clock times are rounded to the second: averages agree within a second, rates within 1 point
    assert abs(got[1] - asa) < 1.0 and abs(got[2] - aht) < 1.0
    assert abs(got[3] - service_level) < 0.01


def test_bank_continuity_matches_an_independent_count(loaded):
    """Agent and team continuity of the bank's returning callers, counted with plain Python from the
    loaded calls (one segment each), not with the SQL under test: journeys cut at a gap over 7 days
    or 30 days after their first call, the previous handler the last answered call before each
    follow-up. The Volvo incidents and the CFPB complaints are one journey each: no follow-up."""
    from collections import Counter, defaultdict

    from pipelines.weeks import week_label

    settings, _ = loaded
    con = connect(settings.warehouse, read_only=True)
    try:
        calls = con.execute(
            "SELECT customer_ref, offered_at, call_id, outcome = 'answered', answered_at, "
            "nullif(trim(agent_id), ''), team FROM calls ORDER BY customer_ref, offered_at, call_id"
        ).fetchall()
        got = {
            week: rest
            for week, *rest in con.execute(
                "SELECT week, followups, agent_recorded, same_agent, no_agent_recorded, team_recorded, same_team "
                "FROM weekly_continuity"
            ).fetchall()
        }
        case_followups = con.execute("SELECT count(*) FROM followups WHERE contact_type = 'case'").fetchone()[0]
    finally:
        con.close()
    window, span = timedelta(days=7), timedelta(days=30)
    counts: dict[str, Counter] = defaultdict(Counter)
    customer = start = last = None
    journey: list[tuple] = []
    for call in calls:
        ref, at, call_id, answered, answered_at, agent, team = call
        if ref != customer or at - last > window or at - start > span:
            customer, start, journey = ref, at, []
        else:
            before = [c for c in journey if c[3] and c[4] < at]
            if before and answered:
                *_, previous_agent, previous_team = max(before, key=lambda c: (c[4], c[2]))
                c = counts[week_label(at, settings.week_timezone)]
                recorded = agent is not None and previous_agent is not None
                c["followups"] += 1
                c["agent_recorded"] += recorded
                c["same_agent"] += recorded and agent == previous_agent
                c["team_recorded"] += 1
                c["same_team"] += team == previous_team
        last = at
        journey.append(call)
    expected = {
        week: [
            c["followups"],
            c["agent_recorded"],
            c["same_agent"],
            c["followups"] - c["agent_recorded"],
            c["team_recorded"],
            c["same_team"],
        ]
        for week, c in counts.items()
    }
    assert got == expected and case_followups == 0
    # computed every week of the log, neither 0 nor all: some callers reach their agent again
    assert all(0 < same < recorded for _, recorded, same, *_ in got.values()) and len(got) == 6


def _complaint_only_site(home, sample: str, profile: str):
    """A site whose one configured source is complaints, read by `profile`: its sample loaded, built."""
    import json

    config = home / "esprit.yaml"
    config.write_text(json.dumps({"sources": {"complaints": [{"match": "*", "profile": profile}]}}))
    settings = load_settings(config_file=config, base_dir=home)
    (result,) = ingest_paths(settings, "complaints", [REALDATA / sample])
    build_models(settings)
    return settings, result


@pytest.fixture(scope="module")
def sf311(tmp_path_factory):
    """San Francisco 311 as a complaint-only site: one configured source, a snapshot without history."""
    return _complaint_only_site(tmp_path_factory.mktemp("sf311"), "sf311_cases_sample_10000.csv", "sf311_cases")


def test_sf311_is_a_complaint_only_site_with_resolution_figures_and_complete_weeks(sf311):
    import json

    from pipelines.report.scorecard import render_weeks

    settings, result = sf311
    assert result.status == "loaded", result.problems[:5]
    # cases closed before they were opened break the order rule; everything else loads
    assert result.rows_read == result.rows_loaded + result.rows_quarantined + result.rows_duplicate == 10000
    assert 100 < result.rows_quarantined < 200
    con = connect(settings.warehouse, read_only=True)
    try:
        busiest = con.execute(
            "SELECT week FROM stg_cases GROUP BY week ORDER BY count(*) DESC, week LIMIT 1"
        ).fetchone()[0]
        resolved = con.execute(
            "SELECT count(*) FILTER (WHERE first_resolved_at IS NOT NULL), count(*) FROM stg_cases"
        ).fetchone()
        figures = {
            m: (v, missing)
            for m, v, missing in con.execute(
                "SELECT metric, value, missing_feeds FROM weekly_scorecard WHERE week = ?", [busiest]
            ).fetchall()
        }
    finally:
        con.close()
    assert resolved[0] > 0.9 * resolved[1]  # Closed is the resolution of a snapshot export
    assert figures["complaints_resolved_within_sla"][0] is not None
    assert figures["complaint_resolution_days_median"][0] is not None
    # a snapshot has no case history, so no acknowledgement can be read: no figure, not 0 %
    assert figures["complaints_acknowledged_within_sla"][0] is None
    for metric in ("service_level", "friction_index_reach", "complaints_per_1000_contacts", "nps"):
        assert figures[metric][0] is None and figures[metric][1], metric
    assert not any(m in figures for m in ("agent_continuity", "team_continuity"))  # one journey per case
    render_weeks(settings, [busiest], languages=["en"], pdf=False, exports=False)
    page = json.loads((settings.scorecards_dir / busiest / "scorecard.json").read_text(encoding="utf-8"))
    assert page["quality"]["complete"] is True
    assert [s["source"] for s in page["quality"]["sources"]] == ["complaints"]
    assert page["stages"]["reach"]["share"] == "" and page["stages"]["recover"]["share"].endswith("%")
    html = (settings.scorecards_dir / busiest / "scorecard.en.html").read_text(encoding="utf-8")
    stage_table = html.split('<table class="stages">')[1].split("</table>")[0]
    assert "0.0%" not in stage_table.split('data-stage="resolve"')[0]  # reach and understand: no data, not 0


@pytest.fixture(scope="module")
def bpic_site(tmp_path_factory):
    """The BPIC 2013 incident log as a complaint-only site with a case history and team handoffs."""
    return _complaint_only_site(
        tmp_path_factory.mktemp("bpic"), "bpic2013_volvo_incidents_VINST-new.csv", "bpic2013_case_events"
    )


def test_bpic_is_a_complaint_only_site_with_handoffs_resolution_figures_and_no_false_zero(bpic_site):
    import json

    from pipelines.model.feeds import journey_scope
    from pipelines.report.scorecard import render_weeks

    settings, result = bpic_site
    assert result.status == "loaded" and result.rows_read == result.rows_loaded == 65533
    con = connect(settings.warehouse, read_only=True)
    try:
        # a week of a hundred-odd incidents: the busiest (5,469) renders a page per team pair for minutes
        busiest = con.execute(
            "SELECT week FROM stg_cases GROUP BY week HAVING count(*) BETWEEN 30 AND 200 "
            "ORDER BY count(*) DESC, week LIMIT 1"
        ).fetchone()[0]
        figures = {
            m: (v, missing)
            for m, v, missing in con.execute(
                "SELECT metric, value, missing_feeds FROM weekly_scorecard WHERE week = ?", [busiest]
            ).fetchall()
        }
        journeys, cases = con.execute(
            "SELECT (SELECT count(*) FROM journeys), (SELECT count(*) FROM stg_cases)"
        ).fetchone()
    finally:
        con.close()
    # no calls feed: each incident is a journey of its own, never hundreds in one
    assert journey_scope(settings) == "case" and journeys == cases
    assert figures["handoff_failure_rate"][0] is not None and figures["complaint_resolution_days_median"][0] is not None
    for metric in ("service_level", "abandonment_rate", "friction_index_reach", "nps", "complaints_per_1000_contacts"):
        assert figures[metric][0] is None and figures[metric][1], metric
    # one journey per incident: no customer comes back within one, so no continuity to read
    assert not any(m in figures for m in ("agent_continuity", "team_continuity", "followups_without_agent"))
    render_weeks(settings, [busiest], languages=["en", "fr"], pdf=False, exports=False)
    page = json.loads((settings.scorecards_dir / busiest / "scorecard.json").read_text(encoding="utf-8"))
    assert page["quality"]["complete"] is True
    assert [s["source"] for s in page["quality"]["sources"]] == ["complaints"]
    for lang, no_data in (("en", "no data"), ("fr", "pas de données")):
        html = (settings.scorecards_dir / busiest / f"scorecard.{lang}.html").read_text(encoding="utf-8")
        tiles_html = html.split('<div class="tiles">')[1].split('<div class="tile ')
        tiles = {t.split('data-metric="')[1].split('"')[0]: t for t in tiles_html[1:]}  # the tiles, not later views
        for metric in ("service_level", "abandonment_rate", "nps"):
            value = tiles[metric].split('<div class="value">')[1].split("</div>")[0]
            assert value == no_data and 'data-value=""' in tiles[metric], (lang, metric)
        for metric in ("agent_continuity", "team_continuity"):  # the pyramid says no data, not 0 %
            row = html.split(f'<tr data-metric="{metric}"')[1].split("</tr>")[0]
            assert 'data-value="" data-status="no_data"' in row and f'<td class="num">{no_data}</td>' in row


# The edits each real sample's proposed profile needed before loading (esprit profile init; the
# onboarding walk-through in docs/ingestion.md shows the SF311 one).
PROPOSAL_EDITS = {
    "sf311_cases_sample_10000.csv": {
        "timezone": "America/Los_Angeles",
        "channel": {
            "Voice In": "phone",
            "Open311": "web",
            "Web Self Service": "web",
            "Twitter": "web",
            "e-mail In": "email",
            "Mail In": "letter",
            "Integrated Agency": "other",
            "Other Department": "other",
        },
    },
    "cfpb_complaints_2019_268rows_narratives.csv": {
        "timezone": "America/New_York",
        "channel": {"Referral": "other", "Postal mail": "letter", "Fax": "other"},
    },
}


@pytest.mark.parametrize(
    "sample, expected", [("sf311_cases_sample_10000.csv", 10000), ("cfpb_complaints_2019_268rows_narratives.csv", 268)]
)
def test_a_proposed_profile_with_its_todo_edits_loads_a_real_sample(tmp_path, sample, expected):
    """profile init on a real export, then only the edits its TODO list names (a customer
    reference, the channel values, the timezone): every row is loaded, quarantined or a duplicate."""
    import yaml

    from pipelines.ingest.onboarding import propose_profile

    proposal = propose_profile(REALDATA / sample, "cases", "proposed")
    profile = proposal.profile
    edits = PROPOSAL_EDITS[sample]
    todo = {t.split(" ")[0].rstrip(":") for t in proposal.todo}
    assert todo == {"customer_ref", "value_maps.channel", "timezone"}, proposal.todo
    (customer,) = [t for t in proposal.todo if t.startswith("customer_ref")]
    profile["columns"]["customer_ref"] = customer.split("`")[1]  # the TODO's own proposal
    profile["timezone"] = edits["timezone"]
    stub = profile["value_maps"]["channel"]
    profile["value_maps"]["channel"] = {k: edits["channel"].get(k, v) for k, v in stub.items()}
    assert not any(v.startswith("TODO") for v in profile["value_maps"]["channel"].values())
    path = tmp_path / "proposed.yaml"
    path.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    settings = load_settings(base_dir=tmp_path)
    (result,) = ingest_paths(settings, "complaints", [REALDATA / sample], load_profile(path))
    assert result.status == "loaded", result.problems[:5]
    assert result.rows_read == result.rows_loaded + result.rows_quarantined + result.rows_duplicate == expected
    assert result.rows_loaded > 0.95 * expected


def test_cfpb_profile_reads_the_snake_case_header_of_the_same_export(tmp_path):
    """CFPB's API and some mirrors write the header in snake_case: the shipped profile renames it."""
    import re

    text = (REALDATA / "cfpb_complaints_sample_2016_349rows.csv").read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    snake = ",".join(re.sub(r"[^a-z0-9]+", "_", h.strip('"').lower()).strip("_") for h in header.split(","))
    variant = tmp_path / "complaints" / "cfpb_snake.csv"
    variant.parent.mkdir()
    variant.write_text(snake + "\n" + rest, encoding="utf-8")
    settings = load_settings(base_dir=tmp_path)
    (result,) = ingest_paths(settings, "complaints", [variant], load_profile("cfpb_cases"))
    assert (result.status, result.rows_read, result.rows_loaded) == ("loaded", 349, 349), result.problems[:3]


def test_the_airline_survey_gives_a_driver_view_of_its_aspects(loaded):
    """Each aspect's answers split between satisfied and dissatisfied passengers, the zeros of the
    export counted as not applicable, nothing else lost; counted again from the file itself."""
    import csv

    settings, _ = loaded
    with (REALDATA / "airline_passenger_satisfaction_20k.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    profile = load_profile("airline_survey")
    (unpivot,) = [d.unpivot for d in profile.derive if d.unpivot]
    con = connect(settings.warehouse, read_only=True)
    try:
        drivers = con.execute(
            "SELECT question, answers, not_applicable, satisfied_answers, dissatisfied_answers, satisfied_mean "
            "FROM weekly_survey_drivers WHERE week = '2020-W08'"
        ).fetchall()
    finally:
        con.close()
    assert len(drivers) == 14
    for question, answers, not_applicable, satisfied, dissatisfied, satisfied_mean in drivers:
        column = unpivot.questions[question]
        given = [(int(r[column]), r["satisfaction"] == "satisfied") for r in rows if r[column].strip()]
        assert not_applicable == sum(1 for v, _ in given if v == 0)
        assert answers == satisfied + dissatisfied == sum(1 for v, _ in given if v != 0)
        happy = [v for v, ok in given if ok and v != 0]
        assert satisfied == len(happy) and abs(satisfied_mean - sum(happy) / len(happy)) < 1e-9


def test_a_proposed_profile_of_the_airline_survey_loads_it_with_its_documented_edits(tmp_path):
    """profile init proposes the unpivot of the 14 ratings, a stub mapping the satisfaction labels
    (never guessed) and no date; the edits docs/ingestion.md lists make it load every row."""
    import yaml

    from pipelines.ingest.onboarding import propose_profile

    proposal = propose_profile(REALDATA / "airline_passenger_satisfaction_20k.csv", "survey_responses", "proposed")
    todo = {t.split(" ")[0].rstrip(":") for t in proposal.todo}
    assert todo == {"customer_ref", "responded_at", "value_maps.csat", "timezone", "unpivot"}, proposal.todo
    profile = proposal.profile
    assert profile["unpivot"] == _shipped_unpivot()
    assert set(profile["value_maps"]["csat"]) == {"satisfied", "neutral or dissatisfied"}
    # the edits: the TODO's customer reference, a fixed date instead of NULL, the label map, the timezone
    (customer,) = [t for t in proposal.todo if t.startswith("customer_ref")]
    profile["columns"]["customer_ref"] = customer.split("`")[1]
    del profile["columns"]["responded_at"]
    profile["fixed"] = {"responded_at": "2020-02-17"}
    profile["value_maps"]["csat"] = {"satisfied": 4, "neutral or dissatisfied": 3}
    profile["timezone"] = "UTC"
    path = tmp_path / "proposed.yaml"
    path.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    settings = load_settings(base_dir=tmp_path)
    (result,) = ingest_paths(
        settings, "surveys", [REALDATA / "airline_passenger_satisfaction_20k.csv"], load_profile(path)
    )
    assert result.status == "loaded", result.problems[:5]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined, result.rows_duplicate) == (
        20000,
        20000,
        0,
        0,
    )
    assert result.derived_rows == 280000


def _shipped_unpivot() -> dict:
    import yaml

    from tests.conftest import REPO_ROOT as root

    return yaml.safe_load((root / "profiles" / "airline_survey.yaml").read_text(encoding="utf-8"))["unpivot"]
