"""The scorecard in real headless Chromium (Debian's package; `make test` installs it):
no console error, no network request, every figure shown equal to the metric tables, hostile
names and verbatims inert, weeks without surveys or calls saying 'no data'. Full-page
screenshots are kept in test-artifacts/screenshots/."""

import csv
import os
import re
import shutil
from pathlib import Path

import pytest

from pipelines.config import load_settings, team_name
from pipelines.orchestration.run import run_all
from pipelines.report.investigate import pair_slug
from pipelines.report.pdf import QUIET_FLAGS, find_chromium
from pipelines.report.scorecard import RATIO_UNITS as RATIOS
from pipelines.report.scorecard import fmt, fmt_change, status_of
from pipelines.warehouse import connect
from pipelines.weeks import shift_week

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    if chromium is None:
        pytest.fail("Chromium is required for the scorecard tests: `make test` installs Debian's 'chromium'")
    with sync_playwright() as playwright:
        # Debian's chromium, never a downloaded browser build
        instance = playwright.chromium.launch(
            executable_path=chromium, args=[f for f in QUIET_FLAGS if f != "--headless"]
        )
        yield instance
        instance.close()


class Visit:
    """A page opened from disk, with every request, console message and page error it caused."""

    def __init__(self, browser, path: Path):
        self.path = path
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.requests, self.console, self.errors, self.dialogs = [], [], [], []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(path.resolve().as_uri(), wait_until="load")

    def assert_quiet(self):
        assert self.requests == [self.path.resolve().as_uri()], "the page requested something else"
        assert [m for m in self.console if m[0] in ("error", "warning")] == []
        assert self.errors == [] and self.dialogs == []

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        target = ARTIFACTS / name
        self.page.screenshot(path=str(target), full_page=True)
        kept = os.environ.get("ESPRIT_TEST_ARTEFACTS")  # a CI's artefact folder, when it names one
        if kept:
            Path(kept).mkdir(parents=True, exist_ok=True)
            shutil.copy2(target, Path(kept) / name)
        return target


@pytest.fixture(scope="module")
def latest(pipeline_run):
    settings, result = pipeline_run
    return settings, result["summary"]["weeks"][-1]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_renders_quietly_in_chromium_in_both_languages(browser, latest, lang):
    settings, week = latest
    visit = Visit(browser, settings.scorecards_dir / week / f"scorecard.{lang}.html")
    visit.assert_quiet()
    assert visit.page.evaluate("document.documentElement.lang") == lang
    shot = visit.screenshot(f"scorecard-{week}.{lang}.png")
    assert shot.stat().st_size > 20_000
    heading = visit.page.inner_text("h1")
    assert heading.startswith("Tableau de bord" if lang == "fr" else "Service-excellence scorecard")
    visit.page.close()


def test_index_and_investigation_pages_render_quietly(browser, latest):
    settings, week = latest
    visit = Visit(browser, settings.scorecards_dir / "index.html")
    visit.assert_quiet()
    assert visit.page.locator("tr[data-week]").count() == len(list(settings.scorecards_dir.glob("*-W*")))
    visit.page.close()
    scorecard = Visit(browser, settings.scorecards_dir / week / "scorecard.en.html")
    links = scorecard.page.locator("svg a")  # heatmap cells link to the pair's investigation page
    assert links.count() > 0
    href = links.first.get_attribute("xlink:href") or links.first.get_attribute("href")
    target = settings.scorecards_dir / week / href
    assert target.exists()
    scorecard.page.close()
    visit = Visit(browser, target)
    visit.assert_quiet()
    visit.screenshot(f"handoffs-{week}.en.png")
    visit.page.close()


def week_figures(warehouse, week: str) -> dict[str, tuple]:
    """metric -> (value, unit, denominator) of weekly_scorecard for the week: what a page shows."""
    con = connect(warehouse, read_only=True)
    try:
        return {
            m: (v, u, d)
            for m, v, u, d in con.execute(
                "SELECT metric, value, unit, denominator FROM weekly_scorecard WHERE week = ?", [week]
            ).fetchall()
        }
    finally:
        con.close()


