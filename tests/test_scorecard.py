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
                    expected = [
                        {"signal": signal, "text": t, "language": lang, "nps": nps}
                        for _, t, lang, nps in con.execute(
                            "SELECT DISTINCT r.response_id, r.verbatim, r.language, r.nps FROM friction_events AS f "
                            "JOIN journeys AS j USING (journey_id) "
                            "JOIN journey_contacts AS jc ON jc.journey_id = f.journey_id AND jc.contact_type = 'survey' "
                            "JOIN stg_survey_responses AS r ON r.response_id = jc.contact_ref "
                            "WHERE j.week = ? AND f.stage = ? AND f.signal = ? AND nullif(trim(r.verbatim), '') IS NOT NULL "
                            "ORDER BY r.nps NULLS LAST, r.response_id LIMIT 2",
                            [week, stage["key"], signal],
                        ).fetchall()
                    ]
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
