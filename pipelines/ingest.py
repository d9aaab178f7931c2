"""Ingest: read export files through their source profile, validate, quarantine, load.

For each file (identified by its content hash; a file already loaded is a no-op), in one
transaction:
1. read it into text columns (`readers`), lines that cannot be parsed set aside;
2. map it onto its canonical table (`profiles`): null markers, expressions, value maps, types;
3. pseudonymise customer identifiers and scrub free text (`privacy`);
4. validate every row with the table's Great Expectations suite (`validation`), in chunks,
   before a key repeated within the file is reduced to its last good line;
5. quarantine every row that broke a rule, with file, line, raw record and all its reasons;
   reject the whole file (moved to `rejected/<source>/` with a report) on a file-level failure
   or when bad rows exceed `ingest.max_bad_row_share`;
6. upsert the good rows: for a natural key delivered more than once, the greatest
   (record_version, source_file, load, source_line) wins, so any load order gives the same
   tables and a corrected export under the same name wins over its earlier delivery; a key
   another source's profiles own (key_namespace) is quarantined, never replaced.
Every file's audit row holds: rows read = loaded + quarantined + duplicate (+ rejected).
A reload (`esprit reload`) retracts the earlier loads of the same content and loads it again.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from fnmatch import fnmatch
from pathlib import Path

import duckdb

from pipelines.config import Settings
from pipelines.contracts import CONTRACTS, Contract
from pipelines.privacy import (PseudonymKey, check_key, pseudonym, pseudonym_sql, resolve_key, scrub_sql, set_key,
                               split_unparsed, unparsed_record)
from pipelines.profiles import Profile, load_profile
from pipelines.readers import (MACHINE_ERRORS, FileRejected, direct_read_complete, drop_raw, drop_relation,
                               first_record_line, make_workdir, progress, read_raw, scan, scan_bytes, sha256_of,
                               shown_name)
from pipelines.sqltext import sql_ident, sql_string
from pipelines.validation import (UnsupportedExpectation, compact_result, compile_suite, key_unexpected_sql,
                                  sql_disagreements, validate_frame)
from pipelines.validation import warm_up as warm_up_validation
from pipelines.warehouse import connect, define_macros, ensure_schema

WEEK_COLUMN = {"calls": "offered_at", "cases": "opened_at", "case_events": "event_at",
               "survey_responses": "responded_at"}
PERSONAL_COLUMNS = ("customer_ref",)  # canonical columns pseudonymised at the door
# Keys and the references to them: a profile with namespace_keys prefixes them all, so that its
# case history, its cases' origin calls and its surveys' rated contacts still meet.
IDENTIFIER_COLUMNS = ("call_id", "case_id", "origin_ref", "response_id", "interaction_ref")
FREE_TEXT_COLUMNS = ("verbatim",)  # canonical columns scrubbed at the door
PROGRESS_MIN_BYTES = 16 << 20  # a file this large shows a progress bar while it is read
# A timestamp outside these bounds (year 10000, 290000, BC...) parses in DuckDB but not as a Python
# datetime in every timezone: it is not a timestamp (its row is quarantined, rule type).
TIMESTAMP_RANGE = ("TIMESTAMPTZ '0001-01-02 00:00:00+00'", "TIMESTAMPTZ '9999-12-30 00:00:00+00'")
KEY_RULES = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")
# A uniqueness rule groups at most this many rows at once: DuckDB's hash table for the keys of a
# whole file outgrew ingest.memory_limit, and was the peak of ingest's memory (10M calls: 1,097 MB
# in one pass, 693-728 MB a pass in five, as fast).
KEY_GROUP_ROWS = 2_500_000


class IngestError(RuntimeError):
    """One or more files of a source were rejected; the message lists every reason."""


@dataclass
class FileResult:
    source: str
    file: str
    table: str | None
    profile: str | None
    status: str  # loaded | rejected | skipped (`reason` says why)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    derived_rows: int = 0
    transcoded_lines: int = 0
    weeks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    load_id: int | None = None
    seconds: float = 0.0
    reason: str | None = None  # why it was skipped
    replaces: list[int] = field(default_factory=list)  # loads of the same content a reload replaced

    def as_dict(self) -> dict:
        return asdict(self)


# ---- which profile reads which file ---------------------------------------------------------

def profile_for(settings: Settings, source: str, path: Path) -> Profile | None:
    for rule in settings.sources.get(source, []):
        if fnmatch(path.name.lower(), rule["match"].lower()):
            return load_profile(rule["profile"])
    return None


def landing_files(settings: Settings, source: str) -> list[Path]:
    if source not in settings.sources:
        raise ValueError(f"unknown source '{source}' (expected one of {sorted(settings.sources)})")
    folder = settings.landing / source
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


# ---- mapping onto the contract ---------------------------------------------------------------

def _mapped_select(profile: Profile, contract: Contract, source_columns: list[str]) -> str:
    markers = ", ".join(sql_string(m) for m in profile.null_markers)
    src = ", ".join(f"CASE WHEN {_trimmed(sql_ident(c))} IN ({markers}) THEN NULL ELSE {sql_ident(c)} END AS {sql_ident(c)}"
                    for c in source_columns)
    cols = []
    for col in contract.columns:
        if col.name in profile.columns:
            expr = profile.columns[col.name]
        elif col.name in source_columns:
            expr = sql_ident(col.name)
        else:
            expr = "NULL"
        if profile.namespace_keys and col.name in IDENTIFIER_COLUMNS:
            expr = f"CASE WHEN ({expr}) IS NULL THEN NULL ELSE {sql_string(profile.namespace + ':')} || ({expr}) END"
        cols.append(f"({expr}) AS {sql_ident('__m_' + col.name)}")
    version = profile.version or "NULL"
    window = f" WINDOW w AS ({profile.window})" if profile.window else ""
    return (f"WITH src AS (SELECT {src + ', ' if src else ''}source_line FROM _raw) "
            f"SELECT {', '.join(cols)}, ({version})::VARCHAR AS record_version, source_line FROM src{window}")


def _typed_select(profile: Profile, contract: Contract, max_field_bytes: int) -> str:
    """Text to typed columns, with the reasons a value did not convert. Three layers, so that each
    value is trimmed and cast once however many rules look at it: `cast` (text, first casts),
    `typed` (range checks), then the output (free text scrubbed, reasons). Personal columns come
    out as read: `_typed_views` pseudonymises them for everything after."""
    casts, typed, out = [], [], []
    checks: list[tuple[str, str, str | None]] = []  # (condition, reason, column whose value did not convert)
    for col in contract.columns:
        m, s, x, d, o, u, y = (sql_ident(f"__{p}_{col.name}") for p in "msxdouy")
        text = _trimmed(f"{m}::VARCHAR")
        vmap = profile.value_maps.get(col.name)
        if vmap:
            whens = " ".join(f"WHEN {sql_string(k)} THEN {'NULL' if v is None else sql_string(v)}" for k, v in vmap.items())
            keys = ", ".join(sql_string(k) for k in vmap)
            casts += [f"(CASE {text} {whens} ELSE NULL END)::VARCHAR AS {s}", f"({m} IS NOT NULL AND {text} NOT IN ({keys})) AS {u}"]
            checks.append((u, f"'column {col.name}: rule value_map; value ' || {_quote_value(text)} || ' has no mapping'",
                           col.name))
        elif col.type != "VARCHAR":
            casts.append(f"{text} AS {s}")
        if col.type == "TIMESTAMPTZ" and col.name in profile.timestamp_formats:
            casts.append(f"timezone({sql_string(profile.timezone)}, try_strptime({s}, "
                         f"{sql_string(profile.timestamp_formats[col.name])})) AS {x}")
        elif col.type == "TIMESTAMPTZ":  # ISO text: DuckDB reads +25:00 as 25 hours, an offset no place has
            casts += [f"TRY_CAST({s} AS TIMESTAMPTZ) AS {x}", f"{_impossible_offset(s)} AS {o}"]
        elif col.type in ("INTEGER", "BIGINT", "DOUBLE"):
            number = f"replace({s}, ',', '.')" if profile.format.decimal == "," else s
            casts.append(f"TRY_CAST({number} AS {col.type}) AS {x}")
            if col.type != "DOUBLE":  # 7.5 is not a whole number: refuse it rather than round it
                casts.append(f"TRY_CAST({number} AS DOUBLE) AS {d}")
        elif col.type != "VARCHAR":
            casts.append(f"TRY_CAST({s} AS {col.type}) AS {x}")
        if col.type == "TIMESTAMPTZ":  # beyond what Python (GX, pandas) can hold in every timezone
            offset_ok = "" if col.name in profile.timestamp_formats else f" AND NOT {o}"
            typed.append(f"CASE WHEN {x} BETWEEN {TIMESTAMP_RANGE[0]} AND {TIMESTAMP_RANGE[1]}{offset_ok} THEN {x} END AS {y}")
        elif col.type in ("INTEGER", "BIGINT"):
            typed.append(f"CASE WHEN {d} = trunc({d}) THEN {x} END AS {y}")
        elif col.type == "VARCHAR":
            typed.append(f"{s if vmap else f'{m}::VARCHAR'} AS {y}")
        else:
            typed.append(f"{x} AS {y}")
        if col.name in PERSONAL_COLUMNS and col.type != "VARCHAR":
            raise ValueError(f"personal column {col.name} must be text")
        out.append(f"{scrub_sql(y) if col.name in FREE_TEXT_COLUMNS else y} AS {sql_ident(col.name)}")
        if col.type != "VARCHAR":
            fmt = profile.timestamp_formats.get(col.name)
            expected = f"a timestamp in the form {fmt}" if fmt else col.type
            cast_failed = f"{m} IS NOT NULL{f' AND {s} IS NOT NULL' if vmap else ''} AND {y} IS NULL"
            checks.append((cast_failed, f"'column {col.name}: rule type; value ' || {_quote_value(s)} || "
                                        f"' is not {expected}'", col.name))
        else:
            checks.append((f"strlen({y}) > {max_field_bytes}", f"'column {col.name}: rule max_field_bytes; value of ' "
                                                                f"|| strlen({y}) || ' bytes exceeds {max_field_bytes}'", None))
        if col.type == "TIMESTAMPTZ":  # the window set by set_plausible_window (unset: no check)
            low, high = "getvariable('plausible_from')::TIMESTAMPTZ", "getvariable('plausible_to')::TIMESTAMPTZ"
            checks.append((f"({y} < {low} OR {y} > {high})",
                           f"'column {col.name}: rule plausible_time; value ' || strftime({y} AT TIME ZONE 'UTC', "
                           f"'%Y-%m-%d %H:%M:%S UTC') || ' is outside ' || strftime({low} AT TIME ZONE 'UTC', "
                           f"'%Y-%m-%d') || ' .. ' || strftime({high} AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') || ' UTC: "
                           f"check the date in the export and the profile''s timestamp format'", None))
    # __failed: columns whose source value did not convert (their NULL is not the source's). Lists
    # are built only for a row that fails a check: most rows fail none.
    broken = " OR ".join(f"({c})" for c, _, _ in checks) or "FALSE"
    reasons = ", ".join(f"CASE WHEN {c} THEN {why} END" for c, why, _ in checks)
    failed = ", ".join(f"CASE WHEN {c} THEN {sql_string(col)} END" for c, _, col in checks if col) or "NULL"
    cast_layer = f"SELECT *{''.join(', ' + c for c in casts)} FROM _mapped"
    typed_layer = f"SELECT *, {', '.join(typed)} FROM ({cast_layer})"
    return (f"SELECT {', '.join(out)}, record_version, source_line, "
            f"CASE WHEN {broken} THEN list_filter([{reasons}], lambda x: x IS NOT NULL) ELSE [] END::VARCHAR[] AS __reasons, "
            f"CASE WHEN {broken} THEN list_filter([{failed}], lambda x: x IS NOT NULL) ELSE [] END::VARCHAR[] AS __failed "
            f"FROM ({typed_layer})")


def set_plausible_window(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """The times a row may carry: from ingest.plausible_from to plausible_future_days after now."""
    from datetime import datetime, timedelta, timezone

    start = datetime.fromisoformat(str(settings.ingest["plausible_from"])).replace(tzinfo=timezone.utc)
    try:
        end = datetime.now(timezone.utc) + timedelta(days=settings.ingest["plausible_future_days"])
    except OverflowError:  # a window opened past the last day Python holds
        end = datetime(9999, 12, 30, tzinfo=timezone.utc)
    con.execute("SET VARIABLE plausible_from = ?::TIMESTAMPTZ", [start])
    con.execute("SET VARIABLE plausible_to = ?::TIMESTAMPTZ", [end])


def _impossible_offset(text: str) -> str:
    """SQL: the text ends with a UTC offset of 15 hours or more (they run from -12:00 to +14:00).
    The pattern, anchored at the end, is 6 characters at most; on the whole text it is cheaper than
    on `right(text, 6)`, which counts characters from the start (0.5 s against 1.1 s on 15M values)."""
    return f"regexp_matches({text}, '[+-](1[5-9]|[2-9][0-9]):?[0-9]{{2}}$')"


def _trimmed(expr: str) -> str:
    """SQL: trim(expr), spaces off both ends, without trim's copy of every value that has none."""
    return f"(CASE WHEN {expr} LIKE ' %' OR {expr} LIKE '% ' THEN trim({expr}) ELSE {expr} END)"


