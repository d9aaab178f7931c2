"""The scorecard in French, on a narrow screen and on paper, in real headless Chromium: the French
pages free of English words and with numbers as Babel writes them for fr_FR, no horizontal page
scroll at 400 px, the printed PDF on A4 with page numbers and without the navigation or links.
Reuses the session's pipeline run and the PDFs it printed; screenshots in test-artifacts/."""

import html
import re
import subprocess

from pipelines.report.i18n import formats
from pipelines.warehouse import connect
from tests.test_scorecard_browser import Visit, browser, latest, week_figures  # noqa: F401 (fixtures)

# Words a French page must not show: the English of the catalogues (page, timeline, sources,
# reasons), of the teams' and stages' configured names. Matched as whole words, ignoring case
# unless written with capitals. Add to it when English turns up on a French page.
ENGLISH_WORDS = (
    "week", "weeks", "target", "on target", "off target", "watch", "no data", "provisional", "until",
    "significant", "within noise", "small sample", "previous", "average", "vs", "CI", "the", "and", "of",
    "with", "handoff", "handoffs", "failed", "failure", "rate", "reasons", "investigate", "team", "teams",
    "journey", "journeys", "stage", "stages", "signals", "promoters", "passives", "detractors", "answered",
    "abandoned", "speed", "handle", "time", "transferred", "rows", "files", "loaded", "quarantined",
    "duplicate", "rejected", "late", "complete", "incomplete", "restated", "customers", "said", "recontact",
    "repeat", "bounce-back", "dropped", "slow pickup", "reopened", "escalation", "reassignment", "queue",
    "waited", "hold", "warm", "cold", "transfer", "opened", "assigned", "reassigned", "status", "closed",
    "pending", "in progress", "resolved", "yes", "survey", "surveys", "calls", "complaints", "published",
    "back", "detail", "Front office", "Billing", "Technical support", "Reach", "Understand", "Resolve", "Recover",
)  # fmt: skip

# The page's own text: leave out what is in another language (verbatims, the link to the
# English version), as the page marks it with its lang attribute.
OWN_TEXT = """(charts) => {
    document.querySelectorAll('body [lang]').forEach(e => { if (e.lang !== document.documentElement.lang) e.remove(); });
    if (!charts) document.querySelectorAll('svg').forEach(e => e.remove());
    return document.body.innerText;
}"""


def english_words(text: str) -> list[str]:
    found = []
    for word in ENGLISH_WORDS:
        flags = 0 if word != word.lower() else re.IGNORECASE
        if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, flags):
            found.append(word)
    return found


def test_the_english_word_list_catches_english():
    assert english_words("Semaine : complète, hors cible") == []
    assert set(english_words("Failed handoffs: 3 vs previous week")) == {"week", "previous", "vs", "failed", "handoffs"}
    assert english_words("ci-dessous, transfert à froid") == []  # CI only in capitals; whole words