def test_the_pyramid_shows_each_level_with_the_figures_of_the_metric_tables(browser, latest):
    """docs/excellence.md: top level first and narrowest, each figure as weekly_scorecard has it."""
    from pipelines.report.i18n import translator
    from pipelines.report.pyramid import level_status

    settings, week = latest
    rows = week_figures(settings.warehouse, week)
    t, _ = translator("fr")
    visit = Visit(browser, settings.scorecards_dir / week / "scorecard.fr.html")
    visit.assert_quiet()
    levels = visit.page.locator(".pyramid .level")
    assert [levels.nth(i).get_attribute("data-level") for i in range(levels.count())] == list(
        reversed(settings.pyramid)
    )
    widths = [levels.nth(i).bounding_box()["width"] for i in range(levels.count())]
    assert widths == sorted(widths) and widths[0] < widths[-1]  # a pyramid: the base widest
    for key, spec in settings.pyramid.items():
        level = visit.page.locator(f'.pyramid .level[data-level="{key}"]')
        statuses = []
        for figure in spec["figures"]:
            metric = figure["metric"]
            value, unit, denominator = rows[metric]
            row = level.locator(f'tr[data-metric="{metric}"]')
            cells = row.locator("td").all_inner_texts()
            assert cells[0] == figure["fr"] and cells[1] == (
                fmt(value, unit, "fr") if denominator else "pas de données"
            )
            statuses.append(row.get_attribute("data-status"))
        status = level_status(statuses)
        assert level.get_attribute("data-status") == status
        assert level.locator(f".badge.{status}").first.inner_text() == t("status_" + status)
    # beside agent continuity: the follow-ups it leaves out for want of an agent recorded
    left = rows["followups_without_agent"][0]
    beside = visit.page.locator('tr[data-metric="agent_continuity"] [data-unrecorded]')
    assert left > 0 and beside.inner_text() == t("unrecorded_followups_without_agent", n=fmt(left, "count", "fr"))
    visit.page.close()