def _typed_views(con, contract: Contract, line: str, pseudonyms: bool = True) -> None:
    """Privacy at the door: nothing after the typing step sees a raw identifier or raw free text.
    Over the typed rows (`_typed_rows`, whose personal columns hold what the file holds), two views:
    - `_typed`, every column, personal ones pseudonymised: each distinct value is hashed once,
      into `_pseudonym_<column>`, and joined;
    - `_typed_lean`, without the personal columns: no join, for the passes that do not need them.
    `line`: SQL of a row's source line over `_typed_rows t` (its column, or its row id);
    `pseudonyms`: False when only the views are made again (the pseudonym tables are there)."""
    personal = [c for c in contract.column_names if c in PERSONAL_COLUMNS]
    joins, columns = [], []
    for i, name in enumerate(personal):
        table = sql_ident(f"_pseudonym_{name}")
        if pseudonyms:
            drop_relation(con, f"_pseudonym_{name}")
            con.execute(f"CREATE TEMP TABLE {table} AS SELECT v, {pseudonym_sql('v')} AS p FROM "
                        f"(SELECT DISTINCT {sql_ident(name)} AS v FROM _typed_rows WHERE {sql_ident(name)} IS NOT NULL)")
        joins.append(f" LEFT JOIN {table} p{i} ON p{i}.v = t.{sql_ident(name)}")
    tail = f"t.record_version, {line} AS source_line, t.__reasons, t.__failed FROM _typed_rows t"
    for c in contract.column_names:
        columns.append(f"p{personal.index(c)}.p AS {sql_ident(c)}" if c in personal else f"t.{sql_ident(c)}")
    lean = [f"t.{sql_ident(c)}" for c in contract.column_names if c not in personal]
    for view in ("_typed", "_typed_lean"):
        drop_relation(con, view)
    con.execute(f"CREATE TEMP VIEW _typed AS SELECT {', '.join(columns)}, {tail}{''.join(joins)}")
    con.execute(f"CREATE TEMP VIEW _typed_lean AS SELECT {''.join(c + ', ' for c in lean)}{tail}")


