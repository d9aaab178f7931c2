"""`esprit ingest --dry-run`: what a file would load as, and nothing written.

The file is loaded for real, through the same code, but into a scratch home in a temporary
folder (its own warehouse, `out/` and `rejected/`) that is deleted afterwards; the landing file is
read through a hard link (a copy across file systems), so a rejection moves only that. The real
warehouse is only opened read-only, to check the pseudonymisation key against its fingerprint, and
is never written. So the preview shows the file as it would load into an empty warehouse: rows
the warehouse already holds are not compared (no duplicates or key clashes with earlier loads).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.config import Settings
from pipelines.contracts import CONTRACTS
from pipelines.ingest.profiles import Profile
from pipelines.ingest.results import FileResult
from pipelines.sqltext import sql_ident
from pipelines.warehouse import WarehouseBusy, connect

# a quarantine reason's rule without the value: "column nps: rule type; value shaped 'aaaa'"
RULE = re.compile(r"^(column [^;]*: rule [^;]*)")


@dataclass
class DryRun:
    result: FileResult
    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)  # the first rows as loaded: mapped, typed, pseudonymised
    reasons: list[tuple[str, int]] = field(default_factory=list)  # quarantine rules, most frequent first
    derived: dict[str, int] = field(default_factory=dict)  # rows a profile's derive would add, per table


def _check_key(settings: Settings) -> None:
    from pipelines.ingest.privacy import refuse_another_key, resolve_key

    if not settings.warehouse.exists():
        return
    try:
        con = connect(settings.warehouse, read_only=True)
    except WarehouseBusy:
        return  # a load is running: the real ingest will check the key
    try:
        if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'pseudonym_keys'").fetchone()[0]:
            recorded = con.execute("SELECT fingerprint FROM pseudonym_keys WHERE retired_at IS NULL").fetchone()
            if recorded:
                refuse_another_key(recorded[0], resolve_key())
    finally:
        con.close()


def dry_run(settings: Settings, source: str, path: Path, profile: Profile | None, limit: int = 10) -> DryRun:
    """Load `path` into a throw-away home and report what it would load; nothing is written."""
    from pipelines.ingest.load import ingest_paths

    _check_key(settings)
    with tempfile.TemporaryDirectory(prefix="esprit-dry-run-") as scratch:
        home = Path(scratch)
        os.chmod(home, 0o700)
        scratch_settings = settings.with_paths(
            landing=home / "landing", warehouse=home / "warehouse.duckdb", out=home / "out", rejected=home / "rejected"
        )
        landed = scratch_settings.landing / source / path.name
        landed.parent.mkdir(parents=True)
        try:
            os.link(path, landed)
        except OSError:  # another file system
            shutil.copyfile(path, landed)
        (result,) = ingest_paths(scratch_settings, source, [landed], profile)
        run = DryRun(result)
        if result.status != "loaded" or result.table is None:
            return run
        con = connect(scratch_settings.warehouse, read_only=True)
        try:
            shown = con.execute(
                f"SELECT * EXCLUDE (load_id, source_file) FROM {sql_ident(result.table)} ORDER BY source_line LIMIT ?",
                [limit],
            )
            run.columns = [d[0] for d in shown.description]
            run.rows = shown.fetchall()
            counted: dict[str, int] = {}
            for (reason,) in con.execute("SELECT unnest(reasons) FROM quarantine").fetchall():
                found = RULE.match(reason)
                rule = found.group(1) if found else reason[:120]
                counted[rule] = counted.get(rule, 0) + 1
            run.reasons = sorted(counted.items(), key=lambda item: (-item[1], item[0]))
            for (table,) in con.execute(
                "SELECT DISTINCT table_name FROM duckdb_tables() WHERE list_contains(?, table_name)", [list(CONTRACTS)]
            ).fetchall():
                if table != result.table:
                    rows = con.execute(f"SELECT count(*) FROM {sql_ident(table)}").fetchone()[0]
                    if rows:
                        run.derived[table] = rows
        finally:
            con.close()
        return run


def describe(run: DryRun, width: int = 26) -> str:
    """The dry run as a terminal shows it: counts, the first rows, the quarantine's rules."""
    r = run.result
    lines = [
        f"dry run of {r.file} ({r.profile or 'no profile'} -> {r.table or '-'}): nothing was written",
        f"{r.status}: read {r.rows_read:,}, would load {r.rows_loaded:,}, quarantine {r.rows_quarantined:,}, "
        f"duplicates within the file {r.rows_duplicate:,}",
    ]
    if r.reason:
        lines.append(f"skipped: {r.reason}")
    lines += [f"  {problem[:300]}" for problem in r.problems[:5]]
    if run.rows:
        lines.append(f"first {len(run.rows)} row(s) as they would load (customer references pseudonymised):")
        cells = [[str(c) for c in run.columns]] + [["" if v is None else str(v) for v in row] for row in run.rows]
        widths = [min(width, max(len(row[i]) for row in cells)) for i in range(len(run.columns))]
        for row in cells:
            lines.append("  " + " | ".join(v[:w].ljust(w) for v, w in zip(row, widths)))
    if run.reasons:
        lines.append("quarantine, by rule (rows can break several):")
        lines += [f"  {count:>8,}  {rule}" for rule, count in run.reasons]
    for table, rows in run.derived.items():
        lines.append(f"derived: {rows:,} row(s) of {table}")
    return "\n".join(lines)
