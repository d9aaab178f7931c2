"""Emergent themes: what customers talk about that the taxonomy does not name, found per period by
TF-IDF and non-negative matrix factorisation (scikit-learn), deterministic for a given seed.

Per period and language: the verbatims become TF-IDF vectors of their words and word pairs (stop
words of the `stop-words` package left out); NMF, initialised by NNDSVD (no random start) with a
fixed `random_state`, factors them into `topics` topics. Each topic is reported with its top terms
and the verbatims whose strongest topic it is (weight at least `min_weight`); among those, the
ones the taxonomy's matcher finds no theme in are the topic's *uncovered* verbatims: a candidate
for a new theme or for new cues."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

from pipelines.listening.matcher import Matcher, default_matcher

LANGUAGE_NAMES = {"en": "english", "fr": "french"}
MIN_VERBATIMS = 10  # fewer in a period and language: no topics ("no data"), not noise
VERBATIMS_PER_TOPIC = 5  # at most topics = verbatims // this


@dataclass
class EmergentTopic:
    number: int
    terms: list[str]
    verbatims: list[int] = field(default_factory=list)  # indexes of the verbatims it is the strongest topic of
    uncovered: list[int] = field(default_factory=list)  # those in which the taxonomy finds no theme


TOKEN = r"(?u)\b[^\W\d_]{3,}\b"  # words of three letters or more, no numbers


@lru_cache(maxsize=2)
def _stop_words(language: str) -> tuple[str, ...]:
    """The package's stop words cut as the vectorizer cuts words ("aren't" gives "aren")."""
    import re

    from stop_words import get_stop_words

    return tuple(
        sorted({w for word in get_stop_words(LANGUAGE_NAMES[language]) for w in re.findall(TOKEN, word.lower())})
    )


def emergent_topics(
    texts: list[str],
    language: str,
    topics: int = 6,
    top_terms: int = 8,
    seed: int = 0,
    min_weight: float = 0.05,
    matcher: Matcher | None = None,
) -> list[EmergentTopic]:
    """The emergent topics of one period's verbatims in one language; [] when there are fewer than
    MIN_VERBATIMS (too few to say anything)."""
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len([t for t in texts if t and t.strip()]) < MIN_VERBATIMS:
        return []
    vectorizer = TfidfVectorizer(
        stop_words=list(_stop_words(language)),
        ngram_range=(1, 2),
        min_df=2,
        max_df=0.5,
        token_pattern=TOKEN,
        sublinear_tf=True,
    )
    try:
        matrix = vectorizer.fit_transform([t or "" for t in texts])
    except ValueError:  # nothing left after the stop words
        return []
    k = min(topics, len(texts) // VERBATIMS_PER_TOPIC, matrix.shape[1])
    if k < 1:
        return []
    model = NMF(n_components=k, init="nndsvd", random_state=seed, max_iter=400)
    weights = model.fit_transform(matrix)
    vocabulary = vectorizer.get_feature_names_out()
    found = [
        EmergentTopic(i + 1, [str(vocabulary[j]) for j in component.argsort()[::-1][:top_terms] if component[j] > 0])
        for i, component in enumerate(model.components_)
    ]
    matcher = matcher or default_matcher()
    for row, row_weights in enumerate(weights):
        best = int(row_weights.argmax())
        if row_weights[best] < min_weight:
            continue
        topic = found[best]
        topic.verbatims.append(row)
        if not matcher.themes(texts[row], language):
            topic.uncovered.append(row)
    return found


def emergent_by_period(
    rows: list[tuple[str, str, str]], topics: int = 6, seed: int = 0
) -> dict[tuple[str, str], tuple[list[str], list[EmergentTopic]]]:
    """rows: (period, language, verbatim). {(period, language): (its verbatims, its topics)}."""
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    for period, language, text in rows:
        if language in LANGUAGE_NAMES and text and text.strip():
            grouped[(period, language)].append(text)
    return {
        key: (texts, emergent_topics(texts, key[1], topics=topics, seed=seed)) for key, texts in sorted(grouped.items())
    }


def report(results: dict[tuple[str, str], tuple[list[str], list[EmergentTopic]]], examples: int = 3) -> str:
    """Text for a terminal: per period and language, each topic's terms, how many verbatims it
    holds, how many of them no theme covers, and a few of those."""
    lines = []
    for (period, language), (texts, found) in results.items():
        lines.append(f"{period} ({language}, {len(texts)} verbatims)")
        if not found:
            lines.append(f"  no data: fewer than {MIN_VERBATIMS} verbatims")
        for topic in found:
            lines.append(
                f"  topic {topic.number}: {', '.join(topic.terms)} "
                f"({len(topic.verbatims)} verbatims, {len(topic.uncovered)} with no theme)"
            )
            for row in topic.uncovered[:examples]:
                lines.append(f"    - {texts[row][:160]}")
    return "\n".join(lines)