def _quote_value(text_expr: str) -> str:
    return (f"'''' || CASE WHEN length({text_expr}) > 60 THEN left({text_expr}, 57) || '...' "
            f"ELSE {text_expr} END || ''''")


# ---- one file --------------------------------------------------------------------------------

def ingest_file(con: duckdb.DuckDBPyConnection, settings: Settings, source: str, path: Path,
                profile: Profile | None, key: PseudonymKey, reload: bool = False) -> FileResult:
    """Load one file in the caller's transaction. `reload`: the file was loaded before (same
    content): its earlier loads' rows are retracted and it is loaded again, with its profile as it
    is now; the weeks both touch are the load's weeks, and when a retracted key does not come back
    the load asks the next build to recompute everything (`restate_all`)."""
    started = datetime.now(timezone.utc)
    name = shown_name(path.name)  # the name as text: audit, lineage, quarantine, reports
    result = FileResult(source, name, profile.table if profile else None, profile.name if profile else None,
                        "skipped")
    stat = path.stat()
    size = stat.st_size
    # A file still in the landing folder since it was loaded (same name, size and modification
    # time) is not read again: a weekly run would otherwise hash the whole history every time.
    # A reload reads it whatever the audit says.
    unchanged = None if reload else con.execute(
        "SELECT max(load_id) FROM load_audit WHERE status = 'loaded' AND file_name = ? AND file_bytes = ? "
        "AND file_mtime_ns = ?", [name, size, stat.st_mtime_ns]).fetchone()[0]
    if unchanged is not None:
        result.reason = f"unchanged since load {unchanged} (same name, size and modification time)"
        return result
    try:
        with progress(scan_bytes(path), f"reading {name}", large=size >= PROGRESS_MIN_BYTES) as bar:
            fs = scan(path, bar.update)
    except FileRejected as exc:
        fs = None
        digest = sha256_of(path)
        problem = exc
    else:
        digest, problem = fs.sha256, None
    done = con.execute("SELECT load_id, file_name, source, weeks FROM load_audit WHERE file_sha256 = ? "
                       "AND status = 'loaded' ORDER BY load_id", [digest]).fetchall()
    if done and not reload:
        load_id, file_name = done[-1][:2]
        result.reason = (f"same content as {file_name}, loaded as load {load_id} (SHA-256 {digest[:12]}...): "
                         f"to apply a corrected profile to it, esprit reload")
        return result
    if reload:
        if not done:
            result.reason = "no load of this content to replace: a new file is loaded by esprit ingest"
            return result
        # the source it was loaded for; the profile bound to that source now, unless one is given
        source = result.source = done[-1][2]
        profile = profile or profile_for(settings, source, path)
        result.table, result.profile = (profile.table, profile.name) if profile else (None, None)
        result.replaces = [r[0] for r in done]
    # this file will be read: GX's imports (a thread, mostly under the GIL) overlap DuckDB reading
    # it, which releases the GIL; not the scan above, which holds it
    warm_up_validation()
    result.load_id = con.execute("SELECT nextval('load_id_seq')").fetchone()[0]
    workdir = make_workdir()
    restate_all = False
    try:
        if problem is not None:
            raise problem
        if profile is None:
            raise FileRejected("profile", f"no profile of source '{source}' matches this file name "
                               f"(settings: sources.{source})")
        old_weeks = _retract(con, result.replaces) if result.replaces else None
        _process(con, settings, source, path, fs, profile, key, result, workdir)
        result.status = "loaded"
        if old_weeks is not None:
            result.weeks = sorted(set(result.weeks) | set(old_weeks))
            restate_all = _retracted_keys_gone(con)
            con.execute(f"UPDATE load_audit SET status = 'replaced', replaced_by = {result.load_id} "
                        f"WHERE load_id IN ({', '.join(map(str, result.replaces))})")
    except FileRejected as exc:
        result.status = "rejected"
        result.rows_rejected = result.rows_read
        result.rows_loaded = result.rows_quarantined = result.rows_duplicate = result.derived_rows = 0
        result.problems.insert(0, f"{name}: line {exc.line}, column {exc.column}: rule {exc.rule}: {exc}")
        # Undo all the file wrote (rows upserted before a derive failed, quarantine, results):
        # only its audit row remains. The caller opened this transaction; load ids survive it.
        con.execute("ROLLBACK")
        con.execute("BEGIN TRANSACTION")
        _forget_kept_results(settings, result.load_id)
        _reject(settings, result, path, keep=reload)  # a reload refused leaves the loaded file where it is
    except BaseException:
        _forget_kept_results(settings, result.load_id)  # the caller rolls the load back
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    _audit(con, result, digest, started, fs.size if fs else None, stat, profile, restate_all)
    return result


