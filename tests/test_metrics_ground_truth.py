"""The warehouse's journeys, handoffs and weekly figures against the generator's ground truth."""

import pytest

from pipelines.ingest.privacy import pseudonym, resolve_key
from pipelines.vocabulary import REASONS, VOCABULARY
from pipelines.warehouse import connect
from tests.truth import expected_queue_kpis, expected_team_kpis, expected_weekly, truth_handoffs, truth_journeys


@pytest.fixture(scope="module")
def con(pipeline_run):
    settings, _ = pipeline_run
    con = connect(settings.warehouse, read_only=True)
    yield con
    con.close()


def test_the_run_loaded_every_file(pipeline_run):
    _, result = pipeline_run
    assert result["summary"]["rejected_files"] == []
    assert result["summary"]["files_loaded"] == len(result["files"]) > 0


def test_every_handoff_and_each_failure_reason_match_the_simulation(con, generated):
    truth = truth_handoffs(generated)
    got = {
        key: (kind, src, dst, week, ";".join(sorted(reasons)))
        for key, kind, src, dst, week, reasons in con.execute(
            "SELECT handoff_key, kind, from_team, to_team, week, failure_reasons FROM handoffs"
        ).fetchall()
    }
    assert set(got) == set(truth)
    mismatches = {
        k: (got[k], truth[k])
        for k in truth
        if got[k]
        != (truth[k]["kind"], truth[k]["from_team"], truth[k]["to_team"], truth[k]["week"], truth[k]["reasons"])
    }
    assert mismatches == {}
    assert sum(1 for t in truth.values() if t["failed"] == "true") > 0
    # one row per handoff, each in the journey of its call or case
    rows, keys, in_journey = con.execute(
        "SELECT count(*), count(DISTINCT handoff_key), count(*) FILTER (WHERE "
        "journey_id IS NOT DISTINCT FROM (SELECT jc.journey_id FROM journey_contacts "
        "AS jc WHERE jc.contact_ref = container AND jc.contact_type = CASE kind WHEN "
        "'transfer' THEN 'call' ELSE 'case' END) AND journey_id IS NOT NULL) "
        "FROM handoffs"
    ).fetchone()
    assert rows == keys == in_journey == len(truth)


def test_journeys_are_stitched_as_the_simulation_made_them(con, generated):
    journeys = truth_journeys(generated)
    got = dict(con.execute("SELECT week, count(*) FROM journeys GROUP BY week").fetchall())
    expected = {}
    for j in journeys:
        expected[j["week"]] = expected.get(j["week"], 0) + 1
    assert got == expected
    rules = dict(con.execute("SELECT stitch_rule, count(*) FROM journey_contacts GROUP BY 1").fetchall())
    assert rules.get("unmatched", 0) == 0
    assert rules["explicit_origin_call"] > 0 and rules["customer_window"] > 0


def test_weekly_figures_equal_the_ground_truth(con, generated):
    expected = expected_weekly(generated)
    rows = con.execute("SELECT week, metric, numerator, denominator FROM weekly_scorecard").fetchall()
    got = {(w, m): (n, d) for w, m, n, d in rows}
    checked = 0
    for week, metrics in expected.items():
        for metric, (num, den) in metrics.items():
            assert got[(week, metric)] == (num, den), (week, metric)
            checked += 1
    assert checked > 40


def test_queue_kpis_equal_the_exported_segments(con, generated):
    expected = expected_queue_kpis(generated)
    got = {
        (w, q): (o, a, ab, sh, t, tr)
        for w, q, o, a, ab, sh, t, tr in con.execute(
            "SELECT week, queue, offered, answered, abandoned, short_abandoned, answered_in_time, transferred "
            "FROM weekly_queue_kpis"
        ).fetchall()
    }
    assert got == expected
    # the stated denominators: service level leaves the short abandons out
    assert con.execute(
        "SELECT count(*) FROM weekly_queue_kpis WHERE service_level IS DISTINCT FROM "
        "answered_in_time / nullif(offered - short_abandoned, 0)"
    ).fetchone() == (0,)


