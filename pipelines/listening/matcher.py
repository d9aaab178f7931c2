"""Themes of service in a verbatim, offline: the taxonomy's cues matched on Snowball stems, with
negation, in English and French (docs/labelling-guide.md says what each theme is; `taxonomy.yaml`
holds the cues and explains their syntax).

How a verbatim is read:
1. It is cut into sentences (. ! ? ; and line breaks) and clauses (also commas, colons and the
   taxonomy's `clause_breaks` words such as "but", « mais »): a negation never crosses a clause.
2. Each word becomes the Snowball stem of its accent-free lower-case form (so « réponse » and the
   typo « reponse » agree), contractions split first ("didn't" is "did" + "n't", « n'ai » is
   "n" + "ai").
3. Every cue whose stems occur in order in a clause is a candidate; where candidates overlap, the
   longer wins ("had to call back" is repeating, not the call-back of a promise); a cue with
   `near`/`not_near` counts only if its sentence has (or lacks) one of those words.
4. A negator within `negation.scope` words before the cue, in its clause and not part of the cue,
   flips its polarity ("not helpful", "didn't have to wait"); in French also « ne … pas » around a
   verb (« ne répond jamais »), and « plus », « personne », « rien » only in a clause with « ne ».
   A neutral cue ("bill") takes the polarity of its clause's sentiment words, negative when none.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from pipelines.listening.taxonomy import LANGUAGES, Cue, Taxonomy, load

STEMMERS = {"en": "english", "fr": "french"}
GAP = "~"
GAP_WORDS = 3  # a "~" in a cue stands for up to this many words

# a full stop between digits is a decimal point ("113.00", "8.30"), not the end of a sentence
_SENTENCE = re.compile(r"[!?;\n\r]+|\.+(?!\d)|(?<!\d)\.+|\s-\s")
_CLAUSE = re.compile(r"[,:()\"«»…]+")
_WORD = re.compile(r"n't|[^\W_]+(?:-[^\W_]+)*", re.UNICODE)
_EN_CONTRACTION = re.compile(r"(\w)n't\b")
# Exports read with the wrong encoding carry U+FFFD where an apostrophe or a currency sign was
# ("didn\ufffdt", "\ufffd49"): an amount becomes the word "pound" that billing cues name.
_LOST_APOSTROPHE = re.compile(r"(?<=[^\W\d_])\ufffd(?=[^\W\d_])")
_CURRENCY = re.compile(r"[£$€\ufffd]+\s?(?=\d)")
# Contractions written without their apostrophe, frequent in survey text ("didnt", "cant").
_EN_BARE_NT = re.compile(r"\b(did|does|do|is|was|were|has|have|had|could|would|should|ca|wo|are|ai|need|must)nt\b")
_EN_CANT = re.compile(r"\bcant\b|\bcannot\b")
_FR_ELISION = re.compile(r"\b(n|d|l|j|m|t|s|c|qu|jusqu|lorsqu|puisqu)'", re.UNICODE)
_FR_BARE_ELISION = re.compile(r"\b([nj])(ai|avais|avait|est|etait|était|y|en|a)\b")  # "jai", "nai", "nest"
_NE = {"ne", "n"}
_FR_AFTER_VERB = {"pas", "jam", "jamais", "plus", "rien", "guer"}  # stems of « pas », « jamais » ...
_POLARITY = {"positive": "+", "negative": "-"}
_FLIP = {"+": "-", "-": "+"}


@dataclass(frozen=True)
class Mention:
    """One theme named in a verbatim: its polarity (+ or -) and the cue that found it."""

    theme: str
    polarity: str
    cue: str
    negated: bool = False


@dataclass(frozen=True)
class _Compiled:
    cue: Cue
    stems: tuple[str, ...]  # GAP for a gap
    near: frozenset[str]
    not_near: frozenset[str]

    @property
    def literal(self) -> frozenset[str]:
        return frozenset(s for s in self.stems if s != GAP)

    @property
    def length(self) -> int:
        return sum(1 for s in self.stems if s != GAP)


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


class Matcher:
    def __init__(self, taxonomy: Taxonomy | None = None):
        self.taxonomy = taxonomy or load()
        self._stemmers = {lang: snowballstemmer.stemmer(STEMMERS[lang]) for lang in LANGUAGES}
        self._stem_cache: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
        self._by_first: dict[str, dict[str, list[_Compiled]]] = {lang: defaultdict(list) for lang in LANGUAGES}
        for cue in self.taxonomy.cues:
            stems = tuple(GAP if w == GAP else w for w in self._stems(cue.text, cue.language))
            while stems and stems[0] == GAP:
                stems = stems[1:]
            if not stems:
                raise ValueError(f"cue {cue.text!r} of {cue.theme} has no word")
            compiled = _Compiled(
                cue,
                stems,
                frozenset(s for w in cue.near for s in self._stems(w, cue.language)),
                frozenset(s for w in cue.not_near for s in self._stems(w, cue.language)),
            )
            self._by_first[cue.language][stems[0]].append(compiled)
        self._negators = {
            lang: [tuple(self._stems(n, lang)) for n in self.taxonomy.negators[lang]] for lang in LANGUAGES
        }
        self._after_ne = {s for w in self.taxonomy.after_ne for s in self._stems(w, "fr")}
        self._breaks = {
            lang: [tuple(self._words(b, lang)) for b in self.taxonomy.clause_breaks[lang]] for lang in LANGUAGES
        }
        self._sentiment = {
            lang: {
                pol: {s for w in words for s in self._stems(w, lang)}
                for pol, words in self.taxonomy.sentiment[lang].items()
            }
            for lang in LANGUAGES
        }

    # ---- words -------------------------------------------------------------------------
    def _normalise(self, text: str, language: str) -> str:
        text = _LOST_APOSTROPHE.sub("'", text)
        text = _CURRENCY.sub(" pound " if language == "en" else " euro ", text)
        text = _fold(text.lower().replace("’", "'").replace("‘", "'").replace("`", "'"))
        if language == "en":
            text = _EN_CANT.sub("can n't", text)
            text = _EN_BARE_NT.sub(r"\1 n't", text)
            text = _EN_CONTRACTION.sub(r"\1 n't", text)
        else:
            text = _FR_ELISION.sub(r"\1 ", text)
            text = _FR_BARE_ELISION.sub(r"\1 \2", text)
        return text

    def _words(self, text: str, language: str) -> list[str]:
        words = []
        for part in self._normalise(text, language).split():
            words.extend([GAP] if part == GAP else _WORD.findall(part))
        return words

    def _stem_words(self, words: list[str], language: str) -> list[str]:
        cache = self._stem_cache[language]  # words repeat: the pure-Python stemmer is the slow part
        out = []
        for w in words:
            stem = cache.get(w)
            if stem is None:
                keep = w in ("n't", GAP) or w in self.taxonomy.unstemmed[language]
                stem = cache[w] = w if keep else self._stemmers[language].stemWord(w)
            out.append(stem)
        return out

    def _stems(self, text: str, language: str) -> list[str]:
        return self._stem_words(self._words(text, language), language)

    def _clauses(self, sentence: str, language: str) -> list[list[str]]:
        """The clauses' stems; clause-break words are compared as written ("except", not
        "exceptional", whose stem it is)."""
        clauses = []
        for piece in _CLAUSE.split(sentence):
            words = self._words(piece, language)
            current: list[str] = []
            i = 0
            while i < len(words):
                brk = next((b for b in self._breaks[language] if tuple(words[i : i + len(b)]) == b), None)
                if brk and current:
                    clauses.append(self._stem_words(current, language))
                    current = []
                if brk:
                    i += len(brk)
                    continue
                current.append(words[i])
                i += 1
            if current:
                clauses.append(self._stem_words(current, language))
        return clauses

    # ---- matching ----------------------------------------------------------------------
    @staticmethod
    def _match_at(stems: list[str], start: int, pattern: tuple[str, ...]) -> int | None:
        """End (exclusive) of `pattern` matched from `start`, gaps taking as few words as they can."""

        def walk(i: int, p: int) -> int | None:
            if p == len(pattern):
                return i
            if pattern[p] == GAP:
                for skip in range(GAP_WORDS + 1):
                    end = walk(i + skip, p + 1)
                    if end is not None:
                        return end
                return None
            if i < len(stems) and stems[i] == pattern[p]:
                return walk(i + 1, p + 1)
            return None

        return walk(start, 0)

    def _negated(
        self,
        clause: list[str],
        start: int,
        end: int,
        language: str,
        literal: frozenset[str] = frozenset(),
        after: int = 0,
    ) -> bool:
        """Whether a negator stands within `scope` words before the cue, or inside it in a gap
        ("isn't even working" for "is ~ working"); the cue's own words never negate it. `after`: the
        position from which a negator may stand (a negation reaches the first cue after it only:
        "still no solution after two calls" negates the solution, not the calls)."""
        scope = self.taxonomy.negation_scope
        has_ne = language == "fr" and any(s in _NE for s in clause)
        for i in range(max(0, start - scope, after), end):
            if clause[i] in literal:
                continue
            for neg in self._negators[language]:
                if (
                    tuple(clause[i : i + len(neg)]) == neg
                    and not literal & set(neg)
                    and (i + len(neg) <= start or i >= start)
                ):
                    return True
            if has_ne and clause[i] in self._after_ne:
                return True
        if language == "fr" and start > 0 and clause[start - 1] in _NE:
            # « ne répond jamais », « ne fonctionne plus »: the second word follows the verb
            after = clause[end : end + 2]
            if any(s in _FR_AFTER_VERB or s in self._after_ne for s in after):
                return True
        return False

    def _clause_polarity(self, clause: list[str], start: int, end: int, language: str) -> str | None:
        """+ or - from the sentiment words near the cue in its clause (a negated one counts the other
        way); None when there is none: a neutral cue alone names no theme ("the first bill is not due")."""
        window = self.taxonomy.neutral_window
        positive, negative = self._sentiment[language]["positive"], self._sentiment[language]["negative"]
        score, seen = 0, False
        for i in [*range(max(0, start - window), start), *range(end, min(len(clause), end + window))]:
            sign = (clause[i] in positive) - (clause[i] in negative)
            if sign and self._negated(clause, i, i + 1, language):
                sign = -sign
            score += sign
            seen = seen or bool(sign)
        if not seen:
            return None
        return "+" if score > 0 else "-"

    def mentions(self, text: str | None, language: str) -> list[Mention]:
        """The themes a verbatim names, each with its polarity and cue, in reading order."""
        if not text or language not in LANGUAGES:
            return []
        found: list[Mention] = []
        for sentence in _SENTENCE.split(self._normalise_sentence_marks(text)):
            clauses = self._clauses(sentence, language)
            sentence_stems = {s for clause in clauses for s in clause}
            for clause in clauses:
                candidates = []
                for i, stem in enumerate(clause):
                    for compiled in self._by_first[language].get(stem, ()):
                        end = self._match_at(clause, i, compiled.stems)
                        if end is None:
                            continue
                        if compiled.near and not compiled.near & sentence_stems:
                            continue
                        if compiled.not_near and compiled.not_near & sentence_stems:
                            continue
                        candidates.append((i, end, compiled))
                # the longer cue wins where two overlap; cues of the very same span all count
                candidates.sort(key=lambda c: (-(c[1] - c[0]), -c[2].length, c[0]))
                kept: list[tuple[int, int, _Compiled]] = []
                for start, end, compiled in candidates:
                    if any(
                        start < e and s < end and (e - s, k.length) > (end - start, compiled.length) for s, e, k in kept
                    ):
                        continue
                    if any((s, e) != (start, end) and start < e and s < end for s, e, _ in kept):
                        continue
                    kept.append((start, end, compiled))
                kept.sort(key=lambda c: c[0])
                for n, (start, end, compiled) in enumerate(kept):
                    # a negator before the previous cue's start is that cue's: it reaches no further
                    previous = [s for s, _, _ in kept[:n] if s < start]
                    negated = self._negated(
                        clause, start, end, language, compiled.literal, after=max(previous, default=0) + bool(previous)
                    )
                    if compiled.cue.polarity == "neutral":
                        polarity = self._clause_polarity(clause, start, end, language)
                        if polarity is None:
                            continue
                        negated = False  # the clause's sentiment already reads the negation
                    else:
                        polarity = _POLARITY[compiled.cue.polarity]
                        if negated:
                            polarity = _FLIP[polarity]
                    found.append(Mention(compiled.cue.theme, polarity, compiled.cue.text, negated))
        return found

    @staticmethod
    def _normalise_sentence_marks(text: str) -> str:
        return text.replace("\u2026", ".")

    def themes(self, text: str | None, language: str) -> set[tuple[str, str]]:
        """{(theme, polarity)} of a verbatim."""
        return {(m.theme, m.polarity) for m in self.mentions(text, language)}


@lru_cache(maxsize=1)
def default_matcher() -> Matcher:
    return Matcher()