def _process(con, settings, source, path, fs, profile: Profile, key, result: FileResult, workdir: Path) -> None:
    contract = CONTRACTS[profile.table]
    cfg = settings.ingest
    con.execute(f"SET TimeZone = {sql_string(profile.timezone)}")
    # A plain CSV file is typed straight from DuckDB's reader, its text never stored: row ids of
    # the typed rows number its records. A profile that derives tables from the file's text or
    # reads neighbouring rows (window) needs the text numbered first.
    direct = not profile.derive and not profile.window
    facts = read_raw(con, path, fs, profile, workdir, direct=direct)
    source_columns = facts["columns"]
    result.transcoded_lines = facts["transcoded_lines"]
    if facts["numbered"]:  # a rejected file reports the rows it read
        result.rows_read = _rows_read(con)
    try:
        _check_columns(profile, contract, source_columns)
        parsed = _type_rows(con, profile, contract, source_columns, cfg["max_field_bytes"])
    except FileRejected:
        if not facts["numbered"]:  # counted on a numbered read, after the failed pass's transaction
            con.execute("ROLLBACK")
            con.execute("BEGIN TRANSACTION")
            read_raw(con, path, fs, profile, workdir, again=facts)
            result.rows_read = _rows_read(con)
        raise
    if not facts["numbered"] and not direct_read_complete(con, fs, profile, parsed):
        facts = read_raw(con, path, fs, profile, workdir, again=facts)  # rejected records or extra lines: placed there
        parsed = _type_rows(con, profile, contract, source_columns, cfg["max_field_bytes"])
    unparsed = con.execute("SELECT count(*) FROM _unparsed").fetchone()[0]
    result.rows_read = parsed + unparsed
    if facts["numbered"]:
        line = "t.source_line"
    else:  # row ids count from where the table's rows start (inside a transaction, far from 0)
        start = con.execute("SELECT coalesce(min(rowid), 0) FROM _typed_rows").fetchone()[0]
        line = f"(t.rowid - {start} + {first_record_line(profile)})"
    _typed_views(con, contract, line)
    # GX sees every row, before the in-file dedup and also rows with a value that did not
    # convert, so that each row's reasons list every rule it broke.
    row_reasons = _validate(con, contract, result, cfg, _results_dir(settings))
    if row_reasons:
        if line != "t.source_line":  # DuckDB updates a list by moving its row: numbers from row ids first
            con.execute(f"UPDATE _typed_rows t SET source_line = {line}")
            line = "t.source_line"
            _typed_views(con, contract, line, pseudonyms=False)
        con.execute("CREATE OR REPLACE TEMP TABLE _gx_reasons (source_line BIGINT, reasons VARCHAR[])")
        con.executemany("INSERT INTO _gx_reasons VALUES (?, ?)", [[k, v] for k, v in row_reasons.items()])
        # a column whose value did not convert is NULL in the batch: its GX rules (not null,
        # ...) would blame a NULL the source does not hold; the type reason already names it
        con.execute(f"""
            UPDATE _typed_rows t SET __reasons = list_concat(t.__reasons, list_filter(g.reasons, lambda r: NOT list_has_all(
                t.__failed, string_split(regexp_extract(r, '^column ([^:]+):', 1), '/'))))
            FROM _gx_reasons g WHERE g.source_line = {line}
        """)
    if _foreign_keys(con, contract, "_typed_lean", profile, result.file):  # quarantined, never replacing
        if line != "t.source_line":
            con.execute(f"UPDATE _typed_rows t SET source_line = {line}")
            line = "t.source_line"
            _typed_views(con, contract, line, pseudonyms=False)
        con.execute("UPDATE _typed_rows t SET __reasons = list_append(t.__reasons, f.reason) FROM _foreign f "
                    "WHERE f.source_line = t.source_line")
    # a key repeated within the file: the last good line wins, earlier good lines count as duplicates
    key_cols = ", ".join(contract.key)
    key_null = " OR ".join(f"{k} IS NULL" for k in contract.key)
    drop_relation(con, "_candidates")
    drop_relation(con, "_candidates_lean")
    if _key_repeated(con, contract, result.load_id):  # the window sorts the file: only when needed
        con.execute(f"""
            CREATE TEMP TABLE _candidates AS
            SELECT *, CASE WHEN len(__reasons) > 0 OR {key_null} THEN 1 ELSE row_number() OVER (
                PARTITION BY {key_cols}, len(__reasons) = 0 AND NOT ({key_null}) ORDER BY source_line DESC) END AS __rank
            FROM _typed
        """)
        con.execute("CREATE TEMP VIEW _candidates_lean AS SELECT * FROM _candidates")
    else:  # every row its own key: nothing to rank, nothing copied
        con.execute("CREATE TEMP VIEW _candidates AS SELECT *, 1 AS __rank FROM _typed")
        con.execute("CREATE TEMP VIEW _candidates_lean AS SELECT *, 1 AS __rank FROM _typed_lean")
    in_file_duplicates = con.execute("SELECT count(*) FROM _candidates_lean WHERE __rank > 1").fetchone()[0]
    bad_parsed = con.execute("SELECT count(*) FROM _typed_lean WHERE len(__reasons) > 0").fetchone()[0]
    bad = bad_parsed + unparsed
    share = bad / result.rows_read if result.rows_read else 0.0
    if share > cfg["max_bad_row_share"]:
        examples = [f"{result.file}: line {line}: {'; '.join(reasons)}" for line, reasons in con.execute(
            "SELECT source_line, [reason] FROM _unparsed UNION ALL "
            "SELECT source_line, __reasons FROM _typed_lean WHERE len(__reasons) > 0 ORDER BY 1 LIMIT 20").fetchall()]
        result.problems += examples
        raise FileRejected("max_bad_row_share", f"{bad} of {result.rows_read} rows ({share:.1%}) break a rule, "
                           f"above the threshold of {cfg['max_bad_row_share']:.0%}")
    if bad_parsed and not facts["numbered"]:  # their text is quarantined: read it again, numbered
        read_raw(con, path, fs, profile, workdir, again=facts)
    _quarantine(con, result, profile, source_columns, path, facts, key)
    result.rows_quarantined = bad
    if not profile.derive:  # nothing reads the file's text any more: its memory goes to the upsert
        drop_relation(con, "_mapped")
        drop_raw(con)
    loaded, duplicates = _upsert(con, contract, result.file, result.load_id, lean="_candidates_lean")
    result.rows_loaded = loaded
    result.rows_duplicate = duplicates + in_file_duplicates
    result.derived_rows = _derive(con, profile, result.file, result.load_id)
    week_col = WEEK_COLUMN[contract.table]
    # named once per quarter of an hour, not once per row: every UTC offset is a multiple of 15
    # minutes, so no quarter of an hour holds two local weeks
    result.weeks = [r[0] for r in con.execute(
        "SELECT DISTINCT iso_week(to_timestamp(q // 1000000)) AS w "
        f"FROM (SELECT DISTINCT us - (us % 900000000 + 900000000) % 900000000 AS q "
        f"FROM (SELECT epoch_us({week_col}) AS us FROM _candidates_lean WHERE __rank = 1 AND len(__reasons) = 0 "
        f"AND {week_col} IS NOT NULL)) ORDER BY w"
    ).fetchall()]
    result.problems += [f"{result.file}: line {line}: {'; '.join(reasons)}" for line, reasons in con.execute(
        "SELECT source_line, reasons FROM quarantine WHERE load_id = ? ORDER BY source_line LIMIT 20",
        [result.load_id]).fetchall()]
    assert result.rows_read == result.rows_loaded + result.rows_quarantined + result.rows_duplicate, result


