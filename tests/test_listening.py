"""Themes of service in verbatims (pipelines/listening): the taxonomy's checks, negation and stemming
in both languages, and the evaluation against the hand labels (docs/labelling-guide.md), whose
floors sit just under the figures docs/listening.md reports, so that a regression of the matcher or of
the cues fails here. The English labels are read against the real export in place; without it those
tests skip and say why."""

from __future__ import annotations

import csv

import pytest
import yaml

from pipelines.listening import evaluate as ev
from pipelines.listening.matcher import Matcher, default_matcher
from pipelines.listening.taxonomy import TAXONOMY_FILE, load, parse

REAL = ev.realdata_dir() / ev.REAL_FILE
needs_real = pytest.mark.skipif(not REAL.exists(), reason=f"{ev.REAL_FILE} not found: set ESPRIT_REALDATA")


@pytest.mark.parametrize(
    "text, language, expected",
    [
        # a negated problem still names its theme, with the other polarity
        ("I didn't have to wait at all", "en", {("waiting", "+")}),
        ("Nobody called me back", "en", {("broken_promise", "-")}),
        ("They called me back the next day as promised", "en", {("broken_promise", "+")}),
        # the longer cue wins: a call-back the customer had to make is repeating, not a promise kept
        ("I had to call back three times", "en", {("repeating", "-")}),
        ("The agent was not very helpful", "en", {("courtesy", "-")}),
        ("My phone isn't even working", "en", {("product_fault", "-")}),
        # a bare wait is about getting through, or about delivery when the sentence says so
        ("I waited 40 minutes on hold", "en", {("waiting", "-")}),
        ("I waited 2 months to be connected", "en", {("resolution_time", "-")}),
        ("Je n'ai pas eu à rappeler", "fr", {("repeating", "+")}),
        ("Jamais rappelé", "fr", {("broken_promise", "-")}),
        ("Personne ne répond", "fr", {("waiting", "-")}),
        ("Le conseiller n'était pas aimable", "fr", {("courtesy", "-")}),
        ("Le technicien n'est jamais venu", "fr", {("broken_promise", "-")}),
        ("la conseillere etait tres aimable", "fr", {("courtesy", "+")}),  # no accents: the same stems
        ("Je n'ai plus de coupures", "fr", {("product_fault", "+")}),
        # « plus » without « ne » is a comparison, not a negation
        ("Traitement plus rapide que la dernière fois", "fr", {("resolution_time", "+")}),
        # a neutral cue with no sentiment word near it names nothing
        ("I haven't paid my first bill yet", "en", set()),
        ("Good service", "en", set()),
        # a decimal point ends no sentence; an amount is the billing cue "pound", even when the export
        # lost its encoding (U+FFFD for the apostrophe and for the pound sign)
        ("Because my bill was 113.00 wrong", "en", {("billing", "-")}),
        ("\ufffd60 per month is high", "en", {("billing", "-")}),
        ("The engineer didn\ufffdt arrive", "en", {("broken_promise", "-")}),
        # "informed" is not the stem of "information": kept informed is information, not competence
        ("I was kept well informed throughout", "en", {("information", "+")}),
        ("The information was wrong", "en", {("information", "-")}),
        ("Setting it up was straight forward", "en", {("ease", "+")}),
        # money taken and dates missed, told without a billing or a promise word
        ("They took the money from my account twice", "en", {("billing", "-")}),
        ("The service was due to start on Monday", "en", {("broken_promise", "-")}),
        ("I was given the wrong advice", "en", {("competence", "-")}),
    ],
)
def test_negation_and_stemming_in_both_languages(text, language, expected):
    assert default_matcher().themes(text, language) == expected


def test_the_taxonomy_has_every_theme_in_both_languages_with_names_and_definitions():
    taxonomy = load()
    assert {"waiting", "passed_around", "repeating", "courtesy", "competence", "resolution_time"} <= set(taxonomy.keys)
    assert {"broken_promise", "information", "billing", "product_fault", "ease"} <= set(taxonomy.keys)
    for key, theme in taxonomy.themes.items():
        assert theme.names["en"] and theme.names["fr"] and theme.definitions["en"] and theme.definitions["fr"], key
        for language in ("en", "fr"):
            assert any(c.theme == key and c.language == language for c in taxonomy.cues), (key, language)


