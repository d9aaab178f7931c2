"""The vocabularies of the SQL models, each listed once in `sql/vocabulary.yaml`: the handoff
failure reasons, the friction signals and the weekly metrics, with the feeds each is counted
from and its line of documentation.

Everything else derives from it: the build's `param_handoff_reasons` table and `handoff_reason`
type (weekly_team_supplier has a column per value), the default `friction_signals` setting,
which figures a site's feeds measure (pipelines/model/feeds.py), the keys the translations must have,
and the tables of docs/metrics.md, which `python -m pipelines.vocabulary` rewrites.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from pipelines.contracts import REPO_ROOT

if TYPE_CHECKING:  # pipelines.config imports this module: loading the settings does not load DuckDB
    import duckdb

VOCABULARY_FILE = REPO_ROOT / "sql" / "vocabulary.yaml"
DOCS_FILE = REPO_ROOT / "docs" / "metrics.md"
SECTIONS = ("handoff_failure_reasons", "friction_signals", "metrics")
REQUIRED = {
    "handoff_failure_reasons": ("applies_to", "feeds", "rule"),
    "friction_signals": ("stage", "weight", "feeds", "per", "rule", "source_ref"),
    "metrics": ("feeds",),
}

# What a figure is counted from: alternatives, each a set of feeds that must all be configured.
Feeds = tuple[tuple[str, ...], ...]


def parse_feeds(text: str) -> Feeds:
    """'calls' -> (('calls',),); 'calls or complaints' -> (('calls',), ('complaints',));
    'calls and complaints' -> (('calls', 'complaints'),) ("and" binds tighter than "or")."""
    return tuple(tuple(f.strip() for f in alternative.split(" and ")) for alternative in str(text).split(" or "))


@dataclass(frozen=True)
class Vocabulary:
    reasons: dict[str, dict]
    signals: dict[str, dict]
    metrics: dict[str, dict]

    def feeds(self, section: str) -> dict[str, Feeds]:
        return {name: parse_feeds(spec["feeds"]) for name, spec in getattr(self, section).items()}

    def default_friction_signals(self) -> dict[str, dict]:
        """The friction_signals setting's default: each signal's stage and weight."""
        return {name: {"stage": spec["stage"], "weight": spec["weight"]} for name, spec in self.signals.items()}


@lru_cache(maxsize=8)
def load(path: Path = VOCABULARY_FILE) -> Vocabulary:
    """The vocabulary in path; raises ValueError naming a missing section or key."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    for section in SECTIONS:
        entries = data.get(section)
        if not isinstance(entries, dict) or not entries:
            raise ValueError(f"{path}: expected a mapping '{section}'")
        for name, spec in entries.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]*", str(name)):
                raise ValueError(f"{path}: {section}.{name}: expected a lower-case name")
            missing = [k for k in REQUIRED[section] if not isinstance(spec, dict) or spec.get(k) in (None, "")]
            if missing:
                raise ValueError(f"{path}: {section}.{name}: missing {', '.join(missing)}")
    return Vocabulary(
        reasons=data["handoff_failure_reasons"], signals=data["friction_signals"], metrics=data["metrics"]
    )


VOCABULARY = load()
REASONS = tuple(VOCABULARY.reasons)
SIGNALS = tuple(VOCABULARY.signals)


def set_vocabulary(con: duckdb.DuckDBPyConnection, vocabulary: Vocabulary) -> None:
    """param_handoff_reasons (reason, position) and the handoff_reason type (ENUM, in that order),
    which weekly_team_supplier pivots on: a column per reason, there even in a week without it."""
    con.execute("CREATE OR REPLACE TABLE param_handoff_reasons (reason VARCHAR, position INTEGER)")
    con.executemany(
        "INSERT INTO param_handoff_reasons VALUES (?, ?)",
        [[name, i] for i, name in enumerate(vocabulary.reasons, start=1)],
    )
    con.execute("DROP TYPE IF EXISTS temp.handoff_reason")
    con.execute("CREATE TEMP TYPE handoff_reason AS ENUM (SELECT reason FROM param_handoff_reasons ORDER BY position)")


# ---- docs/metrics.md ------------------------------------------------------------------------


def _cell(text) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def docs_tables(vocabulary: Vocabulary) -> dict[str, list[str]]:
    """The markdown table of each vocabulary docs/metrics.md shows, by section."""
    reasons = ["| reason | applies to | feeds | rule (parameters in brackets) |", "|---|---|---|---|"]
    reasons += [
        f"| `{name}` | {_cell(s['applies_to'])} | {_cell(s['feeds'])} | {_cell(s['rule'])} |"
        for name, s in vocabulary.reasons.items()
    ]
    signals = [
        "| signal | stage | one event per | feeds | rule (parameters in brackets) | `source_ref` |",
        "|---|---|---|---|---|---|",
    ]
    signals += [
        f"| `{name}` | {_cell(s['stage'])} | {_cell(s['per'])} | {_cell(s['feeds'])} | {_cell(s['rule'])} "
        f"| {_cell(s['source_ref'])} |"
        for name, s in vocabulary.signals.items()
    ]
    return {"handoff_failure_reasons": reasons, "friction_signals": signals}


def with_docs_tables(text: str, vocabulary: Vocabulary) -> str:
    """text (docs/metrics.md) with the lines between each `<!-- vocabulary: section -->` marker
    and the next `<!-- /vocabulary -->` replaced by that section's table."""
    for section, table in docs_tables(vocabulary).items():
        pattern = re.compile(rf"(<!-- vocabulary: {section} -->\n).*?(<!-- /vocabulary -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"no '<!-- vocabulary: {section} -->' ... '<!-- /vocabulary -->' block")
        text = pattern.sub(lambda m, t=table: m.group(1) + "\n".join(t) + "\n" + m.group(2), text)
    return text


def main(argv: list[str] | None = None) -> int:
    """Rewrite the vocabulary tables of docs/metrics.md (or the file named) from sql/vocabulary.yaml."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else DOCS_FILE
    text = target.read_text(encoding="utf-8")
    updated = with_docs_tables(text, VOCABULARY)
    if updated != text:
        target.write_text(updated, encoding="utf-8")
    print(f"{target}: {'rewritten' if updated != text else 'up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
