"""The scorecard in real headless Chromium (Debian's package; `make test` installs it):
no console error, no network request, every figure shown equal to the metric tables, hostile
names and verbatims inert, weeks without surveys or calls saying 'no data'. Full-page
screenshots are kept in test-artifacts/screenshots/."""

import csv
import re
import shutil
from pathlib import Path

import pytest

from pipelines.config import load_settings
from pipelines.orchestration.run import run_all
from pipelines.report.investigate import pair_slug
from pipelines.report.pdf import QUIET_FLAGS, find_chromium
from pipelines.report.scorecard import fmt, fmt_change, status_of
from pipelines.warehouse import connect

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
    pages += [settings.scorecards_dir / week / "handoffs" / f"{pair_slug(a, b)}.en.html" for a, b in pairs]
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
