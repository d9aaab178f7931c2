"""Bounded rendering (issue 24, point 7): investigation pages for the pairs with the most failed
handoffs only, PDFs for the latest week only, and weeks whose figures did not change left as
they are. Renders the session's pipeline run into temporary folders; no PDF is printed here."""

import dataclasses
import re
import shutil

import pytest

from pipelines.report.investigate import pair_slug
from pipelines.report.scorecard import render_weeks
from pipelines.warehouse import connect


@pytest.fixture
def own(pipeline_run, tmp_path):
    """The session's settings with their own output folder and their own copy of the warehouse."""
    settings, result = pipeline_run
    warehouse = tmp_path / "warehouse" / settings.warehouse.name
    warehouse.parent.mkdir()
    shutil.copy(settings.warehouse, warehouse)
    return dataclasses.replace(settings, out=tmp_path / "out", warehouse=warehouse), result["summary"]["weeks"]


def _files(folder):
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_investigation_pages_only_for_the_pairs_with_the_most_failed_handoffs(own):
    settings, weeks = own
    week = weeks[-1]
    settings = dataclasses.replace(settings, scorecard={**settings.scorecard, "investigation_pairs": 2})
    render_weeks(settings, [week], languages=["en"], pdf=False, exports=False)
    con = connect(settings.warehouse, read_only=True)
    pairs = con.execute(
        "SELECT from_team, to_team, failed FROM weekly_handoff_pairs WHERE week = ? AND failed > 0 "
        "AND ? NOT IN (from_team, to_team) ORDER BY failed DESC, handoffs DESC, from_team, to_team",
        [week, settings.teams["unassigned"]],
    ).fetchall()
    con.close()
    assert len(pairs) > 3
    pages = sorted(p.name for p in (settings.scorecards_dir / week / "handoffs").iterdir())
    assert pages == sorted(f"{pair_slug(s, d)}.en.html" for s, d, _ in pairs[:2])
    scorecard = (settings.scorecards_dir / week / "scorecard.en.html").read_text(encoding="utf-8")
    linked = set(re.findall(r'href="handoffs/([^"]+)"', scorecard))
    assert linked == set(pages)  # no link leads to a page that was not written
    assert f'data-left-out="{len(pairs) - 2}"' in scorecard  # says how many, and where they are
    assert "weekly_handoff_pairs" in scorecard and f"esprit handoffs --week {week} --json" in scorecard
    page = (settings.scorecards_dir / week / "handoffs" / pages[0]).read_text(encoding="utf-8")
    assert f'data-left-out="{len(pairs) - 2}"' in page
    # a larger cap the next time: the pages of the pairs now left out go
    settings = dataclasses.replace(settings, scorecard={**settings.scorecard, "investigation_pairs": 1})
    render_weeks(settings, [week], languages=["en"], pdf=False, exports=False)
    assert sorted(p.name for p in (settings.scorecards_dir / week / "handoffs").iterdir()) == [
        f"{pair_slug(*pairs[0][:2])}.en.html"
    ]


def test_weeks_whose_figures_did_not_change_are_left_untouched(own):
    settings, weeks = own
    assert len(weeks) >= 3
    render_weeks(settings, languages=["en"], pdf=False, exports=False)
    before = _files(settings.scorecards_dir)
    written = render_weeks(settings, languages=["en"], pdf=False, exports=False)
    assert [p.name for p in written] == ["index.en.html"]  # the index lists every week: rewritten
    after = _files(settings.scorecards_dir)
    assert {p: v for p, v in after.items() if p.parent != settings.scorecards_dir} == {
        p: v for p, v in before.items() if p.parent != settings.scorecards_dir
    }
    # a figure of the middle week changes: that week again, and those after it that show it (their
    # change against the previous week, their sparklines)
    con = connect(settings.warehouse)
    con.execute("UPDATE weekly_scorecard SET value = value + 1 WHERE week = ? AND metric = 'nps'", [weeks[1]])
    con.close()
    written = render_weeks(settings, languages=["en"], pdf=False, exports=False)
    again = {p.parent.name for p in written if p.name == "scorecard.en.html"}
    assert again == set(weeks[1:])
    assert _files(settings.scorecards_dir / weeks[0]) == {
        p: v for p, v in before.items() if p.is_relative_to(settings.scorecards_dir / weeks[0])
    }
    # forced: every week again
    written = render_weeks(settings, languages=["en"], pdf=False, exports=False, force=True)
    assert {p.parent.name for p in written if p.name == "scorecard.en.html"} == set(weeks)


def test_pdfs_are_printed_for_the_latest_week_only(pipeline_run):
    """The session's run printed its PDFs (scorecard.pdf: auto, Chromium installed): the latest
    week's only, `scorecard.pdf_weeks` being `latest` by default."""
    settings, result = pipeline_run
    weeks = result["summary"]["weeks"]
    assert settings.scorecard["pdf_weeks"] == "latest"
    printed = sorted(p.relative_to(settings.scorecards_dir).as_posix() for p in settings.scorecards_dir.rglob("*.pdf"))
    assert printed == [f"{weeks[-1]}/scorecard.en.pdf", f"{weeks[-1]}/scorecard.fr.pdf"]
