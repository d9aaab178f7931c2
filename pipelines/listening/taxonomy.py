"""The taxonomy of service themes (`taxonomy.yaml`, its one home), read and checked."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

TAXONOMY_FILE = Path(__file__).with_name("taxonomy.yaml")
LANGUAGES = ("en", "fr")
POLARITIES = ("positive", "negative", "neutral")


@dataclass(frozen=True)
class Cue:
    theme: str
    language: str
    text: str  # as written in the taxonomy
    polarity: str  # positive | negative | neutral
    near: tuple[str, ...] = ()  # counts only when one of these words is in its clause
    not_near: tuple[str, ...] = ()  # counts only when none of them is


@dataclass(frozen=True)
class Theme:
    key: str
    names: dict[str, str]
    definitions: dict[str, str]
    stage: str  # the journey stage it speaks of (settings `stages:`)


@dataclass(frozen=True)
class Taxonomy:
    themes: dict[str, Theme]
    cues: tuple[Cue, ...]
    sentiment: dict[str, dict[str, tuple[str, ...]]]  # language -> positive|negative -> words
    negators: dict[str, tuple[str, ...]]
    after_ne: tuple[str, ...]
    negation_scope: int
    clause_breaks: dict[str, tuple[str, ...]]
    unstemmed: dict[str, frozenset[str]]
    neutral_window: int

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.themes)


def _words(value, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(w, str) and w.strip() for w in value):
        raise ValueError(f"{where}: expected a list of words (quote yes/no/on/off)")
    return tuple(w.strip() for w in value)


def _cue(theme: str, language: str, polarity: str, entry, where: str) -> Cue:
    if isinstance(entry, str) and entry.strip():
        return Cue(theme, language, entry.strip(), polarity)
    if isinstance(entry, dict) and isinstance(entry.get("cue"), str) and set(entry) <= {"cue", "near", "not_near"}:
        return Cue(
            theme,
            language,
            entry["cue"].strip(),
            polarity,
            _words(entry.get("near", []), f"{where}.near"),
            _words(entry.get("not_near", []), f"{where}.not_near"),
        )
    raise ValueError(f"{where}: a cue is a phrase or {{cue, near | not_near}}, not {entry!r}")


def parse(raw: dict) -> Taxonomy:
    themes: dict[str, Theme] = {}
    cues: list[Cue] = []
    for key, spec in raw["themes"].items():
        for field in ("en", "fr", "definition", "cues", "stage"):
            if field not in spec:
                raise ValueError(f"themes.{key}: missing {field}")
        themes[key] = Theme(key, {lang: spec[lang] for lang in LANGUAGES}, dict(spec["definition"]), spec["stage"])
        for language in LANGUAGES:
            by_polarity = spec["cues"].get(language) or {}
            if not by_polarity:
                raise ValueError(f"themes.{key}.cues.{language}: no cue")
            for polarity, entries in by_polarity.items():
                if polarity not in POLARITIES:
                    raise ValueError(f"themes.{key}.cues.{language}: unknown polarity {polarity!r}")
                for i, entry in enumerate(entries or []):
                    cues.append(_cue(key, language, polarity, entry, f"themes.{key}.cues.{language}.{polarity}[{i}]"))
    negation = raw["negation"]
    return Taxonomy(
        themes=themes,
        cues=tuple(cues),
        sentiment={
            lang: {
                pol: _words(raw["sentiment"][lang][pol], f"sentiment.{lang}.{pol}") for pol in ("positive", "negative")
            }
            for lang in LANGUAGES
        },
        negators={lang: _words(negation[lang], f"negation.{lang}") for lang in LANGUAGES},
        after_ne=_words(negation.get("after_ne", []), "negation.after_ne"),
        negation_scope=int(negation["scope"]),
        clause_breaks={lang: _words(raw["clause_breaks"][lang], f"clause_breaks.{lang}") for lang in LANGUAGES},
        neutral_window=int(raw["neutral_window"]),
        unstemmed={
            lang: frozenset(_words(raw.get("unstemmed", {}).get(lang) or [], "unstemmed")) for lang in LANGUAGES
        },
    )


def taxonomy_hash(path: Path = TAXONOMY_FILE) -> str:
    """Short hash of the taxonomy's text: the themes read with another taxonomy are read again."""
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


@lru_cache(maxsize=4)
def load(path: Path = TAXONOMY_FILE) -> Taxonomy:
    return parse(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
