"""The verbatim theme matcher's rate (issue 25, point 3), written in docs/performance.md:

    python -m benchmarks.theme_rate [--rows 20000]

The matcher over the real NPS export's verbatims when they are found (ESPRIT_REALDATA), and over
`rows` distinct French verbatims (the evaluation set's, each made distinct by a number, as a build
reads them: `refresh_verbatim_themes` in DuckDB); then the emergent topics of the real export.
"""

from __future__ import annotations

import argparse
import csv
import time

import duckdb

from pipelines.listening.emergent import emergent_topics
from pipelines.listening.evaluate import REAL_FILE, french, realdata_dir
from pipelines.listening.matcher import Matcher
from pipelines.model.themes import refresh_verbatim_themes


def _timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    rows = parser.parse_args(argv).rows
    lines = ["| what | verbatims | seconds | verbatims/s |", "|---|---|---|---|"]
    built = _timed(Matcher)
    lines.append(f"| building the matcher (stemming every cue) | - | {built:.2f} | - |")
    real = realdata_dir() / REAL_FILE
    texts = []
    if real.exists():
        with open(real, encoding="utf-8", newline="") as fh:
            texts = [row["text"] for row in csv.DictReader(fh)]
        matcher = Matcher()
        took = _timed(lambda: [matcher.themes(t, "en") for t in texts])
        lines.append(
            f"| real English verbatims, a fresh matcher | {len(texts)} | {took:.2f} | {len(texts) / took:,.0f} |"
        )
    base = [e.text for e in french()]
    con = duckdb.connect()
    con.execute("CREATE TABLE survey_responses (response_id VARCHAR, verbatim VARCHAR, language VARCHAR)")
    con.execute(
        "INSERT INTO survey_responses SELECT 'R' || i, $base[1 + i % len($base)] || ' (dossier ' || i || ')', 'fr' "
        "FROM range($rows) AS t(i)",
        {"base": base, "rows": rows},
    )
    took = _timed(lambda: refresh_verbatim_themes(con))
    lines.append(f"| `refresh_verbatim_themes`, distinct French texts | {rows} | {took:.2f} | {rows / took:,.0f} |")
    again = _timed(lambda: refresh_verbatim_themes(con))
    lines.append(f"| the same, nothing new to read | {rows} | {again:.2f} | - |")
    if texts:
        took = _timed(lambda: emergent_topics(texts, "en"))
        lines.append(f"| emergent topics of the real export (one period) | {len(texts)} | {took:.2f} | - |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
