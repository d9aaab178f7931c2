"""The scrubber's rate (issue 22, point 2), written in docs/performance.md:

    python -m benchmarks.scrub_rate [--rows 100000]

`scrub_sql` over the generator's verbatims repeated to `rows`, then over as many distinct texts
each holding a phone number and an e-mail address, timed in DuckDB as the typing step runs it.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from pipelines.generate import generate
from pipelines.ingest.privacy import register_scrubber, scrub_sql


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args(argv).rows
    work = Path(tempfile.mkdtemp())
    try:
        generate(work / "landing", weeks=2, seed=7, journeys_per_week=3000)
        verbatims = [
            r["verbatim"]
            for path in sorted((work / "landing" / "surveys").glob("*.csv"))
            for r in csv.DictReader(path.open(encoding="utf-8"))
            if r["verbatim"]
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    plain = (verbatims * (rows // len(verbatims) + 1))[:rows]
    personal = [
        f"{v} Rappelez-moi au 06 12 {i // 100 % 100:02d} {i % 100:02d} 00 ou jean{i}@exemple.fr"
        for i, v in enumerate(plain)
    ]
    con = duckdb.connect()
    register_scrubber(con)
    for name, texts in (("the generator's verbatims", plain), ("each with a phone and an e-mail, distinct", personal)):
        con.execute("CREATE OR REPLACE TABLE t AS SELECT unnest(?::VARCHAR[]) AS v", [texts])
        start = time.perf_counter()
        con.execute(f"CREATE OR REPLACE TABLE s AS SELECT {scrub_sql('v')} AS v FROM t")
        seconds = time.perf_counter() - start
        print(f"{name}: {len(texts):,} rows in {seconds:.2f} s, {len(texts) / seconds:,.0f} rows/s")
    con.close()


if __name__ == "__main__":
    main()
