import json
import re

import pytest

from pipelines.scorecard import render_weeks
from pipelines.warehouse import connect


@pytest.fixture(scope="module")
def pages(pipeline_run):
    settings, result = pipeline_run
    return settings, [p for p in result["pages"] if p.endswith("scorecard.html")]


def test_one_scorecard_per_week_and_an_index(pages, generated):
    settings, paths = pages
    weeks = sorted(p.split("/")[-2] for p in paths)
    summary = json.loads((generated / "ground_truth" / "summary.json").read_text())
    assert weeks == summary["weeks"]
    assert (settings.scorecards_dir / "index.html").exists()


def test_scorecard_is_self_contained(pages):
    _, paths = pages
    html = open(paths[0], encoding="utf-8").read()
    assert "<style>" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html and "@import" not in html and "url(" not in html


def test_headline_tiles_show_the_warehouse_figures(pages):
    settings, paths = pages
    week = paths[-1].split("/")[-2]
    html = open(paths[-1], encoding="utf-8").read()
    con = connect(settings.warehouse, read_only=True)
    nps, csat_n = con.execute(
        "SELECT max(value) FILTER (WHERE metric = 'nps'), max(denominator) FILTER (WHERE metric = 'csat') "
        "FROM weekly_scorecard WHERE week = ?", [week]).fetchone()
    con.close()
    tile = re.search(r'data-metric="nps">.*?<div class="value">([^<]+)</div>', html, re.S).group(1)
    assert tile == f"{nps:+.0f}"
    figures = json.loads((settings.scorecards_dir / week / "scorecard.json").read_text())
    assert figures["headline"]["csat"]["denominator"] == csat_n


def test_an_unknown_week_is_refused_with_the_weeks_available(pipeline_run):
    settings, _ = pipeline_run
    with pytest.raises(ValueError, match=r"week 2020-W01 has no data .*2026-W40\.\.2026-W42"):
        render_weeks(settings, ["2020-W01"])