def _retract(con, load_ids: list[int]) -> list[str]:
    """A reload takes back what its file's earlier loads wrote (rows still theirs, quarantined
    rows); returns the weeks those loads listed. The retracted keys are kept in _retracted."""
    ids = ", ".join(str(int(i)) for i in load_ids)
    drop_relation(con, "_retracted")
    con.execute("CREATE TEMP TABLE _retracted (table_name VARCHAR, key VARCHAR[])")
    for contract in CONTRACTS.values():
        keys = ", ".join(f"{sql_ident(k)}::VARCHAR" for k in contract.key)
        con.execute(f"INSERT INTO _retracted SELECT {sql_string(contract.table)}, [{keys}] FROM {contract.table} "
                    f"WHERE load_id IN ({ids})")
        con.execute(f"DELETE FROM {contract.table} WHERE load_id IN ({ids})")
    con.execute(f"DELETE FROM quarantine WHERE load_id IN ({ids})")
    return [w for (weeks,) in con.execute(f"SELECT weeks FROM load_audit WHERE load_id IN ({ids})").fetchall()
            for w in weeks or []]


def _retracted_keys_gone(con) -> bool:
    """Whether a key a reload retracted is in its table no more: no incremental build can find
    the rows built from it (its slices start from the loaded rows), so the next build is full."""
    for contract in CONTRACTS.values():
        keys = ", ".join(f"{sql_ident(k)}::VARCHAR" for k in contract.key)
        if con.execute(f"SELECT count(*) FROM _retracted WHERE table_name = {sql_string(contract.table)} "
                       f"AND key NOT IN (SELECT [{keys}] FROM {contract.table})").fetchone()[0]:
            return True
    return False


def _rows_read(con) -> int:
    return con.execute("SELECT (SELECT count(*) FROM _raw) + (SELECT count(*) FROM _unparsed)").fetchone()[0]


def _type_rows(con, profile: Profile, contract: Contract, source_columns: list[str], max_field_bytes: int) -> int:
    """`_raw` through the profile (`_mapped`, a view) to typed rows (`_typed_rows`); returns their number."""
    for name in ("_typed", "_typed_lean", "_typed_rows"):
        drop_relation(con, name)
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW _mapped AS {_mapped_select(profile, contract, source_columns)}")
        con.execute(f"CREATE TEMP TABLE _typed_rows AS {_typed_select(profile, contract, max_field_bytes)}")
    except MACHINE_ERRORS:
        raise
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0]
        if "CSV Error" in first_line:  # a direct read: DuckDB's reader stopped in this pass
            raise FileRejected("parseable_csv", f"not readable as CSV: {first_line}") from exc
        raise FileRejected("profile_expression", f"profile {profile.name} does not apply to this file: "
                           f"{first_line}") from exc
    return con.execute("SELECT count(*) FROM _typed_rows").fetchone()[0]


def _key_repeated(con, contract: Contract, load_id: int) -> bool:
    """Whether a key comes more than once in the file. The suite's uniqueness rule on the key has
    just counted its repeats (`validation_results`); only a suite without one needs a count here."""
    repeats = con.execute(
        f"SELECT sum(unexpected_count) FROM validation_results WHERE load_id = ? AND expectation IN "
        f"({', '.join(sql_string(r) for r in KEY_RULES)}) AND list_sort(columns) = list_sort(?::VARCHAR[])",
        [load_id, list(contract.key)]).fetchone()[0]
    if repeats is None:
        repeats = con.execute(f"SELECT count(*) FROM (SELECT 1 FROM _typed GROUP BY {', '.join(contract.key)} "
                              f"HAVING count(*) > 1)").fetchone()[0]
    return repeats > 0


def _check_columns(profile: Profile, contract: Contract, source_columns: list[str]) -> None:
    missing = [c.name for c in contract.columns
               if c.required and c.name not in profile.columns and c.name not in source_columns]
    if missing:
        raise FileRejected("required_column", f"required column(s) missing: {', '.join(missing)} "
                           f"(the file has: {', '.join(source_columns) or 'no columns'})", column=missing[0])


def _results_dir(settings: Settings) -> Path:
    return settings.out / "validation_results"


def _forget_kept_results(settings: Settings, load_id: int) -> None:
    for kept in _results_dir(settings).glob(f"load{load_id:06d}-*.json"):
        kept.unlink()


def _keep_result(result_dir: Path, result: FileResult, chunk: int, raw: dict) -> None:
    """Keep the GX result (for Data Docs); unexpected-row lists are cut to a sample."""
    import json

    result_dir.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in _cut(result.file, 200))
    path = result_dir / f"load{result.load_id:06d}-{chunk:03d}__{safe}.json"
    partial = path.with_name(f".{path.name}.partial")  # a kill mid-write leaves no half result
    partial.write_text(json.dumps(compact_result(raw), default=str), encoding="utf-8")
    os.replace(partial, path)


def _cut(name: str, max_bytes: int) -> str:
    """A file name short enough to build another name from (255 bytes is the usual limit)."""
    if len(name.encode("utf-8", "surrogateescape")) <= max_bytes:
        return name
    import hashlib

    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    head = name.encode("utf-8", "surrogateescape")[:max_bytes - 14].decode("utf-8", "ignore")
    return f"{head}~{digest}"


def _validate(con, contract: Contract, result: FileResult, cfg: dict, result_dir: Path) -> dict[int, list[str]]:
    """Every row against the table's suite; returns line -> the rules it broke (uniqueness left out).

    The suite's rules, compiled to DuckDB predicates, judge every row in one pass; Great
    Expectations validates a sample (the file's first `gx_rows` lines and up to as many flagged
    lines) and must find the same broken rules there, or the load stops as a bug. With
    `gx_rows: all`, or a suite the compiler cannot translate, GX validates every row in chunks."""
    types = {c.name: c.type for c in contract.columns}  # _typed holds each column in its contract type
    try:
        rules = compile_suite(contract.table, types)
    except UnsupportedExpectation:
        rules = None
    if rules is None or str(cfg["gx_rows"]) == "all":
        return _validate_in_chunks(con, contract, result, cfg["validation_chunk_rows"], result_dir)
    row_rules = [r for r in rules if r.kind == "row"]
    # The typed rows hold personal columns as read; a pseudonym is missing exactly when its value is,
    # so rules that only test them for missing values count there, without the pseudonym join.
    personal = [sql_ident(c) for c in PERSONAL_COLUMNS]
    counted = "_typed" if any(c in r.fails.replace(f"{c} IS NULL", "") for r in row_rules for c in personal) \
        else "_typed_rows"
    counts = con.execute("SELECT " + ", ".join(f"count(*) FILTER (WHERE {r.fails})" for r in row_rules)
                         + f" FROM {counted}").fetchone()
    cols = ", ".join(sql_ident(c) for c in contract.column_names)
    flags = ", ".join(f"CASE WHEN {r.fails} THEN {i} END" for i, r in enumerate(row_rules))
    reasons: dict[int, list[str]] = {}
    if any(counts):
        flagged = con.execute(f"SELECT source_line, list_filter([{flags}], lambda x: x IS NOT NULL), {cols} "
                              f"FROM _typed WHERE {' OR '.join(r.fails for r in row_rules)} ORDER BY source_line")
        for line, broken, *values in flagged.fetchall():
            row = dict(zip(contract.column_names, values))
            reasons[line] = [row_rules[i].reason(row) for i in broken]
    summary: dict[tuple, list] = {}
    keyed = {r: "_typed" if set(r.columns) & set(PERSONAL_COLUMNS) else "_typed_lean" for r in rules if r.kind == "key"}
    for rule, n in [*zip(row_rules, counts), *((r, _key_unexpected(con, r, keyed[r], result.rows_read))
                                                for r in rules if r.kind == "key"),
                    *((r, 0) for r in rules if r.kind == "table")]:
        entry = summary.setdefault((rule.rule, rule.columns), [True, 0])
        entry[0], entry[1] = entry[0] and n == 0, entry[1] + n
    _gx_sample(con, contract, result, int(cfg["gx_rows"]), sorted(reasons)[:int(cfg["gx_rows"])], reasons, result_dir)
    _record_validation(con, contract, result, summary)
    return reasons


