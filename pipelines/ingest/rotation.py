"""Changing the pseudonymisation key: every pseudonym of the warehouse re-made under the new key.

A pseudonym is HMAC(key, identifier) and the warehouse holds no identifier: the identifiers come
back from the retained landing files of the loads the audit lists, read through their profiles.
Each is hashed under both keys; the pairs (old pseudonym, new pseudonym) rewrite the canonical
tables, the quarantined raw records and the kept Great Expectations results in one transaction,
with the key fingerprint. A pseudonym of a canonical table that no retained file explains stops
the rotation before anything changes: that customer would lose their history. Tables the models
built from pseudonyms are dropped in the same transaction and rebuilt in full.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.config import Settings
from pipelines.contracts import CONTRACTS
from pipelines.ingest.privacy import (
    KEY_ENV,
    OLD_KEY_ENV,
    PSEUDONYM_PREFIX,
    PrivacyError,
    PseudonymKey,
    check_key,
    pseudonym_sql,
    register_scrubber,
    resolve_key,
    set_key,
    short,
    warehouse_fingerprint,
)
from pipelines.ingest.profiles import ProfileError, load_profile
from pipelines.ingest.readers import drop_raw, make_workdir, read_raw, scan, sha256_of
from pipelines.ingest.results import FileRejected
from pipelines.ingest.typing_sql import PERSONAL_COLUMNS
from pipelines.sqltext import sql_ident, sql_string
from pipelines.warehouse import connect, ensure_schema, gx_sample_table

PSEUDONYM = re.compile(PSEUDONYM_PREFIX + "[0-9a-f]{24}")
RETIRED = PSEUDONYM_PREFIX + "retired"  # a quarantined value no retained file explains
# Tables that hold no pseudonym, or are rewritten above: never dropped.
KEPT_TABLES = {
    *CONTRACTS,
    "load_audit",
    "quarantine",
    "validation_results",
    "gx_checks",
    *(gx_sample_table(t) for t in CONTRACTS),
    "pseudonym_keys",
    "model_builds",
    "parameter_sets",
    "metric_restatements",
}


class RotationError(RuntimeError):
    """The rotation cannot re-make every pseudonym; nothing was changed."""


@dataclass
class Rotation:
    files_read: int = 0
    pseudonyms: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    quarantined_records: int = 0
    retired_in_quarantine: int = 0
    dropped_models: list[str] = field(default_factory=list)


def rotate_key(settings: Settings, search: list[Path] | None = None) -> Rotation:
    """`search`: folders holding files loaded from outside the landing folder (esprit ingest PATH),
    looked in as <folder>/<file> and <folder>/<source>/<file>."""
    old, new = resolve_key(OLD_KEY_ENV), resolve_key()
    if old.fingerprint() == new.fingerprint():
        raise PrivacyError(f"{OLD_KEY_ENV} and {KEY_ENV} hold the same key: nothing to rotate")
    con = connect(settings.warehouse)
    outcome = Rotation()
    try:
        ensure_schema(con)
        register_scrubber(con)  # re-typing the retained files scrubs their free text as ingest did
        recorded = warehouse_fingerprint(con)
        if recorded is not None and recorded != old.fingerprint():
            raise PrivacyError(
                f"{OLD_KEY_ENV} is not the key the warehouse's pseudonyms were made with "
                f"(fingerprint {short(recorded)}; {OLD_KEY_ENV}'s: {short(old.fingerprint())})"
            )
        con.execute("BEGIN TRANSACTION")
        try:
            check_key(con, old)  # a warehouse made before fingerprints: the old key is now recorded
            _identifiers(con, settings, outcome, search or [])
            _pairs(con, old, new)
            _check_coverage(con)
            _rewrite_tables(con, outcome)
            pairs = dict(con.execute("SELECT old, new FROM _key_pairs").fetchall())
            _rewrite_quarantine(con, pairs, outcome)
            outcome.dropped_models = _drop_models(con)
            con.execute("UPDATE pseudonym_keys SET retired_at = now() WHERE retired_at IS NULL")
            con.execute("INSERT INTO pseudonym_keys VALUES (?, now(), NULL)", [new.fingerprint()])
            outcome.pseudonyms = len(pairs)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
    _rewrite_kept_results(settings, pairs)
    return outcome


def _retained(settings: Settings, search: list[Path], source: str, file_name: str, digest: str) -> Path | None:
    """The file a load read, found by name where it may lie and recognised by its content hash."""
    for path in [
        settings.landing / source / file_name,
        *(p for d in search for p in (d / file_name, d / source / file_name)),
    ]:
        if path.is_file() and sha256_of(path) == digest:
            return path
    return None


def _identifiers(con, settings: Settings, outcome: Rotation, search: list[Path]) -> None:
    """_identifiers: every text value of the retained files of the loads in force, as read and as
    typed through their profile (a customer_ref is often an expression over source columns)."""
    from pipelines.ingest.typing_sql import type_rows

    con.execute("CREATE OR REPLACE TEMP TABLE _identifiers (v VARCHAR)")
    missing = []
    loads = con.execute(
        "SELECT load_id, source, profile, file_name, file_sha256 FROM load_audit "
        "WHERE status = 'loaded' ORDER BY load_id"
    ).fetchall()
    for load_id, source, profile_name, file_name, digest in loads:
        path = _retained(settings, search, source, file_name, digest)
        if path is None:
            missing.append(f"{source}/{file_name} (load {load_id})")
            continue
        try:
            profile = load_profile(profile_name)
        except ProfileError:
            missing.append(f"{source}/{file_name} (load {load_id}: profile {profile_name} not found)")
            continue
        workdir = make_workdir(settings.temp_dir)
        try:
            con.execute(f"SET TimeZone = {sql_string(profile.timezone)}")
            reading = read_raw(con, path, scan(path, limits=settings.ingest), profile, workdir)
            contract = CONTRACTS[profile.table]
            type_rows(con, profile, contract, reading["columns"], settings.ingest["max_field_bytes"])
            texts = [f"SELECT {sql_ident(c)}::VARCHAR FROM _raw" for c in reading["columns"]]
            texts += [f"SELECT {sql_ident(c.name)} FROM _typed_rows" for c in contract.columns if c.type == "VARCHAR"]
            con.execute(
                f"INSERT INTO _identifiers SELECT DISTINCT v FROM ({' UNION '.join(texts)}) t(v) WHERE v IS NOT NULL"
            )
            # unparsed lines were quarantined field by field: their fields too
            for (raw,) in con.execute("SELECT raw_record FROM _unparsed").fetchall():
                values = [v.strip() for v in re.split(r"[,;\t|]", raw or "") if v.strip()]
                if values:
                    con.executemany("INSERT INTO _identifiers VALUES (?)", [[v] for v in values])
            outcome.files_read += 1
        except FileRejected as exc:
            missing.append(f"{source}/{file_name} (load {load_id}: {exc})")
        finally:
            drop_raw(con)
            shutil.rmtree(workdir, ignore_errors=True)
    con.execute("CREATE OR REPLACE TEMP TABLE _missing_files (name VARCHAR)")
    if missing:
        con.executemany("INSERT INTO _missing_files VALUES (?)", [[m] for m in missing])


def _pairs(con, old: PseudonymKey, new: PseudonymKey) -> None:
    """_key_pairs (old, new): the identifiers' pseudonyms under both keys, for those the warehouse holds."""
    set_key(con, old)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _hashed AS SELECT DISTINCT v, {pseudonym_sql('v')} AS old FROM _identifiers"
    )
    held = " UNION ".join(f"SELECT {c} FROM {t}" for t, c in _personal_columns())
    _quarantine_pseudonyms(con)
    con.execute(f"DELETE FROM _hashed WHERE old NOT IN ({held} UNION SELECT p FROM _quarantine_pseudonyms)")
    set_key(con, new)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _key_pairs AS SELECT DISTINCT old, {pseudonym_sql('v')} AS new FROM _hashed"
    )


