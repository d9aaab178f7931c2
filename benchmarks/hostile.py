"""Peak memory and time of ingesting one hostile file with the default settings (docs/reliability.md).

    /usr/bin/time -v python -m benchmarks.hostile CASE

CASE: deep-json (a JSON Lines record nested a million levels deep), long-line (a CSV record of
63 MB, just under ingest.max_line_bytes), over-long-line (one of 65 MB, over it), gzip-bomb (a
.gz of 5 GB of blank lines, about 5 MB compressed). The file is written to a temporary folder,
ingested there, and the folder removed; the result is printed as JSON.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ESPRIT_PSEUDONYM_KEY", "esprit-benchmark-key-0123456789")

HEADER = (
    "response_id,customer_ref,interaction_type,interaction_ref,responded_at,nps,csat,ces,resolved,"
    "had_to_repeat,journey_step,verbatim,language\n"
)


def _row(i: int, verbatim: str = "fine") -> str:
    return f"R{i},C{i},call,CALL{i},2026-10-05T10:00:00+02:00,9,5,6,true,false,,{verbatim},fr\n"


def _record(i: int) -> dict:
    fields = HEADER.strip().split(",")
    return dict(zip(fields, _row(i).strip().split(","), strict=True))


def write(case: str, folder: Path) -> Path:
    if case == "deep-json":
        depth = 1_000_000
        lines = [json.dumps(_record(i)) for i in range(1000)]
        lines[500] = lines[500][:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"
        path = folder / "deep.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif case in ("long-line", "over-long-line"):
        size = (63 if case == "long-line" else 65) << 20
        path = folder / "long.csv"
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(HEADER)
            fh.writelines(_row(i, "x" * size if i == 500 else "fine") for i in range(1000))
    elif case == "gzip-bomb":
        path = folder / "bomb.csv.gz"
        with gzip.open(path, "wb") as fh:
            fh.write((HEADER + _row(0)).encode())
            for _ in range(5 << 10):
                fh.write(b"\n" * (1 << 20))
    else:
        raise SystemExit(f"unknown case {case}: deep-json, long-line, over-long-line or gzip-bomb")
    return path


def main(case: str) -> dict:
    from pipelines.config import load_settings
    from pipelines.ingest.load import ingest_paths
    from pipelines.ingest.profiles import parse_profile

    home = Path(tempfile.mkdtemp(prefix="esprit-hostile-"))
    try:
        settings = load_settings(base_dir=home)
        folder = settings.landing / "surveys"
        folder.mkdir(parents=True)
        path = write(case, folder)
        kind = "jsonl" if path.name.endswith(".jsonl") else "csv"
        profile = parse_profile(
            {
                "name": f"hostile_{kind}",
                "table": "survey_responses",
                "format": {"type": kind},
                "personal_columns": ["customer_ref"],
            },
            "benchmark",
        )
        started = time.perf_counter()
        (result,) = ingest_paths(settings, "surveys", [path], profile)
        return {
            "case": case,
            "file_bytes": path.stat().st_size if path.exists() else None,
            "status": result.status,
            "rows_read": result.rows_read,
            "rows_loaded": result.rows_loaded,
            "rows_quarantined": result.rows_quarantined,
            "problem": (result.problems or [""])[0][:200],
            "seconds": round(time.perf_counter() - started, 1),
            "memory_limit": settings.ingest["memory_limit"],
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "deep-json"), indent=2))