def _key_unexpected(con, rule, relation: str, rows: int) -> int:
    """A uniqueness rule's count of rows whose key repeats, in passes of about KEY_GROUP_ROWS rows."""
    parts = max(1, -(-rows // KEY_GROUP_ROWS))
    return sum(con.execute(key_unexpected_sql(rule, relation, parts, part)).fetchone()[0] for part in range(parts))


def _gx_sample(con, contract: Contract, result: FileResult, first_lines: int, flagged: list[int],
               reasons: dict[int, list[str]], result_dir: Path) -> None:
    """Great Expectations on the file's first lines and on flagged ones: its result is kept (Data
    Docs), and it must agree with the compiled rules on every row it saw."""
    cols = ", ".join(contract.column_names)
    # the first lines as a range of lines, a filter that reaches the scan under the pseudonym join
    last = con.execute(f"SELECT max(source_line) FROM (SELECT source_line FROM _typed_lean ORDER BY source_line "
                       f"LIMIT {first_lines})").fetchone()[0]
    sample = f"SELECT {cols}, source_line FROM _typed WHERE source_line <= {last or 0}"
    if flagged:
        con.execute("CREATE OR REPLACE TEMP TABLE _gx_lines AS SELECT unnest(?::BIGINT[]) AS source_line", [flagged])
        sample += (f" UNION SELECT {cols}, source_line FROM _typed WHERE source_line IN "
                   f"(SELECT source_line FROM _gx_lines)")
    frame = con.execute(f"{sample} ORDER BY source_line").df()
    report = _gx_batch(contract, frame, result, 0, result_dir)
    disagreements = sql_disagreements(report, reasons, [int(n) for n in frame["source_line"]])
    if disagreements:
        raise RuntimeError(f"{result.file}: the compiled rules of suite {contract.table} disagree with Great "
                           f"Expectations (a bug of Esprit; set ingest.gx_rows: all to validate with GX only):\n"
                           + "\n".join(disagreements[:10]))


def _gx_batch(contract: Contract, frame, result: FileResult, chunk: int, result_dir: Path):
    """GX on one batch: its result is kept (Data Docs); a rule on the whole batch broken rejects the file."""
    report = validate_frame(contract.table, frame)
    _keep_result(result_dir, result, chunk, report.raw)
    for failure in report.table_failures:
        raise FileRejected(failure.rule, f"the file breaks {failure.rule} on {', '.join(failure.columns)}",
                           column=",".join(failure.columns))
    return report


def _record_validation(con, contract: Contract, result: FileResult, summary: dict[tuple, list]) -> None:
    """One row per rule of the suite: did the whole file pass it, how many rows broke it."""
    con.executemany("INSERT INTO validation_results VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [[result.load_id, result.file, contract.table, rule, list(columns), ok, n]
                     for (rule, columns), (ok, n) in summary.items()])


def _validate_in_chunks(con, contract: Contract, result: FileResult, chunk_rows: int,
                        result_dir: Path) -> dict[int, list[str]]:
    """GX over every row that parsed, chunk by chunk (bounded memory); returns line -> reasons.

    Rows are taken in key order, so a key's repeats fall in one chunk: the uniqueness rule's
    result (kept) counts them. They are not reasons to quarantine a row: a key repeated within
    a file is a redelivery, counted as duplicate once the last good line wins."""
    cols = ", ".join(contract.column_names)
    total = con.execute("SELECT count(*) FROM _typed").fetchone()[0]
    con.execute(f"CREATE OR REPLACE TEMP TABLE _to_validate AS SELECT *, row_number() OVER "
                f"(ORDER BY {', '.join(contract.key)}, source_line) AS __n FROM _typed")
    reasons: dict[int, list[str]] = {}
    summary: dict[tuple, list] = {}
    with progress(total, f"validating {result.file}", unit="rows", large=total > chunk_rows) as bar:
        for start in range(0, max(total, 1), chunk_rows):
            frame = con.execute(f"SELECT {cols}, source_line FROM _to_validate WHERE __n > ? AND __n <= ? "
                                f"ORDER BY __n", [start, start + chunk_rows]).df()
            if frame.empty and total:
                break
            report = _gx_batch(contract, frame, result, start // chunk_rows, result_dir)
            for line, why in report.row_reasons.items():
                why = [w for w in why if not any(f"rule {rule};" in w or w.endswith(f"rule {rule}") for rule in KEY_RULES)]
                if why:
                    reasons.setdefault(line, []).extend(why)
            for r in report.raw["results"]:
                cfg = r["expectation_config"]
                kwargs = cfg.get("kwargs", {})
                columns = [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)] or \
                    list(kwargs.get("column_list") or kwargs.get("column_set") or [])
                k = (cfg["type"], tuple(columns))
                entry = summary.setdefault(k, [True, 0])
                entry[0] = entry[0] and r["success"]
                entry[1] += int((r.get("result") or {}).get("unexpected_count") or 0)
            bar.update(len(frame))
    _record_validation(con, contract, result, summary)
    return reasons


def _quarantine(con, result: FileResult, profile: Profile, source_columns: list[str], path: Path, facts: dict,
                key: PseudonymKey) -> None:
    # a source column named like a canonical personal column is personal whatever the profile says
    personal = [c for c in source_columns if c in profile.personal_columns or c in PERSONAL_COLUMNS]
    pairs = ", ".join(
        f"{sql_string(c)}, {pseudonym_sql('r.' + sql_ident(c)) if c in personal else scrub_sql('r.' + sql_ident(c))}"
        for c in source_columns)
    record = f"json_object({pairs})::VARCHAR" if pairs else "NULL"
    common = f"{result.load_id}, {sql_string(result.source)}, {sql_string(profile.name)}, {sql_string(profile.table)}, " \
             f"{sql_string(result.file)}"
    if con.execute("SELECT count(*) FROM _typed_lean WHERE len(__reasons) > 0").fetchone()[0]:
        con.execute(f"""
            INSERT INTO quarantine
            SELECT {common}, c.source_line, {record}, c.__reasons
            FROM _typed_lean c JOIN _raw r USING (source_line)
            WHERE len(c.__reasons) > 0
        """)
    _quarantine_unparsed(con, common, profile, source_columns, personal, facts, key)


def _quarantine_unparsed(con, common: str, profile: Profile, source_columns: list[str], personal: list[str],
                         facts: dict, key: PseudonymKey) -> None:
    """Lines that did not parse, split with the file's own dialect: identifiers pseudonymised by
    position or key, and any value equal to a known customer's identifier too; the rest scrubbed."""
    rows = con.execute("SELECT source_line, raw_record, reason FROM _unparsed ORDER BY source_line").fetchall()
    if not rows:
        return
    lines = [split_unparsed(raw or "", profile.format.type, source_columns, personal,
                            facts.get("delimiter") or ",", profile.format.quote) for _, raw, _ in rows]
    candidates = {pseudonym(v, key) for line in lines for _, value, _ in line.values for v in (value, value.strip())}
    known = _known_pseudonyms(con, profile.table, candidates)
    records = [[line_no, unparsed_record(line, key, known, profile.null_markers), reason]
               for (line_no, _, reason), line in zip(rows, lines)]
    con.executemany(f"INSERT INTO quarantine SELECT {common}, ?, ?, [?]", records)


def _known_pseudonyms(con, table: str, candidates: set[str]) -> set[str]:
    """Those of `candidates` that are the pseudonym of a customer of this file or of the warehouse."""
    if not candidates or "customer_ref" not in CONTRACTS[table].column_names:
        return set()
    return {r[0] for r in con.execute(
        f"SELECT customer_ref FROM _typed WHERE customer_ref IN (SELECT unnest($1)) UNION "
        f"SELECT customer_ref FROM {table} WHERE customer_ref IN (SELECT unnest($1))", [sorted(candidates)]).fetchall()}


def _foreign_keys(con, contract: Contract, relation: str, profile: Profile, file_name: str) -> int:
    """_foreign: the good rows of `relation` whose natural key is already loaded under another key
    namespace, each with its reason (rule key_namespace: whose key it is and what to do). Returns
    their number. Natural keys are unique per source system: an SF311 case 511424 is not the CFPB's."""
    keys = contract.key
    shown = " || '/' || ".join(f"i.{sql_ident(k)}::VARCHAR" for k in keys)
    owner = "coalesce(a.key_namespace, a.profile)"
    ns, name = sql_string(profile.namespace), sql_string(profile.name)
    reason = (f"'column {'/'.join(keys)}: rule key_namespace; key ' || {_quote_value(shown)} || ' is already loaded "
              f"from ' || t.source_file || ' line ' || t.source_line || ' under key namespace ' || {owner} || "
              f"', not under this profile''s ' || {ns} || ': row not loaded. Keys belong to one source: if both are "
              f"the same system, give profile ' || {name} || ' key_namespace: ' || {owner} || '; otherwise set "
              f"namespace_keys: true in it, which prefixes its keys and references with ' || {ns} || ': "
              f"(docs/ingestion.md)'")
    on = " AND ".join(f"t.{sql_ident(k)} = i.{sql_ident(k)}" for k in keys)
    drop_relation(con, "_foreign")
    # the loads whose rows the table holds, from one column: only when one of them is of another
    # namespace are the file's keys looked up (usually none is, and no key of the file is read)
    others = con.execute(f"SELECT count(*) FROM (SELECT DISTINCT load_id FROM {contract.table}) t "
                         f"JOIN load_audit a USING (load_id) WHERE {owner} <> ?", [profile.namespace]).fetchone()[0]
    if not others:
        con.execute("CREATE TEMP TABLE _foreign (source_line BIGINT, reason VARCHAR)")
        return 0
    con.execute(f"""
        CREATE TEMP TABLE _foreign AS
        SELECT i.source_line, {reason} AS reason
        FROM {relation} i JOIN {contract.table} t ON {on} JOIN load_audit a ON a.load_id = t.load_id
        WHERE len(i.__reasons) = 0 AND {owner} <> {sql_string(profile.namespace)}
    """)
    return con.execute("SELECT count(*) FROM _foreign").fetchone()[0]


def _upsert(con, contract: Contract, file_name: str, load_id: int, candidates: str = "_candidates",
            incoming: str = "_incoming", lean: str | None = None) -> tuple[int, int]:
    """Insert the good rows of `candidates` (a view of them: `incoming`); a key already present is
    replaced only by a greater (record_version, source_file, source_line). Returns (rows loaded,
    rows duplicate). `lean`: the same rows without their personal columns, cheaper to count (no
    pseudonym join), when the key holds none."""
    table = contract.table
    cols = contract.column_names
    key = " AND ".join(f"t.{k} = i.{k}" for k in contract.key)
    same = " AND ".join(f"t.{c} IS NOT DISTINCT FROM i.{c}" for c in cols)
    drop_relation(con, incoming)
    good = "WHERE __rank = 1 AND len(__reasons) = 0"
    con.execute(f"""
        CREATE TEMP VIEW {incoming} AS
        SELECT {', '.join(cols)}, {sql_string(file_name)} AS source_file, source_line, record_version
        FROM {candidates} {good}
    """)
    insert = (f"INSERT INTO {table} ({', '.join(cols)}, source_file, source_line, record_version, load_id) "
              f"SELECT {', '.join('i.' + c for c in cols)}, i.source_file, i.source_line, i.record_version, {load_id} "
              f"FROM {incoming} i")
    keys = f"(SELECT * FROM {lean} {good})" if lean and not set(contract.key) & set(PERSONAL_COLUMNS) else incoming
    incoming_rows = con.execute(f"SELECT count(*) FROM {keys}").fetchone()[0]
    # A join on the key columns alone finds the incoming keys the table already holds (usually
    # none); only then are their rows compared, a join that reads every column of the table.
    if not con.execute(f"SELECT count(*) FROM {keys} i SEMI JOIN {table} t ON {key}").fetchone()[0]:
        con.execute(insert)
        return incoming_rows, 0
    # The same file name delivered again (a corrected export) wins over its earlier delivery: the
    # later load decides, not the line, which moves when rows are added or removed above it.
    newer = (f"(coalesce(i.record_version, ''), i.source_file, {int(load_id)}, i.source_line) > "
             f"(coalesce(t.record_version, ''), t.source_file, t.load_id, t.source_line)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _clash AS SELECT i.source_line, ({same}) AS same, ({newer}) AS newer "
                f"FROM {incoming} i JOIN {table} t ON {key}")
    duplicates = con.execute("SELECT count(*) FROM _clash WHERE same OR NOT newer").fetchone()[0]
    con.execute(f"DELETE FROM {table} t WHERE EXISTS (SELECT 1 FROM {incoming} i JOIN _clash c USING (source_line) "
                f"WHERE c.newer AND {key})")
    con.execute(f"{insert} ANTI JOIN (SELECT source_line FROM _clash WHERE NOT newer) c USING (source_line)")
    return incoming_rows - duplicates, duplicates


def _derive(con, profile: Profile, file_name: str, load_id: int) -> int:
    """Tables a profile builds from the rows it loaded (e.g. cases from a case history)."""
    total = 0
    for derived in profile.derive:
        contract = CONTRACTS[derived.table]
        con.execute("CREATE OR REPLACE TEMP VIEW batch AS SELECT * FROM _incoming")
        con.execute("CREATE OR REPLACE TEMP VIEW raw AS SELECT * FROM _raw")
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _derived AS SELECT d.*, NULL::VARCHAR AS record_version, "
                        f"row_number() OVER () AS source_line, []::VARCHAR[] AS __reasons, 1 AS __rank "
                        f"FROM ({derived.sql}) d")
        except MACHINE_ERRORS:
            raise
        except duckdb.Error as exc:
            raise FileRejected("profile_expression", f"profile {profile.name}: derive {derived.table} failed: "
                               f"{str(exc).splitlines()[0]}") from exc
        sets = [f"{c} = {pseudonym_sql(c)}" for c in PERSONAL_COLUMNS if c in contract.column_names]
        if sets:
            con.execute(f"UPDATE _derived SET {', '.join(sets)}")
        if _foreign_keys(con, contract, "_derived", profile, file_name):
            (why,) = con.execute("SELECT reason FROM _foreign LIMIT 1").fetchone()
            raise FileRejected("key_namespace", f"derive {derived.table}: {why}", column=",".join(contract.key))
        loaded, _ = _upsert(con, contract, file_name, load_id, "_derived", "_derived_incoming")
        total += loaded
    return total


