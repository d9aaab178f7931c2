"""Ingest: read a source's landing files, type them per contract, validate, load.

Each file is handled once (identified by its content hash). For every file,
rows read = rows loaded + rows quarantined + rows duplicate + rows rejected, recorded in
`load_audit`. A file that fails validation is moved to `rejected/<source>/` beside a report
naming file, line, column and rule; none of its rows load, and the other files still do.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from pipelines.config import Settings
from pipelines.contracts import CONTRACTS, Contract
from pipelines.validation import validate_frame
from pipelines.warehouse import connect, ensure_schema

# Landing sub-folder -> (file-name prefix, canonical table). Longest prefix wins.
SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "calls": (("", "calls"),),
    "complaints": (("case_events", "case_events"), ("cases", "cases")),
    "surveys": (("", "survey_responses"),),
}
WEEK_COLUMN = {"calls": "offered_at", "cases": "opened_at", "case_events": "event_at",
               "survey_responses": "responded_at"}
FILE_SUFFIXES = (".csv", ".csv.gz")


class IngestError(RuntimeError):
    """One or more files of a source were rejected; the message lists every reason."""


@dataclass
class FileResult:
    source: str
    file: str
    table: str | None
    status: str  # loaded | rejected | skipped (already loaded)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    weeks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    load_id: int | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def table_for(source: str, path: Path) -> str | None:
    name = path.name.lower()
    for prefix, table in SOURCES[source]:
        if name.startswith(prefix):
            return table
    return None


def landing_files(settings: Settings, source: str) -> list[Path]:
    if source not in SOURCES:
        raise ValueError(f"unknown source '{source}' (expected one of {sorted(SOURCES)})")
    folder = settings.landing / source
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(FILE_SUFFIXES))


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _typed_select(contract: Contract, present: list[str], path: Path) -> str:
    cols = []
    for col in contract.columns:
        if col.name in present:
            raw = f'trim("{col.name}")'
            cols.append(f"CASE WHEN {raw} = '' THEN NULL ELSE TRY_CAST({raw} AS {col.type}) END AS {col.name}")
            cols.append(f'NULLIF({raw}, \'\') AS "__raw_{col.name}"')
        else:
            cols.append(f"NULL::{col.type} AS {col.name}")
    # The header is line 1; rows follow one per line (quoted multi-line fields: see issue tracker).
    cols.append("(row_number() OVER () + 1)::BIGINT AS source_line")
    return (f"SELECT {', '.join(cols)} FROM read_csv({_sql_str(str(path))}, header = true, "
            f"all_varchar = true, normalize_names = true)")


def _header(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    rel = con.sql(f"SELECT * FROM read_csv({_sql_str(str(path))}, header = true, all_varchar = true, "
                  f"normalize_names = true) LIMIT 0")
    return list(rel.columns)


def _reject(settings: Settings, result: FileResult, path: Path) -> None:
    folder = settings.rejected / result.source
    folder.mkdir(parents=True, exist_ok=True)
    report = folder / f"{path.name}.report.txt"
    report.write_text(
        f"file {path.name} (source {result.source}, table {result.table}) was rejected; none of its "
        f"{result.rows_read} rows were loaded.\n\n" + "\n".join(result.problems) + "\n", encoding="utf-8")
    shutil.move(str(path), str(folder / path.name))


def ingest_file(con: duckdb.DuckDBPyConnection, settings: Settings, source: str, path: Path) -> FileResult:
    digest = sha256_of(path)
    done = con.execute("SELECT count(*) FROM load_audit WHERE file_sha256 = ? AND status = 'loaded'",
                       [digest]).fetchone()[0]
    table = table_for(source, path)
    result = FileResult(source, path.name, table, "skipped")
    if done:
        return result
    started = datetime.now(timezone.utc)
    if table is None:
        result.status = "rejected"
        result.problems.append(f"{path.name}: line 1, column -: rule file_name: no table of source '{source}' "
                               f"matches this file name")
    else:
        contract = CONTRACTS[table]
        try:
            present = _header(con, path)
        except duckdb.Error as exc:
            present = None
            result.status = "rejected"
            result.problems.append(f"{path.name}: line 1, column -: rule parseable_csv: {exc}")
        if present is not None:
            missing = [c.name for c in contract.columns if c.required and c.name not in present]
            if missing:
                result.status = "rejected"
                result.problems += [f"{path.name}: line 1, column {m}: rule required_column: column missing"
                                    for m in missing]
            else:
                _stage_and_validate(con, contract, present, path, result)
    if result.status == "rejected":
        result.rows_rejected = result.rows_read
        _reject(settings, result, path)
    else:
        _load(con, contract, path, result)
        result.status = "loaded"
    _audit(con, result, digest, started)
    return result


def _stage_and_validate(con, contract: Contract, present: list[str], path: Path, result: FileResult) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE _batch AS {_typed_select(contract, present, path)}")
    result.rows_read = con.execute("SELECT count(*) FROM _batch").fetchone()[0]
    # Values that do not parse as their contract type.
    for col in contract.columns:
        if col.name not in present or col.type == "VARCHAR":
            continue
        bad = con.execute(
            f'SELECT source_line, "__raw_{col.name}" FROM _batch WHERE {col.name} IS NULL '
            f'AND "__raw_{col.name}" IS NOT NULL ORDER BY source_line LIMIT 20').fetchall()
        for line, raw in bad:
            result.problems.append(f"{path.name}: line {line}, column {col.name}: rule type {col.type}; "
                                   f"value {raw!r}")
    frame = con.execute(f"SELECT {', '.join(contract.column_names)}, source_line FROM _batch").df()
    report = validate_frame(contract.table, frame)
    result.problems += [f.describe(path.name) for f in report.failures]
    if result.problems:
        result.status = "rejected"


def _load(con, contract: Contract, path: Path, result: FileResult) -> None:
    key = " AND ".join(f"t.{k} = b.{k}" for k in contract.key)
    cols = ", ".join(contract.column_names)
    result.load_id = con.execute("SELECT nextval('load_id_seq')").fetchone()[0]
    before = con.execute(f"SELECT count(*) FROM {contract.table}").fetchone()[0]
    con.execute(
        f"INSERT INTO {contract.table} ({cols}, source_file, source_line, load_id) "
        f"SELECT {', '.join('b.' + c for c in contract.column_names)}, ?, b.source_line, ? FROM _batch b "
        f"WHERE NOT EXISTS (SELECT 1 FROM {contract.table} t WHERE {key})",
        [path.name, result.load_id])
    after = con.execute(f"SELECT count(*) FROM {contract.table}").fetchone()[0]
    result.rows_loaded = after - before
    result.rows_duplicate = result.rows_read - result.rows_loaded
    week_col = WEEK_COLUMN[contract.table]
    result.weeks = [r[0] for r in con.execute(
        f"SELECT DISTINCT strftime({week_col} AT TIME ZONE getvariable('week_tz'), '%G-W%V') AS w "
        f"FROM _batch WHERE {week_col} IS NOT NULL ORDER BY w").fetchall()]


def _audit(con, result: FileResult, digest: str, started: datetime) -> None:
    load_id = result.load_id or con.execute("SELECT nextval('load_id_seq')").fetchone()[0]
    con.execute(
        "INSERT INTO load_audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [load_id, result.source, result.table, result.file, digest, result.status, result.rows_read,
         result.rows_loaded, result.rows_quarantined, result.rows_duplicate, result.rows_rejected, result.weeks,
         started, datetime.now(timezone.utc), "\n".join(result.problems) or None])


def ingest_source(settings: Settings, source: str, fail_on_reject: bool = True) -> list[FileResult]:
    """Load every new file of one source into the warehouse; one transaction per file.

    Raises IngestError after the good files are loaded if any file was rejected (unless
    `fail_on_reject` is false), so that a scheduler marks the load failed, loudly.
    """
    files = landing_files(settings, source)
    results = []
    con = connect(settings.warehouse)
    try:
        ensure_schema(con)
        con.execute("SET VARIABLE week_tz = ?", [settings.week_timezone])
        # Timestamps written without an offset are read as local time of the configured zone.
        con.execute(f"SET TimeZone = {_sql_str(settings.week_timezone)}")
        for path in files:
            t0 = time.perf_counter()
            con.execute("BEGIN TRANSACTION")
            try:
                result = ingest_file(con, settings, source, path)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            result.seconds = round(time.perf_counter() - t0, 3)
            results.append(result)
    finally:
        con.close()
    rejected = [r for r in results if r.status == "rejected"]
    if rejected and fail_on_reject:
        lines = [p for r in rejected for p in r.problems]
        raise IngestError(f"{len(rejected)} file(s) of source '{source}' rejected:\n" + "\n".join(lines))
    return results