def test_every_figure_shown_equals_the_metric_tables(browser, latest):
    settings, week = latest
    con = connect(settings.warehouse, read_only=True)
    scorecard = {
        m: rest
        for m, *rest in con.execute(
            "SELECT metric, value, unit, denominator, change, average_4_weeks, provisional FROM weekly_scorecard "
            "WHERE week = ?",
            [week],
        ).fetchall()
    }
    stages = {
        s: (r, i, f)
        for s, r, i, f in con.execute(
            "SELECT stage, journeys_reached, friction_index, friction_share FROM weekly_stage_friction WHERE week = ?",
            [week],
        ).fetchall()
    }
    pairs = {
        (a, b): (h, f)
        for a, b, h, f in con.execute(
            "SELECT from_team, to_team, handoffs, failed FROM weekly_handoff_pairs WHERE week = ?", [week]
        ).fetchall()
    }
    supplier = {
        t: (h, f)
        for t, h, f in con.execute(
            "SELECT team, handoffs_received, failed FROM weekly_team_supplier WHERE week = ?", [week]
        ).fetchall()
    }
    teams = {
        t: (o, a)
        for t, o, a in con.execute(
            "SELECT team, segments_offered, answered FROM weekly_team_kpis WHERE week = ?", [week]
        ).fetchall()
    }
    quality = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT source, count(*) FILTER (WHERE status = 'loaded' AND list_contains(weeks, $w)), "
            "coalesce(sum(rows_loaded) FILTER (WHERE list_contains(weeks, $w)), 0), "
            "coalesce(sum(rows_quarantined) FILTER (WHERE list_contains(weeks, $w)), 0), "
            "coalesce(sum(rows_duplicate) FILTER (WHERE list_contains(weeks, $w)), 0), "
            "count(*) FILTER (WHERE status = 'rejected') FROM load_audit GROUP BY source",
            {"w": week},
        ).fetchall()
    }
    con.close()
    assert quality
    visit = Visit(browser, settings.scorecards_dir / week / "scorecard.en.html")
    page = visit.page
    tiles = page.locator(".tile")
    assert tiles.count() == len(settings.headline)
    specs = {spec["metric"]: spec for spec in settings.headline}
    for i in range(tiles.count()):
        tile = tiles.nth(i)
        metric = tile.get_attribute("data-metric")
        value, unit, denominator, change, average, provisional = scorecard[metric]
        shown = tile.locator(".value").inner_text()
        assert shown == (fmt(value, unit) if denominator else "no data"), metric
        if denominator:
            assert f"n = {denominator:,.0f}" in tile.inner_text()
        # a figure still looking ahead past the data's horizon has no target status
        status = (
            "provisional" if provisional and denominator else status_of(value if denominator else None, specs[metric])
        )
        assert status in tile.get_attribute("class").split(), metric
        text = tile.inner_text()
        assert f"target {fmt(specs[metric]['target'], unit)}" in text
        if change is not None:  # the previous week, then the 4-week average, each as a change
            assert f"{fmt_change(change, unit)} vs previous week" in text, metric
            assert f"{fmt_change(value - average, unit)} vs 4-week average" in text, metric
        assert tile.locator(".spark svg").count() == 1
    # the latest week's last journeys had no time to call back: first-contact resolution says so
    fcr = page.locator('.tile[data-metric="first_contact_resolution"]')
    assert scorecard["first_contact_resolution"][5] is True
    assert "provisional" in fcr.get_attribute("class").split() and "provisional until" in fcr.inner_text()
    assert "significant" not in fcr.inner_text() and "within noise" not in fcr.inner_text()
    split = {k: scorecard[f"nps_{k}"][0] for k in ("promoters", "passives", "detractors")}
    nps_text = page.locator('.tile[data-metric="nps"]').inner_text()
    for k, share in split.items():
        assert f"{k} {fmt(share, 'pct')}" in nps_text
    for key, (reached, index, share) in stages.items():
        cells = page.locator(f'tr[data-stage="{key}"] td').all_inner_texts()
        assert cells[1:4] == [f"{reached:,.0f}", fmt(100 * share, "pct"), fmt(index, "index")], key
    for row in page.locator("table.pairs tr[data-pair]").all():
        src, dst = row.get_attribute("data-pair").split("|")
        cells = row.locator("td").all_inner_texts()
        assert (int(cells[2]), int(cells[3])) == pairs[(src, dst)]
    assert page.locator("table.supplier tr[data-team]").count() == len(supplier)
    for team, (received, failed) in supplier.items():
        cells = page.locator(f'table.supplier tr[data-team="{team}"] td').all_inner_texts()
        assert (int(cells[1]), int(cells[3])) == (received, failed)
    for team, (offered, answered) in teams.items():
        cells = page.locator(f'table.teams tr[data-team="{team}"] td').all_inner_texts()
        assert (int(cells[1]), int(cells[2])) == (offered, answered)
    for source, (files, rows, quarantined, duplicate, rejected) in quality.items():
        cells = page.locator(f'table.quality tr[data-source="{source}"] td').all_inner_texts()
        assert [int(c.replace(",", "")) for c in cells[1:6]] == [files, rows, quarantined, duplicate, rejected]
    page.close()


HOSTILE_TEAM = "<script>window.__pwned=1</script>tech"
HOSTILE_QUEUE = '=HYPERLINK("http://evil.example","q")'
FORMULA_TEAM = "@SUM(1+1)*cmd|' /C calc'!A0"
HOSTILE_VERBATIMS = [
    '<img src=x onerror="window.__pwned=2">',
    '=HYPERLINK("http://evil.example","x")',
    "'; DROP TABLE calls; --",
    "<script>alert(1)</script>",
]