def _reject(settings: Settings, result: FileResult, path: Path, keep: bool = False) -> None:
    folder = settings.rejected / result.source
    folder.mkdir(parents=True, exist_ok=True)
    report = folder / f"{_cut(path.name, 230)}.report.txt"
    report.write_text(
        f"file {result.file} (source {result.source}, profile {result.profile}, table {result.table}) was rejected; "
        f"none of its {result.rows_read} rows were loaded.\n\n" + "\n".join(result.problems) + "\n", encoding="utf-8")
    # A file in the landing zone moves out of it; a file loaded from elsewhere (esprit ingest
    # PATH) is copied, never taken from where its owner keeps it.
    if not keep and settings.landing.resolve() in path.resolve().parents:
        shutil.move(str(path), str(folder / path.name))
    else:
        shutil.copy2(path, folder / path.name)


def _audit(con, result: FileResult, digest: str, started: datetime, size: int | None, stat: os.stat_result,
           profile: Profile | None, restate_all: bool) -> None:
    con.execute(
        "INSERT INTO load_audit (load_id, source, profile, table_name, file_name, file_sha256, status, rows_read, "
        "rows_loaded, rows_quarantined, rows_duplicate, rows_rejected, derived_rows, transcoded_lines, bytes, weeks, "
        "started_at, finished_at, report, file_bytes, file_mtime_ns, key_namespace, restate_all, profile_sha256) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [result.load_id, result.source, result.profile, result.table, result.file, digest, result.status,
         result.rows_read, result.rows_loaded, result.rows_quarantined, result.rows_duplicate, result.rows_rejected,
         result.derived_rows, result.transcoded_lines, size, result.weeks, started, datetime.now(timezone.utc),
         "\n".join(result.problems) or None, stat.st_size, stat.st_mtime_ns,
         profile.namespace if profile else None, bool(restate_all), profile.digest if profile else None])


