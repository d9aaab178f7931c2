"""sql/vocabulary.yaml lists the handoff failure reasons, the friction signals and the weekly
metrics once; the SQL, the translations, the docs and the feeds agree with it, and a reason added
there (with its rule and its two translations) reaches every table and the page."""

import re
import shutil

import pytest

from pipelines.config import LANGUAGES
from pipelines.model.build import SQL_DIR
from pipelines.model.feeds import FEED_TABLES
from pipelines.report.i18n import TERMS
from pipelines.vocabulary import DOCS_FILE, REASONS, SIGNALS, VOCABULARY, load, parse_feeds, with_docs_tables


def test_feeds_read_alternatives_of_feeds_that_must_all_be_there():
    assert parse_feeds("calls") == (("calls",),)
    assert parse_feeds("calls or complaints") == (("calls",), ("complaints",))
    assert parse_feeds("calls and complaints") == (("calls", "complaints"),)
    assert parse_feeds("surveys and calls or complaints") == (("surveys", "calls"), ("complaints",))
    for section in ("reasons", "signals", "metrics"):
        for name, needs in VOCABULARY.feeds(section).items():
            assert {f for alternative in needs for f in alternative} <= set(FEED_TABLES), (section, name)


def test_every_reason_and_signal_has_its_words_in_every_language():
    for lang in LANGUAGES:
        missing = [name for name in REASONS + SIGNALS if not TERMS[lang].get(name)]
        assert missing == [], (lang, missing)
    assert set(TERMS["en"]) == set(TERMS["fr"])
    from pipelines.report.i18n import REASON_RULES_FR

    assert set(REASON_RULES_FR) == set(REASONS)  # each reason's rule reads in French on French pages


def test_the_docs_tables_are_the_vocabulary():
    text = DOCS_FILE.read_text(encoding="utf-8")
    assert with_docs_tables(text, VOCABULARY) == text, "run python -m pipelines.vocabulary"


def test_the_sql_names_the_reasons_and_signals_of_the_vocabulary():
    handoffs = (SQL_DIR / "metrics" / "handoffs.sql").read_text(encoding="utf-8")
    assert re.findall(r"THEN '(\w+)' END", handoffs) == list(REASONS)
    friction = (SQL_DIR / "metrics" / "friction_events.sql").read_text(encoding="utf-8")
    assert sorted(re.findall(r"\bjourney_id, '(\w+)'", friction)) == sorted(SIGNALS)


def test_the_default_friction_signals_are_the_vocabulary_s(settings):
    assert settings.friction_signals == {
        s: {"stage": spec["stage"], "weight": spec["weight"]} for s, spec in VOCABULARY.signals.items()
    }


def test_a_vocabulary_entry_without_its_feeds_is_refused(tmp_path):
    broken = (SQL_DIR / "vocabulary.yaml").read_text(encoding="utf-8").replace("    feeds: calls\n", "", 1)
    (tmp_path / "vocabulary.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(ValueError, match="missing feeds"):
        load(tmp_path / "vocabulary.yaml")


# A reason added as issue 21 says it must be: its rule in handoffs.sql, its entry in the
# vocabulary (with its doc line), its two translations; nothing else.
NEW_RULE = "        CASE WHEN f.kind = 'reassignment' AND f.pickup_seconds >= 86400 THEN 'waited_a_day' END\n"
NEW_ENTRY = """  waited_a_day:
    applies_to: reassignment
    feeds: complaints
    rule: the receiving team's first event on the case came a day or more after it received it
"""


def test_a_reason_added_in_four_places_reaches_the_tables_and_the_page(tmp_path, monkeypatch):
    from pipelines.config import load_settings
    from pipelines.model.build import build_models
    from pipelines.report.scorecard import render_weeks
    from pipelines.warehouse import connect
    from tests.conftest import copy_prebuilt
    from tests.test_golden import load_golden

    sql = shutil.copytree(SQL_DIR, tmp_path / "sql")
    handoffs = sql / "metrics" / "handoffs.sql"
    text = handoffs.read_text(encoding="utf-8")
    anchor = "        CASE WHEN reopened THEN 'reopened' END\n"
    handoffs.write_text(text.replace(anchor, anchor.replace(" END\n", " END,\n") + NEW_RULE), encoding="utf-8")
    vocabulary = sql / "vocabulary.yaml"
    text = vocabulary.read_text(encoding="utf-8")
    vocabulary.write_text(text.replace("\n# Friction signals", NEW_ENTRY + "\n# Friction signals", 1), encoding="utf-8")
    monkeypatch.setitem(TERMS["en"], "waited_a_day", "waited a day")
    monkeypatch.setitem(TERMS["fr"], "waited_a_day", "attendu un jour")

    added = load(vocabulary)
    assert list(added.reasons) == [*REASONS, "waited_a_day"]
    docs = with_docs_tables(DOCS_FILE.read_text(encoding="utf-8"), added)
    assert "| `waited_a_day` | reassignment | complaints | the receiving team's first event on the case came" in docs

    home = tmp_path / "golden"
    settings = load_settings(base_dir=home)
    if not copy_prebuilt("golden", home):
        load_golden(settings)
    build_models(settings, sql_dir=sql)
    con = connect(settings.warehouse, read_only=True)
    try:
        # CASE1 went to facturation on 21 October 10:00, whose next event came 48 h later
        assert con.execute("SELECT failure_reasons FROM handoffs WHERE handoff_key = 'case:CASE1:2'").fetchone() == (
            ["slow_pickup", "reopened", "waited_a_day"],
        )
        assert con.execute(
            "SELECT handoffs_with_reason, handoffs FROM weekly_handoff_reasons "
            "WHERE week = '2026-W43' AND reason = 'waited_a_day'"
        ).fetchone() == (1, 2)
        supplier = con.execute("SELECT * FROM weekly_team_supplier WHERE week = '2026-W43' ORDER BY team")
        columns = [d[0] for d in supplier.description]
        assert columns[columns.index("reopened") + 1] == "waited_a_day"
        rows = {row[columns.index("team")]: row[columns.index("waited_a_day")] for row in supplier.fetchall()}
        assert rows == {"facturation": 1}
    finally:
        con.close()

    render_weeks(settings, ["2026-W43"], pdf=False, exports=False)
    for lang, word in (("en", "waited a day"), ("fr", "attendu un jour")):
        page = (settings.scorecards_dir / "2026-W43" / f"scorecard.{lang}.html").read_text(encoding="utf-8")
        supplier_table = page[page.index('<table class="supplier">') :]
        assert f"<th>{word}</th>" in supplier_table[: supplier_table.index("</table>")], lang
