"""The DuckDB warehouse: connections and the tables ingest writes into.

DuckDB allows one writing process per file: writers open it read-write briefly, readers
(scorecard rendering, investigations) open it read-only.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.contracts import CONTRACTS, REPO_ROOT

LINEAGE_COLUMNS = (
    ("source_file", "VARCHAR"),
    ("source_line", "BIGINT"),
    ("record_version", "VARCHAR"),
    ("load_id", "BIGINT"),
)

AUDIT_DDL = """
CREATE SEQUENCE IF NOT EXISTS load_id_seq START 1;
CREATE TABLE IF NOT EXISTS load_audit (
    load_id BIGINT PRIMARY KEY,
    source VARCHAR NOT NULL,
    profile VARCHAR,
    table_name VARCHAR,
    file_name VARCHAR NOT NULL,
    file_sha256 VARCHAR NOT NULL,
    status VARCHAR NOT NULL,           -- loaded | rejected | replaced (by a reload)
    rows_read BIGINT NOT NULL,
    rows_loaded BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    rows_duplicate BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    derived_rows BIGINT NOT NULL DEFAULT 0,
    transcoded_lines BIGINT NOT NULL DEFAULT 0,
    bytes BIGINT,
    weeks VARCHAR[],
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    report VARCHAR,
    file_bytes BIGINT,                 -- the file as it lay in the landing folder: size and
    file_mtime_ns BIGINT,              -- modification time (an unchanged file is not read again)
    key_namespace VARCHAR,             -- who owns the keys it loaded (NULL before: its profile)
    replaced_by BIGINT,                -- status replaced: the reload of the same content that took its place
    restate_all BOOLEAN,               -- a reload retracted keys that did not come back: the next build is full
    profile_sha256 VARCHAR,            -- what the profile said (Profile.digest): loads of a changed profile
    weeks_timezone VARCHAR             -- the week_timezone `weeks` were cut in
);
-- a warehouse made before those two columns
ALTER TABLE load_audit ADD COLUMN IF NOT EXISTS file_bytes BIGINT;
ALTER TABLE load_audit ADD COLUMN IF NOT EXISTS file_mtime_ns BIGINT;
ALTER TABLE load_audit ADD COLUMN IF NOT EXISTS key_namespace VARCHAR;
ALTER TABLE load_audit ADD COLUMN IF NOT EXISTS replaced_by BIGINT;
ALTER TABLE load_audit ADD COLUMN IF NOT EXISTS restate_all BOOLEAN;
ALTER TABLE load_audit ADD COLUMN IF NOT EXISTS profile_sha256 VARCHAR;
ALTER TABLE load_audit ADD COLUMN IF NOT EXISTS weeks_timezone VARCHAR;
-- files whose load failed with an error (not a rule): retried until ingest.max_attempts, then set aside
CREATE TABLE IF NOT EXISTS load_failures (
    source VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,
    file_bytes BIGINT,                 -- the file as it lay: a changed file starts its count again
    file_mtime_ns BIGINT,
    attempts INTEGER NOT NULL,
    error VARCHAR NOT NULL,            -- the last error: its class and its message masked
    first_failed_at TIMESTAMPTZ NOT NULL,
    last_failed_at TIMESTAMPTZ NOT NULL,
    set_aside_as BIGINT                -- the load (status rejected) that set it aside
);
CREATE TABLE IF NOT EXISTS quarantine (
    load_id BIGINT NOT NULL,
    source VARCHAR NOT NULL,
    profile VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    raw_record VARCHAR,          -- scrubbed; customer identifiers replaced by their pseudonyms
    reasons VARCHAR[] NOT NULL   -- every rule the row broke: column, value, rule
);
-- Great Expectations' check of each load's sample (the compiled suite judged every row at the load;
-- GX checks a sample of it later, before any build counts the load: pipelines/ingest/gx_check.py)
CREATE TABLE IF NOT EXISTS gx_checks (
    load_id BIGINT NOT NULL,
    table_name VARCHAR NOT NULL,
    timezone VARCHAR NOT NULL,         -- the session time zone the sample was typed in
    status VARCHAR NOT NULL,           -- pending | agreed | disagreed
    checked_at TIMESTAMPTZ,
    detail VARCHAR                     -- a disagreement: the lines and the rules each side found broken
);
CREATE TABLE IF NOT EXISTS validation_results (
    load_id BIGINT NOT NULL,
    file_name VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    expectation VARCHAR NOT NULL,
    columns VARCHAR[],
    success BOOLEAN NOT NULL,
    unexpected_count BIGINT
);
"""


MACROS_FILE = REPO_ROOT / "sql" / "macros.sql"


def define_macros(con: duckdb.DuckDBPyConnection, week_timezone: str, macros: Path = MACROS_FILE) -> None:
    """The week timezone (variable week_tz) and the macros of sql/macros.sql, such as iso_week(t),
    on a connection that builds models or labels a file's weeks: temporary, the connection's own."""
    con.execute("SET VARIABLE week_tz = ?", [week_timezone])
    con.execute(macros.read_text(encoding="utf-8"))


WAIT_ENV = "ESPRIT_WAREHOUSE_WAIT"  # seconds to wait for a warehouse another process holds (default 0)


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse: DuckDB lets one process open a file for writing."""


