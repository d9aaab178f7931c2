"""The weekly scorecard files: one page per week and language, index, investigation pages,
exports, PDF, and the CLI's handoff list. The browser tests are in test_scorecard_browser.py."""

import csv
import json
import re
import subprocess
import sys

import duckdb
import pytest

from pipelines.cli import main as esprit
from pipelines.report.i18n import TERMS, TEXT
from pipelines.report.investigate import pair_slug
from pipelines.report.scorecard import render_weeks
from pipelines.warehouse import connect
from pipelines.weeks import week_bounds


@pytest.fixture(scope="module")
def pages(pipeline_run):
    settings, result = pipeline_run
    return settings, [p for p in result["pages"] if p.endswith("scorecard.html")]


def test_one_scorecard_per_week_and_language_and_an_index(pages, generated):
    settings, paths = pages
    weeks = sorted(p.split("/")[-2] for p in paths)
    summary = json.loads((generated / "ground_truth" / "summary.json").read_text())
    assert weeks == summary["weeks"]
    for week in weeks:
        for lang in ("en", "fr"):
            page = settings.scorecards_dir / week / f"scorecard.{lang}.html"
            assert f'<html lang="{lang}">' in page.read_text(encoding="utf-8")
    index = (settings.scorecards_dir / "index.html").read_text(encoding="utf-8")
    for week in weeks:  # every week listed, linked, with its headline figures
        assert f'href="{week}/scorecard.en.html"' in index
    assert index.count('data-metric="nps"') == len(weeks)
    assert 'lang="fr"' in (settings.scorecards_dir / "index.fr.html").read_text(encoding="utf-8")


def test_scorecard_is_self_contained(pages):
    _, paths = pages
    html = open(paths[0], encoding="utf-8").read()
    assert "<style>" in html and "<svg" in html  # charts inline
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html and "@import" not in html
    assert not re.search(r"url\((?!#)", html)  # only references to elements of the page itself
    assert "default-src 'none'" in html  # and the page forbids fetching anything


def test_both_languages_say_the_same_things():
    assert TEXT["en"].keys() == TEXT["fr"].keys()
    assert TERMS["en"].keys() == TERMS["fr"].keys()


def test_figures_json_matches_the_metric_tables(pages):
    settings, paths = pages
    week = paths[-1].split("/")[-2]
    figures = json.loads((settings.scorecards_dir / week / "scorecard.json").read_text())
    con = connect(settings.warehouse, read_only=True)
    rows = dict(con.execute("SELECT metric, value FROM weekly_scorecard WHERE week = ?", [week]).fetchall())
    params = con.execute("SELECT DISTINCT parameter_set FROM weekly_metrics WHERE week = ?", [week]).fetchall()
    con.close()
    for metric, tile in figures["headline"].items():
        assert tile["value"] == pytest.approx(rows[metric]), metric
    assert [figures["parameter_set"]] == [p[0] for p in params]


def test_investigation_page_per_pair_lists_each_failed_handoff(pages):
    settings, paths = pages
    week = paths[-1].split("/")[-2]
    con = connect(settings.warehouse, read_only=True)
    pairs = con.execute("SELECT from_team, to_team, failed FROM weekly_handoff_pairs WHERE week = ?", [week]).fetchall()
    src, dst, failed = max(pairs, key=lambda p: p[2])
    keys = [
        r[0]
        for r in con.execute(
            "SELECT handoff_key FROM handoffs WHERE week = ? AND from_team = ? AND to_team = ? AND failed",
            [week, src, dst],
        ).fetchall()
    ]
    con.close()
    assert failed == len(keys) > 0
    for lang in ("en", "fr"):
        page = settings.scorecards_dir / week / "handoffs" / f"{pair_slug(src, dst)}.{lang}.html"
        html = page.read_text(encoding="utf-8")
        assert sorted(re.findall(r'data-handoff="([^"]+)"', html)) == sorted(keys)
        assert html.count('<table class="timeline">') == len(keys)
    scorecard = (settings.scorecards_dir / week / "scorecard.en.html").read_text(encoding="utf-8")
    assert f'href="handoffs/{pair_slug(src, dst)}.en.html"' in scorecard  # reached from the heatmap


