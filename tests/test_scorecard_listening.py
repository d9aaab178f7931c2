"""The listening section of the scorecard (issue 25 point 3, issue 24 point 8) in real Chromium,
in both languages: every theme's count equal to weekly_verbatim_themes, its change equal to the
week before's, its examples de-duplicated; and the build's verbatim_themes read incrementally."""

import duckdb
import pytest

from pipelines.listening.taxonomy import load
from pipelines.model.themes import refresh_verbatim_themes
from pipelines.warehouse import connect
from pipelines.weeks import shift_week
from tests.test_scorecard_browser import Visit, browser, latest  # noqa: F401 (fixtures)


def _table(settings, week: str) -> dict[tuple[str, str, str], int]:
    con = connect(settings.warehouse, read_only=True)
    try:
        rows = con.execute(
            "SELECT stage, theme, polarity, sum(responses) FROM weekly_verbatim_themes WHERE week = ? GROUP BY ALL",
            [week],
        ).fetchall()
    finally:
        con.close()
    return {(s, t, p): int(n) for s, t, p, n in rows}


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_listening_section_shows_the_table_in_both_languages(browser, latest, lang):  # noqa: F811
    settings, week = latest
    visit = Visit(browser, settings.scorecards_dir / week / f"scorecard.{lang}.html")
    section = visit.page.locator("#listening")
    rows = section.locator("tr[data-theme]")
    shown = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        key = tuple(row.get_attribute(a) for a in ("data-theme-stage", "data-theme", "data-polarity"))
        shown[key] = (int(row.get_attribute("data-responses")), row.get_attribute("data-previous"))
        name = load().themes[key[1]].names[lang]
        assert name in row.locator("td").first.inner_text()
        examples = [q.inner_text() for q in row.locator("blockquote").all()]
        assert examples and len(examples) == len(set(examples)), examples  # each text once
    now, before = _table(settings, week), _table(settings, shift_week(week, -1))
    assert now and {k: v[0] for k, v in shown.items()} == now
    assert {k: v[1] for k, v in shown.items()} == {k: str(before.get(k, 0)) for k in now}
    heading = section.locator("h2").inner_text()
    assert heading == {"en": "Themes in what customers said", "fr": "Les thèmes dans les paroles de clients"}[lang]
    visit.assert_quiet()
    visit.screenshot(f"listening_{lang}.png")


def test_verbatim_themes_are_read_once_and_again_when_the_verbatim_changes():
    con = duckdb.connect()
    con.execute("CREATE TABLE survey_responses (response_id VARCHAR, verbatim VARCHAR, language VARCHAR)")
    con.execute(
        "INSERT INTO survey_responses VALUES ('R1', 'Waited an hour on hold', 'en'), "
        "('R2', 'Conseillère très aimable', 'fr'), ('R3', NULL, 'fr'), ('R4', 'Waited an hour on hold', 'en')"
    )
    assert refresh_verbatim_themes(con) == 4
    themes = "SELECT response_id, theme, polarity, stage FROM verbatim_themes ORDER BY ALL"
    assert con.execute(themes).fetchall() == [
        ("R1", "waiting", "-", "reach"),
        ("R2", "courtesy", "+", "understand"),
        ("R4", "waiting", "-", "reach"),
    ]
    assert refresh_verbatim_themes(con) == 0  # nothing new: nothing read
    con.execute("UPDATE survey_responses SET verbatim = 'The bill was wrong' WHERE response_id = 'R1'")
    con.execute("DELETE FROM survey_responses WHERE response_id = 'R2'")
    assert refresh_verbatim_themes(con) == 1
    assert con.execute(themes).fetchall() == [("R1", "billing", "-", "resolve"), ("R4", "waiting", "-", "reach")]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_each_stage_shows_a_verbatim_once_with_the_themes_it_names(browser, latest, lang):  # noqa: F811
    """Issue 24 point 8: the stage's verbatims de-duplicated, each with its themes."""
    from pipelines.listening.matcher import default_matcher

    settings, week = latest
    visit = Visit(browser, settings.scorecards_dir / week / f"scorecard.{lang}.html")
    quotes = visit.page.locator("blockquote[data-stage]")
    seen = set()
    assert quotes.count() > 0
    for i in range(quotes.count()):
        quote = quotes.nth(i)
        text = quote.evaluate("q => q.firstChild.textContent")
        key = (quote.get_attribute("data-stage"), text, quote.get_attribute("lang"))
        assert key not in seen, key
        seen.add(key)
        labels = sorted(f"{t}{p}" for t, p in default_matcher().themes(text, quote.get_attribute("lang")))
        assert (quote.get_attribute("data-themes") or "").split() == labels
        for label in labels:
            assert load().themes[label[:-1]].names[lang] in quote.inner_text()