def test_the_taxonomy_refuses_a_yaml_boolean_and_an_unknown_polarity():
    raw = yaml.safe_load(TAXONOMY_FILE.read_text(encoding="utf-8"))
    raw["negation"]["en"].append(False)  # an unquoted `no` in YAML
    with pytest.raises(ValueError, match=r"negation\.en.*quote"):
        parse(raw)
    raw = yaml.safe_load(TAXONOMY_FILE.read_text(encoding="utf-8"))
    raw["themes"]["waiting"]["cues"]["en"]["maybe"] = ["on hold"]
    with pytest.raises(ValueError, match="unknown polarity 'maybe'"):
        parse(raw)


def test_the_english_labels_hold_no_real_text():
    """Row number, a short hash and the labels: the real verbatims stay where they are."""
    for path in [f for files in ev.ENGLISH_LABELS.values() for f in files]:
        if not path.exists():
            continue
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            assert reader.fieldnames == ["row", "text_sha256", "themes"]
            for row in reader:
                assert row["row"].isdigit() and len(row["text_sha256"]) == 12
                ev.parse_labels(row["themes"])


# Floors a little under the figures of docs/listening.md (micro precision, micro recall).
FLOORS = {
    ("fr", "dev"): (0.85, 0.85),
    ("fr", "held-out"): (0.72, 0.65),
    ("en", "dev"): (0.86, 0.86),
    ("en", "held-out"): (0.78, 0.66),
    ("en", "held-out 3"): (0.79, 0.65),
}
# The frequent English themes on the dev set: (precision, recall) floors.
EN_THEME_FLOORS = {
    "resolution_time": (0.86, 0.87),
    "broken_promise": (0.92, 0.93),
    "courtesy": (0.86, 0.87),
    "information": (0.89, 0.83),
    "billing": (0.92, 0.87),
    "ease": (0.82, 0.89),
    "waiting": (0.88, 0.76),
    "repeating": (0.82, 0.88),
    "competence": (0.83, 0.84),
    "product_fault": (0.82, 0.80),
}
# The frequent held-out English themes that reach the 0.8 target in each set (docs/listening.md).
EN_HELD_OUT_THEME_FLOORS = {"resolution_time": (0.85, 0.81), "courtesy": (0.80, 0.85), "ease": (0.85, 0.85)}
EN_HELD_OUT_3_THEME_FLOORS = {"resolution_time": (0.80, 0.79), "courtesy": (0.92, 0.88), "ease": (0.89, 0.96)}


def _check(result, floors):
    precision, recall = floors
    assert result.size > 0
    assert result.micro.precision >= precision, ev.table(result)
    assert result.micro.recall >= recall, ev.table(result)


@pytest.mark.parametrize("split", ["dev", "held-out"])
def test_the_french_evaluation_stays_above_its_floors(split):
    examples = ev.french(split)
    assert len(examples) == {"dev": 102, "held-out": 51}[split]
    _check(ev.evaluate(f"French, {split}", examples), FLOORS[("fr", split)])


@needs_real
@pytest.mark.parametrize(
    "split, size, theme_floors",
    [
        ("dev", 900, EN_THEME_FLOORS),
        ("held-out", 150, EN_HELD_OUT_THEME_FLOORS),
        ("held-out 3", 200, EN_HELD_OUT_3_THEME_FLOORS),
    ],
)
def test_the_english_evaluation_stays_above_its_floors(split, size, theme_floors):
    result = ev.evaluate(f"English, {split}", ev.english(split))
    assert result.size == size
    _check(result, FLOORS[("en", split)])
    for theme, (precision, recall) in theme_floors.items():
        score = result.themes[theme]
        assert score.precision >= precision and score.recall >= recall, (theme, ev.table(result))


@needs_real
def test_a_changed_real_file_is_refused(tmp_path):
    text = REAL.read_text(encoding="utf-8")
    lines = text.split("\n")
    first = int(next(csv.DictReader(open(ev.ENGLISH_LABELS["dev"][0], encoding="utf-8")))["row"])
    # drop a row before the first labelled one: every labelled row moves up by one
    (tmp_path / ev.REAL_FILE).write_text("\n".join([lines[0], *lines[2:]]) if first > 1 else text, encoding="utf-8")
    with pytest.raises(ValueError, match="not the text that was labelled"):
        ev.english("dev", tmp_path)


def test_evaluate_counts_a_theme_once_per_verbatim_and_its_polarity():
    examples = [
        ev.Example("a", "en", "I waited an hour on hold, then another hour on hold", frozenset({("waiting", "-")})),
        ev.Example("b", "en", "The staff were rude", frozenset({("courtesy", "+")})),  # polarity wrong
        ev.Example("c", "en", "Good service", frozenset({("billing", "+")})),  # missed
    ]
    result = ev.evaluate("three", examples, Matcher())
    assert (result.themes["waiting"].support, result.themes["waiting"].predicted) == (1, 1)
    assert result.themes["courtesy"].true_positive == 1 and result.themes["courtesy"].polarity_agrees == 0
    assert result.themes["billing"].recall == 0 and result.themes["billing"].precision is None
    assert "| `billing` * | 1 | 0 | no data | 0.00 |" in ev.table(result)