PERSONAL_NAMES = {"customer_ref": "customer reference", "agent_id": "agent code", "respondent_ref": "staff reference"}


def _personal_columns() -> list[tuple[str, str]]:
    """(table, column) of every pseudonymised column of the canonical tables (a customer's
    reference, an agent's code, a staff member's in the internal pulse) and of the samples waiting
    for Great Expectations' check (`gx_check`)."""
    return [
        (table, c)
        for t, contract in CONTRACTS.items()
        for table in (t, gx_sample_table(t))
        for c in PERSONAL_COLUMNS
        if c in contract.column_names
    ]


def _quarantine_pseudonyms(con) -> None:
    found = {
        p
        for (record,) in con.execute(
            f"SELECT raw_record FROM quarantine WHERE raw_record LIKE '%{PSEUDONYM_PREFIX}%'"
        ).fetchall()
        for p in PSEUDONYM.findall(record)
    }
    con.execute("CREATE OR REPLACE TEMP TABLE _quarantine_pseudonyms (p VARCHAR)")
    if found:
        con.executemany("INSERT INTO _quarantine_pseudonyms VALUES (?)", [[p] for p in sorted(found)])


def _check_coverage(con) -> None:
    unexplained = []
    for table, column in _personal_columns():
        n = con.execute(
            f"SELECT count(DISTINCT {column}) FROM {table} WHERE {column} IS NOT NULL "
            f"AND {column} NOT IN (SELECT old FROM _key_pairs)"
        ).fetchone()[0]
        if n:
            unexplained.append(f"{n} {PERSONAL_NAMES.get(column, column)}(s) of table {table}")
    if unexplained:
        missing = [r[0] for r in con.execute("SELECT name FROM _missing_files ORDER BY name").fetchall()]
        raise RotationError(
            f"{'; '.join(unexplained)} come from no retained landing file, so they cannot be re-made under the new "
            f"key and those customers would lose their history. "
            + (
                f"Files of loads in force that are missing, changed or unreadable: {', '.join(missing)}. "
                if missing
                else ""
            )
            + "Put those files back in their landing folder (or name the folders holding them with --search) and run "
            "esprit rotate-key again, or rotate by a full reload (docs/operations.md). Nothing was changed."
        )


