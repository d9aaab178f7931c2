"""sql/vocabulary.yaml lists the handoff failure reasons, the friction signals and the weekly
metrics once; the SQL, the translations, the docs and the feeds agree with it."""

import re

import pytest

from pipelines.feeds import FEED_TABLES
from pipelines.i18n import LANGUAGES, TERMS
from pipelines.models import SQL_DIR
from pipelines.vocabulary import (DOCS_FILE, REASONS, SIGNALS, VOCABULARY, load, parse_feeds,
                                  with_docs_tables)


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


def test_the_docs_tables_are_the_vocabulary():
    text = DOCS_FILE.read_text(encoding="utf-8")
    assert with_docs_tables(text, VOCABULARY) == text, "run python -m pipelines.vocabulary"


def test_the_sql_names_the_reasons_and_signals_of_the_vocabulary():
    handoffs = (SQL_DIR / "metrics" / "handoffs.sql").read_text(encoding="utf-8")
    assert re.findall(r"THEN '(\w+)' END", handoffs) == list(REASONS)
    friction = (SQL_DIR / "metrics" / "friction_events.sql").read_text(encoding="utf-8")
    assert sorted(re.findall(r"\bjourney_id, '(\w+)'", friction)) == sorted(SIGNALS)


def test_the_default_friction_signals_are_the_vocabulary_s(settings):
    assert settings.friction_signals == {s: {"stage": spec["stage"], "weight": spec["weight"]}
                                         for s, spec in VOCABULARY.signals.items()}


def test_a_vocabulary_entry_without_its_feeds_is_refused(tmp_path):
    broken = (SQL_DIR / "vocabulary.yaml").read_text(encoding="utf-8").replace("    feeds: calls\n", "", 1)
    (tmp_path / "vocabulary.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(ValueError, match="missing feeds"):
        load(tmp_path / "vocabulary.yaml")