def _rewrite(path: Path, change) -> None:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0])
    for i, row in enumerate(rows):
        change(i, row)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def hostile(generated, tmp_path_factory):
    """Generated data with hostile team and queue names and verbatims in the first week, no call
    file for the second week and no survey file for the third."""
    home = tmp_path_factory.mktemp("hostile")
    settings = load_settings(base_dir=home)
    shutil.copytree(generated, settings.landing)
    weeks = sorted(p.stem.split("_")[-1] for p in (settings.landing / "calls").glob("calls_*.csv"))

    def teams(_, row):
        row["team"] = {"technique": HOSTILE_TEAM, "facturation": FORMULA_TEAM}.get(row["team"], row["team"])
        if row["queue"] == "Q_TECHNIQUE":
            row["queue"] = HOSTILE_QUEUE

    def verbatims(i, row):
        row["verbatim"] = HOSTILE_VERBATIMS[i % len(HOSTILE_VERBATIMS)]

    _rewrite(settings.landing / "calls" / f"calls_{weeks[0]}.csv", teams)
    _rewrite(settings.landing / "surveys" / f"survey_responses_{weeks[0]}.csv", verbatims)
    (settings.landing / "calls" / f"calls_{weeks[1]}.csv").unlink()
    (settings.landing / "surveys" / f"survey_responses_{weeks[2]}.csv").unlink()
    result = run_all(settings)
    assert not result["summary"]["rejected_files"]
    return settings, weeks


def test_hostile_names_and_verbatims_are_inert(browser, hostile):
    settings, weeks = hostile
    week = weeks[0]
    con = connect(settings.warehouse, read_only=True)
    assert con.execute("SELECT count(*) FROM calls").fetchone()[0] > 0  # no SQL ran from a verbatim
    pairs = con.execute(
        "SELECT from_team, to_team FROM weekly_handoff_pairs WHERE week = ? AND (from_team = ? OR to_team = ?)",
        [week, HOSTILE_TEAM, HOSTILE_TEAM],
    ).fetchall()
    con.close()
    pages = [settings.scorecards_dir / week / f"scorecard.{lang}.html" for lang in ("en", "fr")]
    # investigation pages exist for the pairs with the most failed handoffs (scorecard.investigation_pairs)
    investigated = [settings.scorecards_dir / week / "handoffs" / f"{pair_slug(a, b)}.en.html" for a, b in pairs]
    pages += [p for p in investigated if p.exists()]
    assert len(pages) > 2
    for path in pages:
        visit = Visit(browser, path)
        visit.assert_quiet()
        assert visit.page.evaluate("typeof window.__pwned") == "undefined"
        text = visit.page.inner_text("body")
        assert HOSTILE_TEAM in text  # shown as text, not run
        visit.page.close()
    visit = Visit(browser, pages[0])
    assert any(v in visit.page.inner_text("body") for v in HOSTILE_VERBATIMS)
    visit.screenshot(f"hostile-{week}.en.png")
    visit.page.close()
    with open(settings.out / "exports" / "weekly_team_kpis.csv", newline="", encoding="utf-8") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert "'" + FORMULA_TEAM in cells and FORMULA_TEAM not in cells
    with open(settings.out / "exports" / "weekly_queue_kpis.csv", newline="", encoding="utf-8") as handle:
        cells += [cell for row in csv.reader(handle) for cell in row]
    assert "'" + HOSTILE_QUEUE in cells and HOSTILE_QUEUE not in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not _number(c))]
    # the workbook beside them: every exported table a sheet, the same cells neutralised
    from openpyxl import load_workbook

    from pipelines.report.exports import WORKBOOK, exportable_tables

    book = load_workbook(settings.out / "exports" / WORKBOOK, read_only=True)
    con = connect(settings.warehouse, read_only=True)
    assert book.sheetnames == [t[:31] for t in exportable_tables(con)]
    con.close()
    queues = [row for row in book["weekly_queue_kpis"].iter_rows() if row[1].value == "'" + HOSTILE_QUEUE]
    assert queues and queues[0][1].data_type == "s"  # text, never a formula
    texts = [c.value for name in book.sheetnames for row in book[name].iter_rows() for c in row]
    assert "'" + FORMULA_TEAM in texts and FORMULA_TEAM not in texts and HOSTILE_QUEUE not in texts
    assert not [v for v in texts if isinstance(v, str) and v[:1] in ("=", "+", "@", "\t", "\r")]
    book.close()


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_weeks_without_surveys_or_calls_say_no_data(browser, hostile):
    settings, weeks = hostile
    no_calls, no_surveys = weeks[1], weeks[2]
    for week, empty in (
        (no_calls, ("service_level", "abandonment_rate", "transfer_rate")),
        (no_surveys, ("nps", "csat", "ces")),
    ):
        visit = Visit(browser, settings.scorecards_dir / week / "scorecard.en.html")
        visit.assert_quiet()
        for metric in empty:
            tile = visit.page.locator(f'.tile[data-metric="{metric}"]')
            assert tile.locator(".value").inner_text() == "no data", (week, metric)
            assert "no_data" in tile.get_attribute("class")
        visit.screenshot(f"no-data-{week}.en.png")
        visit.page.close()
    visit = Visit(browser, settings.scorecards_dir / no_surveys / "scorecard.fr.html")
    assert visit.page.locator('.tile[data-metric="nps"] .value').inner_text() == "pas de données"
    visit.page.close()