def test_team_kpis_equal_the_exported_segments(con, generated):
    expected = expected_team_kpis(generated)
    rows = con.execute(
        "SELECT week, team, segments_offered, answered, abandonment_rate, average_speed_of_answer, "
        "average_handle_time, transferred_out FROM weekly_team_kpis"
    ).fetchall()
    assert {(w, t) for w, t, *_ in rows} == set(expected)
    for week, team, offered, answered, abandonment, speed, handle, transferred in rows:
        n, a, ab, wait, handled, tr = expected[(week, team)]
        assert (offered, answered, transferred) == (n, a, tr), (week, team)
        assert abandonment == pytest.approx(ab / n), (week, team)
        assert (speed, handle) == ((pytest.approx(wait / a), pytest.approx(handled / a)) if a else (None, None))
    assert sum(r[7] for r in rows) > 0 and any(r[4] for r in rows)


def test_segments_keep_their_exported_hold_time(con, generated):
    """A segment exported without hold seconds (every abandoned one) was never on hold: 0 s, which
    the investigation page leaves out, not 1 s."""
    import csv

    expected = {}
    for path in sorted((generated / "calls").glob("calls_*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                expected[(row["call_id"], int(row["segment_no"]))] = int(row["hold_seconds"] or 0)
    got = {(c, n): h for c, n, h in con.execute("SELECT call_id, segment_no, hold_seconds FROM stg_calls").fetchall()}
    assert got == expected
    assert sum(1 for h in expected.values() if h == 0) > 0


def test_friction_events_point_back_to_their_source_rows(con):
    orphans = con.execute("""
        SELECT count(*) FROM friction_events f
        WHERE (f.source_table = 'calls' AND split_part(f.source_ref, ':', 1) NOT IN (SELECT call_id FROM calls))
           OR (f.source_table = 'cases' AND f.source_ref NOT IN (SELECT case_id FROM cases))
           OR (f.source_table = 'survey_responses'
               AND f.source_ref NOT IN (SELECT response_id FROM survey_responses))
           OR (f.source_table = 'handoffs' AND f.source_ref NOT IN (SELECT handoff_key FROM handoffs))
    """).fetchone()[0]
    assert orphans == 0
    signals = {r[0] for r in con.execute("SELECT DISTINCT signal FROM friction_events").fetchall()}
    configured = {r[0] for r in con.execute("SELECT signal FROM param_friction_signals").fetchall()}
    assert signals <= configured and len(signals) >= 8


def test_the_vocabulary_declares_every_figure_and_reason_the_models_produce(con):
    """A figure sql/vocabulary.yaml does not declare has no feeds: it would show a value on a
    site without them. A reason it does not declare has no column in weekly_team_supplier."""
    # the figures of weekly_scorecard but the stages' friction (per stage, from the settings)
    sql = "SELECT DISTINCT metric FROM weekly_scorecard WHERE NOT starts_with(metric, 'friction_')"
    metrics = {r[0] for r in con.execute(sql).fetchall()}
    assert metrics == set(VOCABULARY.metrics)
    reasons = {r[0] for r in con.execute("SELECT DISTINCT unnest(failure_reasons) FROM handoffs").fetchall()}
    assert reasons == set(REASONS)


def test_validation_results_are_kept_and_data_docs_built(pipeline_run, con):
    settings, result = pipeline_run
    files = [f for f in result["files"] if f["status"] == "loaded"]
    kept = con.execute("SELECT count(DISTINCT load_id), bool_and(success) FROM validation_results").fetchone()
    assert kept == (len(files), True)
    assert result["summary"]["data_docs"].endswith("data_docs/index.html")
    pages = list((settings.data_docs_dir / "validations").rglob("*.html"))
    assert len(pages) == len(files)


def _precision_recall(expected: set, found: set) -> tuple[float, float]:
    hits = len(expected & found)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(expected) if expected else 1.0
    return precision, recall


def test_failed_handoff_and_friction_detection_recover_the_ground_truth(con, generated):
    truth = truth_handoffs(generated)
    got = {k: set(r) for k, r in con.execute("SELECT handoff_key, failure_reasons FROM handoffs").fetchall()}
    scores = {}
    for reason in REASONS:
        expected = {k for k, t in truth.items() if reason in t["reasons"].split(";")}
        found = {k for k, reasons in got.items() if reason in reasons}
        scores[f"handoff {reason}"] = _precision_recall(expected, found)
    # stage friction, journey by journey: a customer starts at most one journey a week in the
    # simulation, so (customer pseudonym, start week) names a journey on both sides
    key = resolve_key()
    journeys = truth_journeys(generated)
    for stage in ("reach", "understand", "resolve", "recover"):
        expected = {
            (pseudonym(j["customer_ref"], key), j["week"]) for j in journeys if stage in j["friction_stages"].split(";")
        }
        found = set(
            con.execute(
                "SELECT DISTINCT j.customer_ref, j.week FROM friction_events f JOIN journeys j USING (journey_id) "
                "WHERE f.stage = ?",
                [stage],
            ).fetchall()
        )
        scores[f"friction {stage}"] = _precision_recall(expected, found)
    # each signal, journey by journey
    signals = [r[0] for r in con.execute("SELECT signal FROM param_friction_signals ORDER BY signal").fetchall()]
    for signal in signals:
        expected = {
            (pseudonym(j["customer_ref"], key), j["week"])
            for j in journeys
            if signal in {s.split("@")[0] for s in j["signals"].split(";")}
        }
        found = set(
            con.execute(
                "SELECT DISTINCT j.customer_ref, j.week FROM friction_events f JOIN journeys j USING (journey_id) "
                "WHERE f.signal = ?",
                [signal],
            ).fetchall()
        )
        assert expected, f"the simulation never produced {signal}"
        scores[f"signal {signal}"] = _precision_recall(expected, found)
    for name, (p, r) in sorted(scores.items()):
        print(f"{name:<42} precision {p:.3f} recall {r:.3f}")
    assert all(p >= 0.95 and r >= 0.95 for p, r in scores.values()), scores


def test_complaints_per_channel_match_the_exports(con, generated):
    """Counted straight from the landing case files, with the standard library."""
    import csv
    from datetime import datetime
    from zoneinfo import ZoneInfo

    expected: dict[tuple[str, str], int] = {}
    for path in sorted((generated / "complaints").glob("cases_*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                iso = datetime.fromisoformat(row["opened_at"]).astimezone(ZoneInfo("Europe/Paris")).isocalendar()
                key = (f"{iso.year}-W{iso.week:02d}", row["channel"] or "unknown")
                expected[key] = expected.get(key, 0) + 1
    got = {(w, c): n for w, c, n in con.execute("SELECT week, channel, opened FROM weekly_channel_kpis").fetchall()}
    assert got == expected and len({c for _, c in got}) > 1
    rates = con.execute(
        "SELECT count(*) FROM weekly_channel_kpis WHERE resolved_within_sla_rate IS DISTINCT FROM "
        "resolved_within_sla / nullif(resolved, 0)"
    ).fetchone()[0]
    assert rates == 0


def test_data_docs_render_only_new_results_and_drop_those_no_longer_kept(pipeline_run, tmp_path):
    """A weekly run renders the pages of its own results, not those of every load before it; a
    page keeps its address (the validation's run time) from build to build."""
    import json
    import re
    import shutil

    from pipelines.ingest.validation import build_data_docs

    settings, _ = pipeline_run
    results, site = tmp_path / "results", tmp_path / "site"
    shutil.copytree(settings.out / "validation_results", results)
    build_data_docs(results, site)
    pages = {p: p.stat().st_mtime_ns for p in (site / "validations").rglob("*.html")}
    assert len(pages) == len(list(results.glob("*.json"))) > 0
    for page in pages:  # the run time in a page's address is when GX validated the batch
        raw = json.loads(next(results.glob(f"{page.parent.parent.name}.json")).read_text(encoding="utf-8"))
        assert page.parent.name == raw["meta"]["batch_markers"]["ge_load_time"]

    first = sorted(results.glob("*.json"))[0]
    raw = json.loads(first.read_text(encoding="utf-8"))
    raw["meta"]["batch_markers"]["ge_load_time"] = "20300101T000000.000000Z"
    added = results / first.name.replace(first.name.split("-", 1)[0], "load999999")
    added.write_text(json.dumps(raw), encoding="utf-8")
    index = build_data_docs(results, site)
    after = {p: p.stat().st_mtime_ns for p in (site / "validations").rglob("*.html")}
    assert {p: after[p] for p in pages} == pages  # not rendered again
    (new_page,) = set(after) - set(pages)
    assert new_page.parent.parent.name == added.stem and new_page.parent.name == "20300101T000000.000000Z"
    linked = set(re.findall(r'validations/[^"\']+?\.html', (site / "index.html").read_text(encoding="utf-8")))
    assert {p.relative_to(site).as_posix() for p in after} == linked and index.endswith("index.html")

    added.unlink()  # a result no longer kept (its load was rejected): its page leaves the site
    build_data_docs(results, site)
    assert not new_page.exists() and all(p.exists() for p in pages)


# How the warehouse shows that a boundary case is past its threshold: a friction signal at the
# row, a handoff's failure reason, or the call's first wait against the service level.
BOUNDARY_SQL = {
    "long_wait": "SELECT source_ref FROM friction_events WHERE signal = 'long_wait'",
    "long_hold": "SELECT source_ref FROM friction_events WHERE signal = 'long_hold'",
    "complaint_acknowledged_beyond_sla": "SELECT source_ref FROM friction_events WHERE signal = 'complaint_acknowledged_beyond_sla'",
    "complaint_resolved_beyond_sla": "SELECT source_ref FROM friction_events WHERE signal = 'complaint_resolved_beyond_sla'",
    "slow_pickup": "SELECT handoff_key FROM handoffs WHERE list_contains(failure_reasons, 'slow_pickup')",
    "service_level": "SELECT call_id FROM stg_call_outcomes WHERE first_outcome = 'answered' "
    "AND NOT first_wait_seconds <= getvariable('service_level_seconds')",
    "short_abandon": "SELECT call_id FROM stg_call_outcomes WHERE first_outcome = 'abandoned' "
    "AND NOT first_abandon_seconds < getvariable('short_abandon_seconds')",
    # the customer's next call, after the transfer (a recontact) and past the window (none)
    "recontact_after": "SELECT handoff_key FROM handoffs WHERE list_contains(failure_reasons, 'recontact')",
    "recontact_window": "SELECT handoff_key FROM handoffs WHERE kind = 'transfer' "
    "AND NOT list_contains(failure_reasons, 'recontact')",
    # a call past the window after the customer's previous one opens a journey
    "journey_window": "SELECT contact_ref FROM journey_contacts WHERE contact_type = 'call' "
    "AND stitch_rule = 'new_journey'",
    "resolution_sla": "SELECT source_ref FROM friction_events WHERE signal = 'resolution_beyond_sla'",
}


def test_boundary_cases_fall_on_the_side_the_simulation_labelled(pipeline_run, con, generated):
    """One second below, at and above each threshold: a threshold moved by a unit or a < turned
    into <= moves some of them to the other side (ground_truth/boundaries.csv)."""
    import csv

    settings, _ = pipeline_run
    with open(generated / "ground_truth" / "boundaries.csv", newline="", encoding="utf-8") as fh:
        cases = list(csv.DictReader(fh))
    reader = connect(settings.warehouse, read_only=True)
    try:
        for name in ("service_level_seconds", "short_abandon_seconds"):
            reader.execute(f"SET VARIABLE {name} = ?", [settings.metrics[name]])
        beyond = {rule: {r[0] for r in reader.execute(sql).fetchall()} for rule, sql in BOUNDARY_SQL.items()}
    finally:
        reader.close()
    wrong = [
        (c["rule"], c["ref"], c["offset_seconds"], c["beyond"])
        for c in cases
        if (c["ref"] in beyond[c["rule"]]) != (c["beyond"] == "true")
    ]
    assert wrong == []
    # every rule has cases on each side and at the threshold itself
    sides = {(c["rule"], c["offset_seconds"]) for c in cases}
    assert {(rule, offset) for rule in BOUNDARY_SQL for offset in ("-1", "0", "1")} <= sides, sorted(sides)


# The call-based rules whose every condition the generator makes hold alone and fail alone
# (ground_truth/conditions.csv); the case rules are pinned by the golden cases.
CONDITION_RULES = {
    "bounce_back",
    "ping_pong",
    "dropped",
    "repeat_info",
    "abandoned",
    "long_wait",
    "several_attempts",
    "repeat_contact",
}


def test_each_condition_of_a_rule_made_to_hold_alone_and_to_fail_alone(con, generated):
    """A dropped or inverted condition makes a rule fire where the simulation says it must not,
    or not fire where it must."""
    import csv

    with open(generated / "ground_truth" / "conditions.csv", newline="", encoding="utf-8") as fh:
        cases = list(csv.DictReader(fh))
    handoff_sql = "SELECT handoff_key FROM handoffs WHERE list_contains(failure_reasons, ?)"
    signal_sql = "SELECT source_ref FROM friction_events WHERE signal = ?"
    fired = {
        rule: {r[0] for r in con.execute(handoff_sql if rule in REASONS else signal_sql, [rule]).fetchall()}
        for rule in CONDITION_RULES
    }
    wrong = [
        (c["rule"], c["condition"], c["ref"], c["fires"])
        for c in cases
        if (c["ref"] in fired[c["rule"]]) != (c["fires"] == "true")
    ]
    assert wrong == []
    # each rule has a case where it fires and one where a single condition fails
    sides = {(c["rule"], c["condition"] == "holds", c["fires"]) for c in cases}
    assert sides == {(rule, holds, str(holds).lower()) for rule in CONDITION_RULES for holds in (True, False)}


def test_weeks_are_cut_at_local_midnight(con, generated):
    """Journeys that start at Sunday 23:30 and Monday 00:30 local time (Sunday in UTC both) fall in
    the weeks the simulation gave them."""
    starts = {
        (j["customer_ref"], j["started_at"][11:16], j["week"])
        for j in truth_journeys(generated)
        if j["started_at"][11:16] in ("23:30", "00:30")
    }
    assert {s[1] for s in starts} == {"23:30", "00:30"}
    got = {
        (c, at, w)
        for c, at, w in con.execute(
            "SELECT customer_ref, strftime(started_at AT TIME ZONE 'Europe/Paris', '%H:%M'), week FROM journeys "
            "WHERE strftime(started_at AT TIME ZONE 'Europe/Paris', '%H:%M') IN ('23:30', '00:30')"
        ).fetchall()
    }
    key = resolve_key()
    assert {(pseudonym(c, key), at, w) for c, at, w in starts} <= got


def test_weekly_verbatim_themes_add_up_to_the_generator_truth(pipeline_run, generated):
    """Per week, team, theme and polarity, the responses weekly_verbatim_themes counts (over
    stages) are those ground_truth/verbatim_themes.csv labels, week cut in Europe/Paris, and each
    week and team's responses with a verbatim its denominator; the team is the rated call's last
    segment's, or the team that opened the rated case, read here from the exports."""
    import csv
    from collections import Counter
    from datetime import datetime

    from pipelines.weeks import week_label

    settings, _ = pipeline_run

    def rows(folder, prefix):
        for path in sorted((generated / folder).glob(f"{prefix}_*.csv")):
            with open(path, encoding="utf-8", newline="") as fh:
                yield from csv.DictReader(fh)

    last_segment = {}
    for r in rows("calls", "calls"):
        if int(r["segment_no"]) >= last_segment.get(r["call_id"], (0, None))[0]:
            last_segment[r["call_id"]] = (int(r["segment_no"]), r["team"])
    opened_by = {}
    for e in sorted(rows("complaints", "case_events"), key=lambda e: int(e["event_seq"])):
        opened_by.setdefault(e["case_id"], e["team"].strip() or settings.teams["unassigned"])
    responses = {r["response_id"]: r for r in rows("surveys", "survey_responses")}

    def team(r):
        if r["interaction_type"] == "call" and r["interaction_ref"] in last_segment:
            return last_segment[r["interaction_ref"]][1]
        if r["interaction_type"] == "case":
            return opened_by.get(r["interaction_ref"])
        return None

    truth, with_verbatim = Counter(), Counter()
    for r in responses.values():
        if r["verbatim"].strip():
            with_verbatim[(week_label(datetime.fromisoformat(r["responded_at"]), settings.week_timezone), team(r))] += 1
    with open(generated / "ground_truth" / "verbatim_themes.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            r = responses[row["response_id"]]
            week = week_label(datetime.fromisoformat(r["responded_at"]), settings.week_timezone)
            for label in row["themes"].split():
                truth[(week, team(r), label[:-1], label[-1])] += 1
    con = connect(settings.warehouse, read_only=True)
    try:
        counted = con.execute(
            "SELECT week, team, theme, polarity, sum(responses), any_value(responses_with_verbatim) "
            "FROM weekly_verbatim_themes GROUP BY ALL"
        ).fetchall()
    finally:
        con.close()
    assert truth and {(w, tm, t, p): int(n) for w, tm, t, p, n, _ in counted} == dict(truth)
    assert {(w, tm): d for w, tm, _, _, _, d in counted} == {
        k: with_verbatim[k] for k in {(w, tm) for w, tm, _, _ in truth}
    }
