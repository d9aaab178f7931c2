"""Precision and recall of the theme matcher against the hand labels (docs/labelling-guide.md):
`esprit themes evaluate` (`make evaluate-themes`) prints the tables `docs/listening.md` shows.

A theme is counted per verbatim: a true positive when both the labels and the matcher name it
(with any polarity); its polarity agrees when the matcher's polarities for it are exactly the
labelled ones. The real English verbatims are read in place (never copied); their labels carry a
hash of each text, and a file whose text changed is refused."""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.listening.matcher import Matcher, default_matcher
from pipelines.listening.taxonomy import load

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "verbatims"
REAL_FILE = "nps_verbatims_textsummary_2385.csv"
FRENCH_FILE = FIXTURES / "verbatims_fr.csv"
# dev: the samples of seeds 2385, 2386, 2388 and 2389, each but the first measured once with the
# matcher frozen, then tuned on; held-out: the samples of seeds 2387 and 2390, each labelled with the
# matcher frozen and never tuned on (docs/labelling-guide.md)
ENGLISH_LABELS = {
    "dev": (
        FIXTURES / "labels_en.csv",
        FIXTURES / "labels_en_dev2.csv",
        FIXTURES / "labels_en_dev3.csv",
        FIXTURES / "labels_en_dev4.csv",
    ),
    "held-out": (FIXTURES / "labels_en_heldout.csv",),
    "held-out 3": (FIXTURES / "labels_en_heldout3.csv",),
}
FRENCH_HELD_OUT_EVERY = 3  # FR003, FR006 ...: never used to tune the cues
FREQUENT_SHARE = 0.05  # a theme is "frequent" in a set when at least 5 % of its verbatims carry it


@dataclass(frozen=True)
class Example:
    ref: str
    language: str
    text: str
    labels: frozenset[tuple[str, str]]


@dataclass
class ThemeScore:
    support: int = 0  # verbatims labelled with the theme
    predicted: int = 0  # verbatims the matcher gives it
    true_positive: int = 0
    polarity_agrees: int = 0

    @property
    def precision(self) -> float | None:
        return self.true_positive / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.true_positive / self.support if self.support else None

    @property
    def polarity_agreement(self) -> float | None:
        return self.polarity_agrees / self.true_positive if self.true_positive else None


@dataclass
class Evaluation:
    name: str
    size: int
    themes: dict[str, ThemeScore] = field(default_factory=dict)
    micro: ThemeScore = field(default_factory=ThemeScore)

    def frequent(self) -> list[str]:
        return [k for k, s in self.themes.items() if s.support >= FREQUENT_SHARE * self.size]


def parse_labels(value: str) -> frozenset[tuple[str, str]]:
    keys = set(load().keys)
    labels = set()
    for label in value.split():
        theme, polarity = label[:-1], label[-1:]
        if theme not in keys or polarity not in "+-":
            raise ValueError(f"unknown label {label!r}: expected a theme of the taxonomy and + or -")
        labels.add((theme, polarity))
    return frozenset(labels)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def realdata_dir() -> Path:
    return Path(os.environ.get("ESPRIT_REALDATA") or REPO_ROOT.parent / "shared" / "realdata")


def french(split: str | None = None) -> list[Example]:
    """The French verbatims written for the evaluation; split 'dev', 'held-out' or None (all)."""
    examples = []
    with open(FRENCH_FILE, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            held_out = int(row["id"][2:]) % FRENCH_HELD_OUT_EVERY == 0
            if split is None or (split == "held-out") == held_out:
                examples.append(Example(row["id"], "fr", row["text"], parse_labels(row["themes"])))
    return examples


def english(split: str, folder: Path | None = None) -> list[Example]:
    """The labelled rows of the real NPS export, read in place; FileNotFoundError when absent."""
    source = (folder or realdata_dir()) / REAL_FILE
    with open(source, encoding="utf-8", newline="") as fh:
        texts = [row["text"] for row in csv.DictReader(fh)]
    examples = []
    for labels in ENGLISH_LABELS[split]:
        with open(labels, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                number = int(row["row"])
                text = texts[number - 1]
                if text_hash(text) != row["text_sha256"]:
                    raise ValueError(f"{REAL_FILE} row {number} is not the text that was labelled: the file changed")
                examples.append(Example(f"row {number}", "en", text, parse_labels(row["themes"])))
    return examples


def evaluate(name: str, examples: list[Example], matcher: Matcher | None = None) -> Evaluation:
    matcher = matcher or default_matcher()
    result = Evaluation(name, len(examples), {k: ThemeScore() for k in load().keys})
    for example in examples:
        predicted = matcher.themes(example.text, example.language)
        for key, score in result.themes.items():
            labelled = {p for t, p in example.labels if t == key}
            found = {p for t, p in predicted if t == key}
            for s in (score, result.micro):
                s.support += bool(labelled)
                s.predicted += bool(found)
                if labelled and found:
                    s.true_positive += 1
                    s.polarity_agrees += labelled == found
    return result


def errors(examples: list[Example], matcher: Matcher | None = None) -> list[tuple[Example, set, set]]:
    """(example, missed labels, extra themes) for every verbatim the matcher reads differently."""
    matcher = matcher or default_matcher()
    out = []
    for example in examples:
        predicted = matcher.themes(example.text, example.language)
        got = {t for t, _ in predicted}
        want = {t for t, _ in example.labels}
        if got != want:
            out.append((example, want - got, got - want))
    return out


def _pct(value: float | None) -> str:
    return "no data" if value is None else f"{value:.2f}"


def table(evaluation: Evaluation) -> str:
    """A Markdown table: per theme its support, precision, recall and polarity agreement."""
    frequent = set(evaluation.frequent())
    lines = [
        f"**{evaluation.name}** ({evaluation.size} verbatims)",
        "",
        "| theme | labelled | found | precision | recall | polarity agrees |",
        "|---|---|---|---|---|---|",
    ]
    rows = [(f"`{k}`" + (" *" if k in frequent else ""), s) for k, s in evaluation.themes.items()]
    for name, s in [*rows, ("all themes (micro)", evaluation.micro)]:
        lines.append(
            f"| {name} | {s.support} | {s.predicted} | {_pct(s.precision)} | {_pct(s.recall)} "
            f"| {_pct(s.polarity_agreement)} |"
        )
    lines += ["", f"\\* frequent: at least {FREQUENT_SHARE:.0%} of the set's verbatims carry it."]
    return "\n".join(lines)


def run_all(folder: Path | None = None) -> list[Evaluation | str]:
    """Every evaluation set: the French dev and held-out sets, and the English ones when the real
    file is present (a line saying why otherwise)."""
    results: list[Evaluation | str] = [
        evaluate("French, dev", french("dev")),
        evaluate("French, held out", french("held-out")),
    ]
    for split, files in ENGLISH_LABELS.items():
        if not all(f.exists() for f in files):
            results.append(f"English, {split}: no labels yet")
            continue
        try:
            results.append(evaluate(f"English (real), {split}", english(split, folder)))
        except FileNotFoundError:
            results.append(f"English, {split}: {REAL_FILE} not found (set ESPRIT_REALDATA)")
    return results