def test_this_week_legend_and_heatmap_say_what_to_act_on(browser, latest, hostile):
    import json

    settings, week = latest
    weeks = sorted(p.name for p in settings.scorecards_dir.glob("*-W*"))
    figures = {w: json.loads((settings.scorecards_dir / w / "scorecard.json").read_text()) for w in weeks}
    # the index colours a figure by its tile's status, as the week's page does: one colour meaning
    visit = Visit(browser, settings.scorecards_dir / "index.en.html")
    assert visit.page.locator("[data-legend] .badge.watch").count() == 1
    for w in weeks:
        for metric, tile in figures[w]["headline"].items():
            cell = visit.page.locator(f'tr[data-week="{w}"] td[data-metric="{metric}"]')
            assert cell.get_attribute("data-status") == tile["status"], (w, metric)
    visit.page.close()
    for w in weeks:
        visit = Visit(browser, settings.scorecards_dir / w / "scorecard.en.html")
        page = visit.page
        block = page.locator("section#this-week")
        assert block.bounding_box()["y"] < page.locator(".tiles").bounding_box()["y"]  # at the top
        items = block.locator("ol.act > li")
        act = figures[w]["this_week"]["act"]
        assert [(items.nth(i).get_attribute("data-kind"), items.nth(i).get_attribute("data-subject"))
                for i in range(items.count())] == [(i["kind"], i["subject"]) for i in act]  # fmt: skip
        for i in range(items.count()):  # every item names its figure and links where to look
            href = items.nth(i).locator("a").get_attribute("href")
            if href.startswith("#"):
                assert page.locator(href).count() == 1, href
            else:
                assert (settings.scorecards_dir / w / href).exists(), href
        if not act:
            assert block.locator("[data-act-none]").count() == 1
        # a change is green or red only when it is significant
        for span in page.locator(".tile [data-change]").all():
            tile_text = span.locator("xpath=..").inner_text()
            coloured = {"better", "worse"} & set(span.get_attribute("class").split())
            assert bool(coloured) == (" significant" in f" {tile_text}".replace("within noise", "")), tile_text
        pairs = [c for c in figures[w]["this_week"]["act"] if c["kind"] == "pair"]
        for pair in pairs:
            text = block.locator(f'ol.act > li[data-subject="{pair["subject"]}"]').inner_text()
            names = [team_name(settings, pair[k], "en") for k in ("from", "to")]
            assert text.startswith(f"{names[0]} → {names[1]}: {pair['figure']} failed handoffs of {pair['handoffs']}")
        assert "Click a cell to open the pair's investigation" in page.inner_text("[data-heatmap-legend]")
        visit.page.close()
    # the heatmap's dots carry the number of failed handoffs: the largest for the pair with the most
    con = connect(settings.warehouse, read_only=True)
    most = con.execute("SELECT max(failed) FROM weekly_handoff_pairs WHERE week = ?", [week]).fetchone()[0]
    rows = con.execute(
        "SELECT metric, week, value, denominator, provisional FROM weekly_scorecard WHERE week <= ?", [week]
    ).fetchall()
    con.close()
    visit = Visit(browser, settings.scorecards_dir / week / "scorecard.en.html")
    assert visit.page.locator(f'.heatmap svg [id="failed-{most}"]').count() >= 1
    # sparklines carry the target (dashed) and their first and last week
    for tile in visit.page.locator(".tile").all():
        spark = tile.locator(".spark svg").inner_html()
        assert weeks[0] in spark and week in spark and "stroke-dasharray" in spark
    # the quarter view: 52 weeks to this one, the target drawn, weeks on target as the tables say
    year_start, quarter_start = shift_week(week, -51), shift_week(week, -12)
    for spec in settings.headline:
        view = visit.page.locator(f'figure.quarter[data-metric="{spec["metric"]}"]')
        chart = view.locator("svg").inner_html()
        assert view.locator("svg").get_attribute("aria-label") == f"{spec['en']}, 52 weeks to {week}"
        assert year_start in chart and week in chart and "stroke-dasharray" in chart
        final = {
            w: status_of(v, spec)
            for m, w, v, n, provisional in rows
            if m == spec["metric"] and w >= year_start and not provisional and (n or spec["unit"] not in RATIOS)
        }
        quarter = [s for w, s in final.items() if w >= quarter_start]
        expected = f"{quarter.count('on_target')}/{len(quarter)} {list(final.values()).count('on_target')}/{len(final)}"
        assert view.locator("[data-on-target]").get_attribute("data-on-target") == expected, spec["metric"]
    visit.page.close()
    # a source that went missing heads the list, in both languages
    hostile_settings, hostile_weeks = hostile
    for lang, heading in (("en", "This week"), ("fr", "Cette semaine")):
        visit = Visit(browser, hostile_settings.scorecards_dir / hostile_weeks[1] / f"scorecard.{lang}.html")
        visit.assert_quiet()
        assert visit.page.locator("section#this-week h2").inner_text() == heading
        first = visit.page.locator("section#this-week ol.act > li").first
        assert (first.get_attribute("data-kind"), first.get_attribute("data-rank")) == ("source", "1")
        assert "calls" in first.get_attribute("data-subject")
        visit.screenshot(f"this-week-{hostile_weeks[1]}.{lang}.png")
        visit.page.close()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_investigation_overview_matches_the_handoffs_table_and_details_open(browser, latest, lang):
    """The pair with the most failed handoffs: its overview (reasons, pickup times, queues, agents,
    worst journeys) counts what the handoffs table holds; its timelines are grouped by reason in
    closed <details> that open on a click, without script; the failing step is highlighted."""
    settings, week = latest
    con = connect(settings.warehouse, read_only=True)
    src, dst, handoffs, failed = con.execute(
        "SELECT from_team, to_team, handoffs, failed FROM weekly_handoff_pairs WHERE week = ? "
        "AND ? NOT IN (from_team, to_team) ORDER BY failed DESC, handoffs DESC, from_team, to_team LIMIT 1",
        [week, settings.teams["unassigned"]],
    ).fetchone()
    by_reason = dict(
        con.execute(
            "SELECT reason, count(*) FROM (SELECT unnest(failure_reasons) AS reason FROM handoffs "
            "WHERE week = ? AND from_team = ? AND to_team = ? AND failed) GROUP BY reason",
            [week, src, dst],
        ).fetchall()
    )
    agents = {
        r[0] for r in con.execute("SELECT DISTINCT agent_id FROM stg_calls WHERE agent_id IS NOT NULL").fetchall()
    }
    con.close()
    visit = Visit(browser, settings.scorecards_dir / week / "handoffs" / f"{pair_slug(src, dst)}.{lang}.html")
    visit.assert_quiet()
    page = visit.page
    assert page.locator("#overview h2").is_visible()
    shown = {
        row.get_attribute("data-reason"): int(row.locator("td").nth(1).inner_text())
        for row in page.locator("table.reasons tr[data-reason]").all()
    }
    assert shown == by_reason
    for table in ("pickup", "queues", "agents"):
        cells = [
            [int(c.inner_text()) for c in row.locator("td.num").all()]
            for row in page.locator(f"table.{table} tr").all()[1:]
        ]
        if table == "agents":  # the ten agents with the most failures: at most the pair's totals
            assert sum(c[0] for c in cells) <= handoffs and sum(c[1] for c in cells) <= failed
        else:
            assert [sum(c[0] for c in cells), sum(c[1] for c in cells)] == [handoffs, failed], table
    assert page.locator("table.worst tr[data-journey]").count() > 0
    text = page.inner_text("body")
    assert not {a for a in agents if re.search(rf"\b{re.escape(a)}\b", text)}  # agents as pseudonyms only
    groups = page.locator("details.reason")
    counts = [int(g.get_attribute("data-count")) for g in groups.all()]
    assert sum(counts) == min(failed, settings.scorecard["handoffs_per_page"])
    assert counts == sorted(counts, reverse=True)
    first = groups.first
    assert not first.evaluate("d => d.open") and not first.locator("table.timeline").first.is_visible()
    first.locator("summary").click()
    assert first.evaluate("d => d.open") and first.locator("table.timeline").first.is_visible()
    sections = first.locator("section.handoff")
    assert sections.count() == counts[0]
    assert first.locator("tr.failing").count() == counts[0]  # one failing step in each journey
    visit.screenshot(f"handoffs-overview-{week}.{lang}.png")
    page.close()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_symmetry_of_attention_shows_the_tables_figures_and_hides_small_groups(browser, latest, lang):
    """docs/excellence.md: each team's row as weekly_team_attention has it, a pulse group under
    pulse.min_group_size (Complaints' four staff) as 'too few answers to show', never a number, and
    the relationship as team_attention_link has it."""
    from pipelines.report.i18n import formats, translator

    settings, week = latest
    t, _ = translator(lang)
    number = formats(lang)
    con = connect(settings.warehouse, read_only=True)
    cursor = con.execute("SELECT * FROM weekly_team_attention WHERE week = ? ORDER BY team", [week])
    names = [d[0] for d in cursor.description]
    teams = [dict(zip(names, r)) for r in cursor.fetchall()]
    cursor = con.execute("SELECT * FROM team_attention_link WHERE week = ?", [week])
    names = [d[0] for d in cursor.description]
    links = {r[1]: dict(zip(names, r)) for r in cursor.fetchall()}
    con.close()
    assert {row["served_status"] for row in teams} >= {"shown", "too_few_answers"}  # both cases are on the page
    visit = Visit(browser, settings.scorecards_dir / week / f"scorecard.{lang}.html")
    visit.assert_quiet()
    section = visit.page.locator("section.attention")
    assert section.locator("h2").inner_text() == t("attention")
    for row in teams:
        shown = section.locator(f'tr[data-team="{row["team"]}"]')
        assert shown.locator("td").first.inner_text() == team_name(settings, row["team"], lang)
        for cell, status, value, respondents in (
            ("served", row["served_status"], row["served_score"], row["served_respondents"]),
            ("engagement", row["engagement_status"], row["engagement"], row["engagement_respondents"]),
            ("serving", row["serving_status"], row["serving_score"], row["serving_respondents"]),
        ):
            text = shown.locator(f'td[data-cell="{cell}"]').inner_text()
            if status == "shown":
                assert text == f"{number.decimal(value, 2)} (n\u00a0{number.count(respondents)})"
            else:
                assert value is None and respondents is None
                assert text == t("too_few_answers" if status == "too_few_answers" else "no_data")
        nps = shown.locator('td[data-cell="nps"]').inner_text()
        assert nps == (
            f"{fmt(row['nps'], 'points', lang)} (n\u00a0{number.count(row['nps_responses'])})"
            if row["nps"] is not None
            else t("no_data")
        )
        received = shown.locator('td[data-cell="failed-received"]').inner_text()
        if row["handoffs_received"]:
            rate = fmt(100 * row["failure_rate_received"], "pct", lang)
            assert (
                received
                == f"{number.count(row['failed_received'])} / {number.count(row['handoffs_received'])} ({rate})"
            )
    for outcome, link in links.items():
        item = section.locator(f'li[data-outcome="{outcome}"]')
        assert item.get_attribute("data-status") == link["status"]
        if link["status"] != "no_data":
            r, low, high = (
                number.decimal(link[k], 2, True) for k in ("correlation", "correlation_low", "correlation_high")
            )
            n = number.count(link["team_weeks"])
            assert t(f"link_{outcome}", r=r, low=low, high=high, n=n) in item.inner_text()
    visit.screenshot(f"attention-{lang}.png")
    visit.page.close()