def _rewrite_tables(con, outcome: Rotation) -> None:
    for table, column in _personal_columns():
        changed = con.execute(
            f"UPDATE {table} AS t SET {column} = k.new FROM _key_pairs AS k WHERE t.{column} = k.old"
        ).fetchone()[0]
        if table in CONTRACTS or changed:  # a sample is named only when it held some
            outcome.rows[table] = outcome.rows.get(table, 0) + changed


def _rewrite_quarantine(con, pairs: dict[str, str], outcome: Rotation) -> None:
    """Quarantined raw records hold pseudonyms inside their JSON text: each is replaced; one that
    no retained file explains (a field of a line that did not parse) becomes p_retired."""
    rows = con.execute(
        f"SELECT rowid, raw_record FROM quarantine WHERE raw_record LIKE '%{PSEUDONYM_PREFIX}%'"
    ).fetchall()
    retired = 0

    def swap(match: re.Match) -> str:
        nonlocal retired
        if match.group(0) in pairs:
            return pairs[match.group(0)]
        retired += 1
        return RETIRED

    changed = [[row_id, PSEUDONYM.sub(swap, record)] for row_id, record in rows]
    changed = [c for c, (_, record) in zip(changed, rows) if c[1] != record]
    if changed:
        con.execute("CREATE OR REPLACE TEMP TABLE _requarantined (row_id BIGINT, raw_record VARCHAR)")
        con.executemany("INSERT INTO _requarantined VALUES (?, ?)", changed)
        con.execute(
            "UPDATE quarantine AS q SET raw_record = r.raw_record FROM _requarantined AS r WHERE q.rowid = r.row_id"
        )
    outcome.quarantined_records, outcome.retired_in_quarantine = len(changed), retired


def _drop_models(con) -> list[str]:
    """Drop the models' tables that hold a pseudonym anywhere (a customer_ref, a journey_id made of
    one): the next build, missing them, recomputes everything from the rewritten tables."""
    dropped = []
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND schema_name = 'main' ORDER BY table_name"
    ).fetchall()
    for (table,) in tables:
        if table in KEPT_TABLES or table.startswith("param_"):
            continue
        texts = [
            c
            for c, t in con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'main' AND table_name = ?",
                [table],
            ).fetchall()
            if t == "VARCHAR"
        ]
        if any(
            con.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {sql_ident(table)} WHERE "
                f"regexp_matches({sql_ident(c)}, '{PSEUDONYM.pattern}') LIMIT 1)"
            ).fetchone()[0]
            for c in texts
        ):
            con.execute(f"DROP TABLE {sql_ident(table)}")
            dropped.append(table)
    return dropped


def _rewrite_kept_results(settings: Settings, pairs: dict[str, str]) -> None:
    """Great Expectations results kept for Data Docs hold the pseudonyms of their samples."""
    folder = settings.out / "validation_results"
    for path in folder.glob("*.json") if folder.is_dir() else []:
        text = path.read_text(encoding="utf-8")
        new = PSEUDONYM.sub(lambda m: pairs.get(m.group(0), RETIRED), text)
        if new != text:
            json.loads(new)  # still JSON: a pseudonym is a plain token inside a string
            partial = path.with_name(f".{path.name}.partial")
            partial.write_text(new, encoding="utf-8")
            partial.replace(path)


def describe(outcome: Rotation) -> list[str]:
    rows = ", ".join(f"{table} {n:,}" for table, n in outcome.rows.items())
    lines = [
        f"re-made {outcome.pseudonyms:,} pseudonyms from {outcome.files_read} retained file(s); rows: {rows}",
        f"quarantined records rewritten: {outcome.quarantined_records:,}"
        + (
            f" ({outcome.retired_in_quarantine} value(s) no file explains became {RETIRED})"
            if outcome.retired_in_quarantine
            else ""
        ),
    ]
    if outcome.dropped_models:
        lines.append(f"model tables dropped for a full rebuild: {', '.join(outcome.dropped_models)}")
    return lines