def test_the_generator_verbatims_carry_their_true_themes_and_the_matcher_recovers_them(generated):
    """ground_truth/verbatim_themes.csv labels each response from the simulation's state (the stage
    its journey met most chose the verbatim); the matcher finds exactly those themes and polarities."""
    with open(generated / "ground_truth" / "verbatim_themes.csv", encoding="utf-8", newline="") as fh:
        truth = {row["response_id"]: row for row in csv.DictReader(fh)}
    responses = {}
    for path in sorted((generated / "surveys").glob("survey_responses_*.csv")):
        with open(path, encoding="utf-8", newline="") as fh:
            responses.update({row["response_id"]: row for row in csv.DictReader(fh)})
    assert responses and set(responses) == set(truth)
    matcher = default_matcher()
    checked = set()
    for response_id, row in responses.items():
        expected = ev.parse_labels(truth[response_id]["themes"])
        assert truth[response_id]["language"] == row["language"]
        if (row["verbatim"], row["language"]) not in checked:
            assert matcher.themes(row["verbatim"], row["language"]) == expected, row["verbatim"]
            checked.add((row["verbatim"], row["language"]))
    assert len(checked) >= 10  # the data set draws verbatims of several stages in both languages
    # and every verbatim the generator can draw, whether or not this data set drew it
    from pipelines.generate import VERBATIMS

    for language, stages in VERBATIMS.items():
        for text, themes in (v for items in stages.values() for v in items):
            assert matcher.themes(text, language) == ev.parse_labels(themes), text


def test_emergent_topics_find_a_subject_the_taxonomy_lacks_and_are_deterministic():
    """A dozen verbatims about the car park among the French set: one topic is about it, and its
    verbatims are uncovered by the taxonomy. Two runs give the same topics."""
    from pipelines.listening.emergent import emergent_topics

    parking = [
        f"Le parking de l'agence est {adj}, {end}"
        for adj, end in [
            ("toujours plein", "impossible de se garer."),
            ("payant", "il faudrait un parking gratuit."),
            ("trop petit", "on tourne pour trouver une place de parking."),
            ("fermé le samedi", "parking inaccessible."),
            ("mal éclairé", "le parking fait peur le soir."),
            ("loin de l'entrée", "parking mal placé."),
        ]
    ] * 2
    texts = [e.text for e in ev.french()] + parking
    first = emergent_topics(texts, "fr", topics=6, seed=0)
    assert [(t.terms, t.verbatims) for t in first] == [
        (t.terms, t.verbatims) for t in emergent_topics(texts, "fr", topics=6, seed=0)
    ]
    parking_rows = set(range(len(texts) - len(parking), len(texts)))
    topic = next(t for t in first if "parking" in t.terms[:3])
    assert parking_rows <= set(topic.verbatims)
    assert parking_rows <= set(topic.uncovered)
    assert all(not default_matcher().themes(texts[i], "fr") for i in topic.uncovered)


def test_emergent_topics_say_no_data_below_ten_verbatims():
    from pipelines.listening.emergent import emergent_by_period, report

    results = emergent_by_period([("2026-W10", "fr", e.text) for e in ev.french()[:9]])
    assert results[("2026-W10", "fr")][1] == []
    assert "no data: fewer than 10 verbatims" in report(results)


@needs_real
def test_emergent_topics_per_quarter_of_the_real_export():
    """Per quarter of the real NPS export: topics with terms, each verbatim in at most one topic,
    uncovered verbatims a subset of their topic's."""
    from pipelines.listening.emergent import emergent_by_period

    with open(REAL, encoding="utf-8", newline="") as fh:
        rows = [(row["Qtr"] or "unknown", "en", row["text"]) for row in csv.DictReader(fh)]
    results = emergent_by_period(rows, topics=5)
    assert len(results) >= 2
    for _texts, found in results.values():
        assert 1 <= len(found) <= 5 and all(len(t.terms) == 8 for t in found)
        placed = [i for t in found for i in t.verbatims]
        assert len(placed) == len(set(placed)) and all(set(t.uncovered) <= set(t.verbatims) for t in found)
        assert sum(len(t.uncovered) for t in found) > 0