def test_french_pages_are_french_with_babel_numbers(browser, latest):  # noqa: F811
    settings, week = latest
    folder = settings.scorecards_dir / week
    figures = week_figures(settings.warehouse, week)
    con = connect(settings.warehouse, read_only=True)
    failing = con.execute(
        "SELECT from_team, to_team FROM weekly_handoff_pairs WHERE week = ? AND failed > 0 "
        "AND '(unassigned)' NOT IN (from_team, to_team) ORDER BY failed DESC LIMIT 1",
        [week],
    ).fetchone()
    con.close()
    from pipelines.report.investigate import pair_slug

    fr = formats("fr")
    pages = [folder / "scorecard.fr.html", settings.scorecards_dir / "index.fr.html"]
    pages.append(folder / "handoffs" / f"{pair_slug(*failing)}.fr.html")
    visit = Visit(browser, pages[0])
    tiles = visit.page.locator(".tile")
    with_ci = 0
    for i in range(tiles.count()):
        tile = tiles.nth(i)
        value, unit, denominator = figures[tile.get_attribute("data-metric")]
        shown = tile.locator(".value").inner_text()
        assert shown == (fr.value(value, unit) if denominator else "pas de données")
        if denominator:
            assert f"n = {fr.count(denominator)}" in tile.inner_text()
        with_ci += "IC à 95\u00a0%" in tile.inner_text()
    assert with_ci > 0  # the rates carry their interval, in French
    # the sparklines are named in French: "<figure>, les N dernières semaines"
    for i in range(tiles.count()):
        name = tiles.nth(i).locator(".spark svg").get_attribute("aria-label")
        assert "dernières semaines" in name and "last" not in name, name
    # the heatmap's cells write their rate as the page does (45 %, a non-breaking space)
    cells = [c.strip() for c in visit.page.locator(".heatmap svg text").all_text_contents() if "%" in c]
    assert cells and all(re.match(r"\d+\u00a0%", c) for c in cells), cells[:5]
    visit.page.close()
    for path in pages:
        visit = Visit(browser, path)
        text = visit.page.evaluate(OWN_TEXT, True)
        assert english_words(text) == [], path.name
        # the timeline's details are worded in French (the journey's call segments at least), and
        # the overview's rules of the failure reasons too (none left in English)
        if "handoffs" in path.parts:
            assert visit.page.locator("table.reasons tr[data-reason]").count() > 0
            assert visit.page.locator("table.reasons [lang]").count() == 0
            assert "file " in text and "appel" in text and "queue " not in text
        # French typography: no breaking space before : ; ? ! % (charts are drawn apart)
        prose = visit.page.evaluate(OWN_TEXT, False)
        assert re.findall(r"\S ([:;?!%])", prose) == [], path.name
        visit.page.close()


def test_no_horizontal_page_scroll_at_400_px(browser, latest):  # noqa: F811
    settings, week = latest
    folder = settings.scorecards_dir / week
    investigation = sorted((folder / "handoffs").glob("*.en.html"))[0]
    for path in (folder / "scorecard.en.html", folder / "scorecard.fr.html", settings.scorecards_dir / "index.html"):
        visit = Visit(browser, path)
        visit.page.set_viewport_size({"width": 400, "height": 900})
        width = visit.page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert width[0] <= width[1] <= 400, path.name
        if path.name.startswith("scorecard"):
            # a wide table scrolls inside its own box instead
            assert visit.page.evaluate(
                "[...document.querySelectorAll('table')].some(t => t.scrollWidth > t.clientWidth "
                "&& getComputedStyle(t).overflowX === 'auto')"
            )
            visit.screenshot(f"narrow-{week}.{path.stem.split('.')[-1]}.png")
        visit.page.close()
    visit = Visit(browser, investigation)
    visit.page.set_viewport_size({"width": 400, "height": 900})
    assert visit.page.evaluate("document.documentElement.scrollWidth") <= 400
    visit.page.close()


def test_pdf_is_a4_with_page_numbers_and_no_navigation_or_links(latest):  # noqa: F811
    settings, week = latest
    pdf = settings.scorecards_dir / week / "scorecard.fr.pdf"  # printed by the session's run
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Page size:\s+59[45](\.\d+)? x 84[12](\.\d+)? pts \(A4\)", info), info
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages > 1
    # the page's headings and table headers: none may end a printed page, away from its content
    page = pdf.with_suffix(".html").read_text(encoding="utf-8")
    headings = {
        html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
        for _, cell in re.findall(r"<(h[23]|th)\b[^>]*>(.*?)</\1>", page, re.S)
    } - {""}
    for number in range(1, pages + 1):
        text = subprocess.run(
            ["pdftotext", "-f", str(number), "-l", str(number), str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"{number}/{pages}" in re.sub(r"[ \u00a0\u202f]", "", text), number
        assert "Toutes les semaines" not in text  # the navigation is left out
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        last = [line for line in lines if not re.fullmatch(r"\d+\s*/\s*\d+", line)][-1]
        assert not [h for h in headings if h == last or (len(last) >= 6 and h.endswith(last))], (number, last)
    raw = pdf.read_bytes()
    assert b"file:" not in raw and b"/URI" not in raw  # links to other pages removed, no machine path