# ---- many files ------------------------------------------------------------------------------

def ingest_paths(settings: Settings, source: str | None, paths: list[Path], profile: Profile | None = None,
                 reload: bool = False) -> list[FileResult]:
    """Load files one transaction each; `profile` overrides the source's profile bindings.
    `reload`: files loaded before, loaded again in place of their earlier loads (their source is
    the one they were loaded for; see ingest_file)."""
    key = resolve_key()
    results = []
    con = connect(settings.warehouse)
    try:
        ensure_schema(con)
        _add_new_contract_columns(con)
        define_macros(con, settings.week_timezone)
        set_plausible_window(con, settings)
        # DuckDB spills the file's working tables to disk beyond this: memory stays flat as files grow
        con.execute("SET memory_limit = ?", [str(settings.ingest["memory_limit"])])
        check_key(con, key)
        set_key(con, key)
        for path in paths:
            t0 = time.perf_counter()
            chosen = profile or (None if reload else profile_for(settings, source, path))
            con.execute("BEGIN TRANSACTION")
            try:
                result = ingest_file(con, settings, source or "", path, chosen, key, reload=reload)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            result.seconds = round(time.perf_counter() - t0, 3)
            results.append(result)
    finally:
        con.close()
    return results


def stale_loads(settings: Settings, profile: Profile | None = None) -> tuple[dict[str, list[Path]], list[str]]:
    """Loads in force whose profile says something else now than when they ran: {profile name:
    their files in the landing folder}, and what cannot be reloaded (file gone or changed,
    profile not found in profiles/). `profile`: only its loads, judged against it (a profile kept
    elsewhere). Loads made before profiles were recorded are not judged."""
    from pipelines.profiles import ProfileError

    con = connect(settings.warehouse, read_only=True)
    try:
        recorded = con.execute("SELECT count(*) FROM duckdb_columns() WHERE table_name = 'load_audit' "
                                         "AND column_name = 'profile_sha256'").fetchone()[0]
        loads = con.execute("SELECT load_id, source, profile, file_name, file_sha256, profile_sha256 FROM load_audit "
                            "WHERE status = 'loaded' AND profile_sha256 IS NOT NULL ORDER BY load_id"
                            ).fetchall() if recorded else []
    finally:
        con.close()
    stale: dict[str, list[Path]] = {}
    unable: list[str] = []
    for load_id, source, name, file_name, digest, said in loads:
        if profile is not None and name != profile.name:
            continue
        try:
            now = (profile or load_profile(name)).digest
        except ProfileError:
            unable.append(f"{file_name} (load {load_id}): profile {name} not found")
            continue
        if now == said:
            continue
        path = settings.landing / source / file_name
        if path.is_file() and sha256_of(path) == digest:
            stale.setdefault(name, []).append(path)
        else:
            unable.append(f"{file_name} (load {load_id}, profile {name} changed): the file is no longer in "
                          f"{source}/ as loaded")
    return stale, unable


def _add_new_contract_columns(con) -> None:
    """A warehouse made before an optional column joined its contract gets it (as NULL)."""
    for contract in CONTRACTS.values():
        for col in contract.columns:
            con.execute(f"ALTER TABLE {contract.table} ADD COLUMN IF NOT EXISTS {sql_ident(col.name)} {col.type}")


def ingest_source(settings: Settings, source: str, fail_on_reject: bool = True) -> list[FileResult]:
    """Load every new file of one source's landing folder.

    Raises IngestError after the good files are loaded if any file was rejected (unless
    `fail_on_reject` is false), so that a scheduler marks the load failed, loudly.
    """
    results = ingest_paths(settings, source, landing_files(settings, source))
    rejected = [r for r in results if r.status == "rejected"]
    if rejected and fail_on_reject:
        lines = [p for r in rejected for p in r.problems]
        raise IngestError(f"{len(rejected)} file(s) of source '{source}' rejected:\n" + "\n".join(lines))
    return results