def test_cli_lists_the_same_failed_handoffs(pages, capsys):
    settings, paths = pages
    week = paths[-1].split("/")[-2]
    con = connect(settings.warehouse, read_only=True)
    src, dst = con.execute(
        "SELECT from_team, to_team FROM weekly_handoff_pairs WHERE week = ? ORDER BY failed DESC LIMIT 1", [week]
    ).fetchone()
    keys = {
        r[0]
        for r in con.execute(
            "SELECT handoff_key FROM handoffs WHERE week = ? AND from_team = ? AND to_team = ? AND failed",
            [week, src, dst],
        ).fetchall()
    }
    con.close()
    assert (
        esprit(
            ["handoffs", "--week", week, "--from", src, "--to", dst, "--json", "--warehouse", str(settings.warehouse)]
        )
        == 0
    )
    listed = json.loads(capsys.readouterr().out)
    assert {item["handoff_key"] for item in listed} == keys
    assert all(item["timeline"] and item["reasons"] for item in listed)


def test_exports_every_weekly_table_as_parquet_and_csv(pages):
    settings, _ = pages
    con = connect(settings.warehouse, read_only=True)
    tables = [
        r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'weekly%'").fetchall()
    ]
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    con.close()
    exports = settings.out / "exports"
    assert len(tables) >= 6
    for table in tables:
        parquet = duckdb.connect().execute(f"SELECT count(*) FROM '{exports / (table + '.parquet')}'").fetchone()[0]
        with open(exports / f"{table}.csv", newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert parquet == counts[table] == len(rows) - 1, table


def test_pdf_is_printed_by_chromium(pages):
    settings, paths = pages
    week = paths[-1].split("/")[-2]
    pdf = (settings.scorecards_dir / week / "scorecard.en.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-1024:]
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 2  # the whole page, over several sheets


def test_an_unknown_week_or_language_is_refused(pipeline_run):
    settings, _ = pipeline_run
    with pytest.raises(ValueError, match=r"week 2020-W01 has no data .*2026-W40\.\.2026-W42"):
        render_weeks(settings, ["2020-W01"])
    with pytest.raises(ValueError, match=r"language 'de'"):
        render_weeks(settings, ["2026-W40"], languages=["de"])


def test_cli_renders_one_week_in_one_language(pipeline_run, tmp_path, capsys):
    settings, _ = pipeline_run
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "scorecard",
            "--week",
            "2026-W41",
            "--lang",
            "fr",
            "--no-pdf",
            "--warehouse",
            str(settings.warehouse),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (out / "scorecards" / "2026-W41" / "scorecard.fr.html").exists()
    assert not (out / "scorecards" / "2026-W41" / "scorecard.en.html").exists()
    assert "Tableau de bord" in (out / "scorecards" / "2026-W41" / "scorecard.fr.html").read_text(encoding="utf-8")
    # again: the week's figures are those of its page, which stays as it is, unless --force
    again = ["scorecard", "--week", "2026-W41", "--lang", "fr", "--no-pdf"]
    again += ["--warehouse", str(settings.warehouse), "--out", str(out)]
    assert esprit(again) == 0
    assert "2026-W41: its figures have not changed" in capsys.readouterr().out
    assert esprit([*again, "--force"]) == 0
    assert "scorecard.fr.html" in capsys.readouterr().out


def test_backfill_republishes_a_range_of_weeks(pipeline_run, tmp_path, capsys):
    import shutil

    settings, _ = pipeline_run
    warehouse = tmp_path / "esprit.duckdb"
    shutil.copyfile(settings.warehouse, warehouse)
    out = tmp_path / "out"
    assert (
        esprit(
            [
                "backfill",
                "--from",
                "2026-W39",
                "--to",
                "2026-W41",
                "--full",
                "--landing",
                str(settings.landing),
                "--warehouse",
                str(warehouse),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    said = capsys.readouterr().out
    assert "recomputed every week; published 2 week(s) of 2026-W39..2026-W41; no data for 2026-W39" in said
    assert sorted(p.name for p in (out / "scorecards").iterdir() if p.is_dir()) == ["2026-W40", "2026-W41"]
    assert esprit(["backfill", "--from", "2026-W42", "--to", "2026-W40", "--warehouse", str(warehouse)]) == 2


def test_a_pair_page_shows_its_first_failed_handoffs_and_how_to_list_them_all(pages, tmp_path):
    import dataclasses
    import html as html_lib
    import shlex

    from pipelines.report.scorecard import render_weeks

    settings, paths = pages
    week = paths[-1].split("/")[-2]
    con = connect(settings.warehouse, read_only=True)
    src, dst, failed = con.execute(
        "SELECT from_team, to_team, failed FROM weekly_handoff_pairs WHERE week = ? ORDER BY failed DESC LIMIT 1",
        [week],
    ).fetchone()
    first = [
        r[0]
        for r in con.execute(
            "SELECT handoff_key FROM handoffs WHERE week = ? AND from_team = ? "
            "AND to_team = ? AND failed ORDER BY handoff_at, handoff_key LIMIT 2",
            [week, src, dst],
        ).fetchall()
    ]
    con.close()
    assert failed > 2
    settings = dataclasses.replace(
        settings, out=tmp_path / "out", scorecard={**settings.scorecard, "handoffs_per_page": 2}
    )
    render_weeks(settings, [week], languages=["en"], pdf=False, exports=False)
    html = (settings.scorecards_dir / week / "handoffs" / f"{pair_slug(src, dst)}.en.html").read_text(encoding="utf-8")
    assert sorted(re.findall(r'data-handoff="([^"]+)"', html)) == sorted(first)  # shown grouped by reason
    assert f"The first 2 of {failed} failed handoffs" in html
    command = f"esprit handoffs --week {week} --from {shlex.quote(src)} --to {shlex.quote(dst)} --timeline"
    assert html_lib.escape(command, quote=False) in html


def test_verbatims_of_every_stage_match_a_query_per_stage(pages):
    """The scorecard picks each stage's verbatims in one query; the same rows, in the same order,
    come from asking stage by stage."""
    from pipelines.report.scorecard import _stages, _verbatims

    settings, _ = pages
    con = connect(settings.warehouse, read_only=True)
    try:
        weeks = [
            r[0]
            for r in con.execute("SELECT DISTINCT week FROM journeys WHERE week IS NOT NULL ORDER BY week").fetchall()
        ]
        found = 0
        for week in weeks:
            stages, _ = _stages(settings, con, {}, week, [])
            chosen = _verbatims(con, week, stages, 2)
            for stage in stages:
                expected = []
                if stage["top"]:
                    signal = stage["top"][0][0]
                    seen = set()  # each text once: the first by NPS, then response
                    for rid, t, lang, nps in con.execute(
                        "SELECT DISTINCT r.response_id, r.verbatim, r.language, r.nps FROM friction_events AS f "
                        "JOIN journeys AS j USING (journey_id) "
                        "JOIN journey_contacts AS jc ON jc.journey_id = f.journey_id AND jc.contact_type = 'survey' "
                        "JOIN stg_survey_responses AS r ON r.response_id = jc.contact_ref "
                        "WHERE j.week = ? AND f.stage = ? AND f.signal = ? AND nullif(trim(r.verbatim), '') IS NOT NULL "
                        "ORDER BY r.nps NULLS LAST, r.response_id",
                        [week, stage["key"], signal],
                    ).fetchall():
                        if (t, lang) in seen or len(expected) == 2:
                            continue
                        seen.add((t, lang))
                        themes = con.execute(
                            "SELECT theme, polarity FROM verbatim_themes WHERE response_id = ?", [rid]
                        ).fetchall()
                        expected.append(
                            {
                                "signal": signal,
                                "text": t,
                                "language": lang,
                                "nps": nps,
                                "themes": sorted(a + b for a, b in themes),
                            }
                        )
                assert chosen[stage["key"]] == expected, (week, stage["key"])
                found += len(expected)
        assert found > 0  # the data set has verbatims on friction journeys: the comparison compared something
    finally:
        con.close()


def test_journey_timelines_hold_every_segment_event_and_response_of_their_journeys(pages):
    """Timelines read the staging tables from their journeys' earliest call or response on; every
    row of each journey's contacts is there all the same."""
    from pipelines.report.investigate import journey_timelines

    settings, _ = pages
    con = connect(settings.warehouse, read_only=True)
    try:
        journeys = [
            r[0]
            for r in con.execute(
                "SELECT journey_id FROM journeys ORDER BY calls + cases + survey_responses DESC, journey_id LIMIT 40"
            ).fetchall()
        ]
        timelines = journey_timelines(con, journeys, settings.week_timezone)
        expected = dict(
            con.execute(
                """
            SELECT jc.journey_id,
                count(s.call_id) + count(e.case_id) + count(r.response_id)
            FROM journey_contacts AS jc
            LEFT JOIN stg_calls AS s ON jc.contact_type = 'call' AND s.call_id = jc.contact_ref
            LEFT JOIN stg_case_events AS e ON jc.contact_type = 'case' AND e.case_id = jc.contact_ref
            LEFT JOIN stg_survey_responses AS r ON jc.contact_type = 'survey' AND r.response_id = jc.contact_ref
            WHERE jc.journey_id IN (SELECT unnest($ids::VARCHAR[]))
            GROUP BY jc.journey_id
            """,
                {"ids": journeys},
            ).fetchall()
        )
    finally:
        con.close()
    assert {j: len(timelines.get(j, [])) for j in journeys} == {j: expected.get(j, 0) for j in journeys}
    assert sum(expected.values()) > len(journeys)  # journeys of several contacts were compared


def test_a_week_whose_rows_are_all_taken_back_loses_its_page(tmp_path):
    """Survey weeks 40 and 41 are published; week 40's rows then leave the warehouse (here deleted,
    as a reload or a correction that drops them would): the next render removes week 40's pages
    and the index no longer lists it, instead of leaving figures nothing supports."""
    from pipelines.config import load_settings
    from pipelines.ingest.load import ingest_paths
    from pipelines.model.build import build_models
    from tests.test_ingest_corpus import csv_text, survey_row

    settings = load_settings(base_dir=tmp_path)
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    paths = []
    for name, at in (("w40.csv", "2026-09-30T10:00:00+02:00"), ("w41.csv", "2026-10-07T10:00:00+02:00")):
        (folder / name).write_text(csv_text([survey_row(rid=f"{name}-{i}", at=at) for i in range(3)]), encoding="utf-8")
        paths.append(folder / name)
    ingest_paths(settings, "surveys", paths)
    build_models(settings)
    render_weeks(settings, languages=["en"], pdf=False, exports=False)
    assert (settings.scorecards_dir / "2026-W40" / "scorecard.en.html").is_file()
    con = connect(settings.warehouse)
    con.execute("DELETE FROM survey_responses WHERE source_file = 'w40.csv'")
    con.close()
    build_models(settings, full=True)
    render_weeks(settings, languages=["en"], pdf=False, exports=False)
    assert not (settings.scorecards_dir / "2026-W40").exists()
    assert (settings.scorecards_dir / "2026-W41" / "scorecard.en.html").is_file()
    index = (settings.scorecards_dir / "index.en.html").read_text(encoding="utf-8")
    assert "2026-W41" in index and "2026-W40" not in index


RATIOS = ("pct", "points", "score", "per_1000")


def _expected_this_week(settings, con, week: str) -> tuple[list, set]:
    """'This week' recomputed from the metric tables: (ranked (kind, subject), improved)."""
    from pipelines.model.feeds import source_tables
    from pipelines.report import stats
    from pipelines.weeks import shift_week

    rows = {
        (m, w): (v, x, n, p)
        for m, w, v, x, n, p in con.execute(
            "SELECT metric, week, value, numerator, denominator, provisional FROM weekly_scorecard"
        ).fetchall()
    }
    ces_var = dict(con.execute("SELECT week, var_samp(ces) FROM stg_survey_responses GROUP BY week").fetchall())

    def before(metric):
        earlier = sorted(w for m, w in rows if m == metric and w < week)
        return earlier[-1] if earlier and earlier[-1] >= shift_week(week, -4) else None

    def significant(metric, unit, w0):
        (v1, x1, n1, _), (v0, x0, n0, _) = rows[(metric, week)], rows[(metric, w0)]
        if metric == "nps":
            split = [rows[(f"nps_{k}", w)][1] for w in (week, w0) for k in ("promoters", "detractors")]
            return stats.nps_change_significant(split[0], split[1], n1, split[2], split[3], n0)
        if unit == "score":
            return stats.mean_change_significant(v1, ces_var.get(week), n1, v0, ces_var.get(w0), n0)
        scale = 1000 if unit == "per_1000" else 1
        return stats.proportion_change_significant(x1 / scale, n1, x0 / scale, n0)

    worse, improved = [], set()
    for spec in settings.headline:
        metric, unit, up = spec["metric"], spec["unit"], spec["better"] == "up"
        w0 = before(metric)
        if (metric, week) not in rows or w0 is None:
            continue
        (v1, _, n1, provisional), (v0, _, n0, _) = rows[(metric, week)], rows[(metric, w0)]
        if provisional or (unit in RATIOS and not (n1 and n0)) or v1 == v0 or unit not in RATIOS:
            continue
        if not significant(metric, unit, w0):
            continue
        if (v1 > v0) == up:
            improved.add(("tile", metric))
        elif (v1 < spec["watch"]) if up else (v1 > spec["watch"]):
            worse.append((abs(v1 - spec["target"]) / abs(spec["target"] - spec["watch"]), metric))
    ranked = []
    staged = {"calls": "stg_calls", "cases": "stg_cases", "survey_responses": "stg_survey_responses"}
    start, end = week_bounds(week, settings.week_timezone)

    def rows_in_week(table: str) -> int:
        if table == "internal_pulse":  # no staging table: the answers given between the week's bounds
            sql, params = "SELECT count(*) FROM internal_pulse WHERE answered_at >= ? AND answered_at < ?", [start, end]
        elif table in staged:
            sql, params = f"SELECT count(*) FROM {staged[table]} WHERE week = ?", [week]
        else:
            return 0
        return con.execute(sql, params).fetchone()[0]

    for source, tables in source_tables(settings).items():
        if not any(rows_in_week(t) for t in tables):
            ranked.append(("source", source))
    ranked += [("tile", m) for _, m in sorted(worse, key=lambda s: (-s[0], s[1]))]
    rises = []
    for stage, x1, n1 in con.execute(
        "SELECT stage, journeys_with_friction, journeys_reached FROM weekly_stage_friction WHERE week = ?", [week]
    ).fetchall():
        w0 = before(f"friction_share_{stage}")
        if rows[(f"friction_share_{stage}", week)][3] or w0 is None:
            continue
        x0, n0 = con.execute(
            "SELECT journeys_with_friction, journeys_reached FROM weekly_stage_friction WHERE week = ? AND stage = ?",
            [w0, stage],
        ).fetchone()
        if n1 and n0 and stats.proportion_change_significant(x1, n1, x0, n0):
            if x1 / n1 > x0 / n0:
                rises.append((x1 / n1 - x0 / n0, stage))
            else:
                improved.add(("stage", stage))
    if rises:
        ranked.append(("stage", max(rises)[1]))
    if not rows.get(("handoff_failure_rate", week), (0, 0, 0, True))[3]:
        top = con.execute(
            "SELECT from_team || '|' || to_team FROM weekly_handoff_pairs WHERE week = ? AND failed > 0 "
            "AND ? NOT IN (from_team, to_team) ORDER BY failed DESC, handoffs DESC, from_team, to_team LIMIT 1",
            [week, settings.teams["unassigned"]],
        ).fetchone()
        if top:
            ranked.append(("pair", top[0]))
    return ranked[:5], improved


def test_this_week_ranks_what_to_act_on_as_the_metric_tables_say(pages):
    settings, _ = pages
    con = connect(settings.warehouse, read_only=True)
    weeks = [w for (w,) in con.execute("SELECT DISTINCT week FROM weekly_scorecard ORDER BY week").fetchall()]
    listed = 0
    for week in weeks:
        summary = json.loads((settings.scorecards_dir / week / "scorecard.json").read_text())["this_week"]
        ranked, improved = _expected_this_week(settings, con, week)
        assert [(i["kind"], i["subject"]) for i in summary["act"]] == ranked, week
        assert [i["rank"] for i in summary["act"]] == list(range(1, len(ranked) + 1))
        assert {(i["kind"], i["subject"]) for i in summary["improved"]} == improved, week
        listed += len(ranked)
    con.close()
    assert listed  # the run has something to act on
    # the latest week's handoff failures look ahead past the data: provisional, never listed
    latest = json.loads((settings.scorecards_dir / weeks[-1] / "scorecard.json").read_text())
    provisional = {m for m, tile in latest["headline"].items() if tile["provisional"]}
    assert "handoff_failure_rate" in provisional
    assert not [i for i in latest["this_week"]["act"] if i["kind"] == "pair" or i["subject"] in provisional]


def _tile(metric, status, significant, trend, provisional=False, value=50.0, target=80.0, watch=70.0):
    from pipelines.report.scorecard import Tile

    return Tile(
        metric=metric, label_en=metric, label_fr=metric, unit="pct", value=value, display="", numerator=None,
        denominator=None, ci_low=None, ci_high=None, change=-5.0, change_display="", change_vs_average=None,
        change_vs_average_display="", average_4_weeks=None, significant=significant, small_sample=False,
        trend=trend, target=target, target_display="", status=status, sparkline="", provisional=provisional,
        watch=watch,
    )  # fmt: skip


def test_this_week_leaves_out_provisional_and_noise_and_keeps_five():
    from pipelines.report.summary import this_week

    tiles = [
        _tile("far", "off_target", True, "worse", value=10.0),
        _tile("near", "off_target", True, "worse", value=65.0),
        _tile("noise", "off_target", None, "worse"),
        _tile("ahead", "off_target", True, "worse", provisional=True),
        _tile("amber", "watch", True, "worse", value=75.0),
        _tile("up", "off_target", True, "better"),
    ]
    sources = [{"source": s, "configured": True, "rows_in_week": 0} for s in ("calls", "surveys", "cases")]
    pairs = [{"from": "a", "to": "b", "handoffs": 10, "failed": 4, "failed_before": 1, "slug": "a-b"}]
    stages = [{"key": "reach", "provisional": False, "share_now": (60, 100), "share_before": (20, 100)}]
    found = this_week(tiles, stages, pairs, sources, handoffs_provisional=False)
    assert [(i["kind"], i["subject"]) for i in found["act"]] == [
        ("source", "calls"),
        ("source", "surveys"),
        ("source", "cases"),
        ("tile", "far"),
        ("tile", "near"),
    ]
    assert [i["subject"] for i in found["improved"]] == ["up"]
    found = this_week(tiles, stages, pairs, [], handoffs_provisional=True)
    assert [i["subject"] for i in found["act"]] == ["far", "near", "reach"]
    assert found["act"][2]["change"] == pytest.approx(40.0)
    found = this_week([], [], pairs, [], handoffs_provisional=False)
    assert found["act"] == [
        {"kind": "pair", "subject": "a|b", "from": "a", "to": "b", "figure": 4, "handoffs": 10, "change": 3,
         "link": "handoffs/a-b", "rank": 1}
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("better", "value", "status"),
    [("up", 85, "on_target"), ("up", 75, "watch"), ("up", 65, "off_target"),
     ("down", 4, "on_target"), ("down", 7, "watch"), ("down", 12, "off_target")],
)  # fmt: skip
def test_watch_lies_between_target_and_watch_threshold(better, value, status):
    from pipelines.report.scorecard import status_of

    spec = (
        {"better": better, "target": 80, "watch": 70}
        if better == "up"
        else {"better": better, "target": 5, "watch": 10}
    )
    assert status_of(value, spec) == status


def test_targets_from_a_baseline_make_a_usual_week_amber():
    from pipelines.report.scorecard import status_of
    from pipelines.report.targets import proposed_thresholds

    weeks = [61.0, 64.0, 58.0, 66.0, 63.0, 70.0, 55.0, 62.0]
    target, watch = proposed_thresholds(weeks, "up", "pct")
    assert (target, watch) == (64.5, 60.2)
    spec = {"better": "up", "target": target, "watch": watch}
    assert [status_of(v, spec) for v in (62.0, 70.0, 55.0)] == ["watch", "on_target", "off_target"]
    target, watch = proposed_thresholds([-12.0, -20.0, -5.0, -9.0], "up", "points")
    assert (target, watch) == (-8, -14) and isinstance(target, int)
    assert proposed_thresholds([4.0, 6.0, 5.0, 9.0], "down", "pct") == (4.8, 6.8)
    assert proposed_thresholds([1.0, 2.0, 3.0], "up", "pct") is None  # too few weeks


def test_cli_proposes_targets_from_baseline_weeks(pipeline_run, tmp_path, capsys):
    import yaml

    settings, _ = pipeline_run
    warehouse = str(settings.warehouse)
    con = connect(settings.warehouse, read_only=True)
    weeks = [w for (w,) in con.execute("SELECT DISTINCT week FROM weekly_scorecard ORDER BY week").fetchall()]
    con.close()
    out = tmp_path / "targets.yaml"
    assert esprit(["targets", "--from-weeks", f"{weeks[0]}..{weeks[-1]}", "--warehouse", warehouse,
                   "--output", str(out)]) == 0  # fmt: skip
    proposed = yaml.safe_load(out.read_text(encoding="utf-8"))["headline"]
    assert [t["metric"] for t in proposed] == [t["metric"] for t in settings.headline]
    # the run has fewer weeks than a quartile needs: every tile keeps its thresholds, and says so
    assert [(t["target"], t["watch"]) for t in proposed] == [(t["target"], t["watch"]) for t in settings.headline]
    assert out.read_text(encoding="utf-8").count("kept: fewer than 4 baseline weeks") == len(proposed)
    assert esprit(["targets", "--from-weeks", "2026-W50..2026-W40", "--warehouse", warehouse]) == 2
    assert "comes after" in capsys.readouterr().err