def connect(path: Path, read_only: bool = False, wait_seconds: float | None = None) -> duckdb.DuckDBPyConnection:
    """The warehouse; while another process holds it, waits up to `wait_seconds` (default
    $ESPRIT_WAREHOUSE_WAIT, else 0), then raises WarehouseBusy naming that process."""
    import os
    import time

    path = Path(path)
    if read_only and not path.exists():
        raise FileNotFoundError(f"warehouse {path} does not exist yet: run the ingest first")
    path.parent.mkdir(parents=True, exist_ok=True)
    wait = float(os.environ.get(WAIT_ENV) or 0) if wait_seconds is None else wait_seconds
    deadline = time.monotonic() + wait
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "Could not set lock" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusy(_busy_message(path, str(exc), wait)) from None
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))


def _busy_message(path: Path, error: str, waited: float) -> str:
    import re

    holder = re.search(r"held in (.+?) \(PID (\d+)\)", error)
    who = f"process {holder.group(2)} ({Path(holder.group(1)).name})" if holder else "another process"
    after = f" after waiting {waited:g} s" if waited else ""
    return (
        f"warehouse {path} is in use by {who}{after}: DuckDB lets one process write it at a time. Run "
        f"again once it has finished (another esprit command, or an Airflow task outside the warehouse "
        f"pool), or set {WAIT_ENV}=<seconds> to wait for it"
    )


NO_VACUUM = 0


def defer_vacuum(con: duckdb.DuckDBPyConnection) -> None:
    """For a build's connection: its checkpoints leave deleted rows where they are, until a
    compacting `commit`. DuckDB's vacuum would rewrite, at each build's checkpoint, every row group
    holding a row the build deleted: seconds each week. Other connections keep the vacuum, so that
    ingest reclaims the rows its upserts replace. The setting is the DuckDB instance's (global), so
    it holds while the build's connection is open."""
    con.execute(f"SET max_vacuum_tasks = {NO_VACUUM}")


def commit(con: duckdb.DuckDBPyConnection, compacting: bool = False) -> bool:
    """COMMIT the open transaction; `compacting`: with DuckDB's vacuum (deleted rows' space
    reclaimed, their row groups merged). The vacuum only runs in the checkpoint that follows changes
    to a table, so it is on for this commit's own checkpoint and for a CHECKPOINT right after it (a
    commit too small to checkpoint by itself); a bare CHECKPOINT later would find nothing changed
    and reclaim nothing. Returns whether the vacuum ran: False when not compacting, or when that
    CHECKPOINT failed (another transaction open), what was deleted then waiting for a later
    compaction. The vacuum is deferred again afterwards."""
    if not compacting:
        con.execute("COMMIT")
        return False
    con.execute("RESET max_vacuum_tasks")
    try:
        con.execute("COMMIT")
        try:
            con.execute("CHECKPOINT")
        except duckdb.Error:
            return False
        return True
    finally:
        defer_vacuum(con)


def canonical_table_ddl(table: str) -> str:
    contract = CONTRACTS[table]
    cols = [f"{c.name} {c.type}" for c in contract.columns] + [f"{n} {t}" for n, t in LINEAGE_COLUMNS]
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(cols)})"


def gx_sample_table(table: str) -> str:
    """The table holding the samples of `table`'s loads that Great Expectations has yet to check."""
    return f"gx_sample_{table}"


def gx_sample_ddl(table: str) -> str:
    """A sample row: the typed, pseudonymised row as the compiled suite judged it, its load, its
    line and the rules the compiled suite found it broke (uniqueness left out)."""
    contract = CONTRACTS[table]
    cols = [f"{c.name} {c.type}" for c in contract.columns]
    cols += ["source_line BIGINT", "load_id BIGINT", "compiled_reasons VARCHAR[]"]
    return f"CREATE TABLE IF NOT EXISTS {gx_sample_table(table)} ({', '.join(cols)})"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(AUDIT_DDL)
    for table in CONTRACTS:
        con.execute(canonical_table_ddl(table))
        con.execute(gx_sample_ddl(table))


def is_view(con, name: str) -> bool:
    return bool(
        con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND temporary", [name]).fetchone()[0]
    )


def drop_relation(con, name: str) -> None:
    """Drop a temporary table or view of that name, if there is one."""
    con.execute(f"DROP {'VIEW' if is_view(con, name) else 'TABLE'} IF EXISTS {name}")
