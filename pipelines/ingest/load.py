"""Loading: each file in one transaction, from reading to the audit row (the steps are listed in
`pipelines/ingest/__init__.py`); quarantine, upsert, derived tables, rejection and reloads."""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.config import Settings
from pipelines.console import progress, shown_name
from pipelines.contracts import CONTRACTS, Contract
from pipelines.ingest import gate
from pipelines.ingest.files import (
    cut_name,
    keep_private,
    landing_files,
    profile_for,
    purge_rejected,
    refused_entry,
    rejected_folder,
    write_private,
)
from pipelines.ingest.privacy import (
    PseudonymKey,
    check_key,
    masked_message,
    pseudonym_sql,
    register_scrubber,
    resolve_key,
    scrub,
    scrub_regions,
    set_key,
    shown_value,
    split_unparsed,
    unparsed_record,
)
from pipelines.ingest.profiles import Profile, load_profile
from pipelines.ingest.readers import (
    direct_read_complete,
    drop_raw,
    first_record_line,
    make_workdir,
    read_raw,
    remove_stale_workdirs,
    scan,
    scan_bytes,
    sha256_of,
)
from pipelines.ingest.results import MACHINE_ERRORS, FileRejected, FileResult, IngestError
from pipelines.ingest.typing_sql import (
    PERSONAL_COLUMNS,
    check_columns,
    explain_expressions,
    mapped_source_columns,
    quote_value,
    scrub_sql,
    set_plausible_window,
    timestamp_hints,
    type_rows,
    typed_views,
)
from pipelines.ingest.validation import warm_up as warm_up_validation
from pipelines.sqltext import sql_ident, sql_string
from pipelines.warehouse import connect, define_macros, drop_relation, ensure_schema, gx_sample_table

PROGRESS_MIN_BYTES = 16 << 20  # a file this large shows a progress bar while it is read


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    source: str,
    path: Path,
    profile: Profile | None,
    key: PseudonymKey,
    reload: bool = False,
    after_commit: list | None = None,
) -> FileResult:
    """Load one file in the caller's transaction. `reload`: the file was loaded before (same
    content): its earlier loads' rows are retracted and it is loaded again, with its profile as it
    is now; the weeks both touch are the load's weeks, and when a retracted key does not come back
    the load asks the next build to recompute everything (`restate_all`). `after_commit` receives
    what must wait for the caller's commit (setting a rejected file aside), so that a stop before
    the commit leaves the file where it was, to be judged again."""
    after_commit = [] if after_commit is None else after_commit
    started = datetime.now(UTC)
    name = shown_name(path.name)  # the name as text: audit, lineage, quarantine, reports
    result = FileResult(source, name, profile.table if profile else None, profile.name if profile else None, "skipped")
    refused = refused_entry(settings, path)
    if refused is not None:  # never opened: rejected as it lies
        result.load_id = con.execute("SELECT nextval('load_id_seq')").fetchone()[0]
        result.status = "rejected"
        result.problems = [f"{name}: line 1, column -: rule {refused.rule}: {refused}"]
        _write_rejection_report(settings, result, path)
        after_commit.append(lambda: _set_aside(settings, result.source, path, keep=reload, copy=False))
        _audit(con, result, "", started, None, path.lstat(), profile, False)
        return result
    stat = path.stat()
    size = stat.st_size
    # A file still in the landing folder since it was loaded (same name, size and modification
    # time) is not read again: a weekly run would otherwise hash the whole history every time.
    # A reload reads it whatever the audit says.
    unchanged = (
        None
        if reload
        else con.execute(
            "SELECT max(load_id) FROM load_audit WHERE status = 'loaded' AND file_name = ? AND file_bytes = ? "
            "AND file_mtime_ns = ?",
            [name, size, stat.st_mtime_ns],
        ).fetchone()[0]
    )
    if unchanged is not None:
        result.reason = f"unchanged since load {unchanged} (same name, size and modification time)"
        return result
    # recorded as rejected, still in the landing folder: a stop came between the commit and the move
    rejected = (
        None
        if reload or not _in_landing(settings, path)
        else con.execute(
            "SELECT max(load_id) FROM load_audit WHERE status = 'rejected' AND source = ? AND file_name = ? "
            "AND file_bytes = ? AND file_mtime_ns = ?",
            [source, name, size, stat.st_mtime_ns],
        ).fetchone()[0]
    )
    if rejected is not None:
        result.reason = f"rejected as load {rejected} (see its report in rejected/{source}/): set aside now"
        after_commit.append(lambda: _set_aside(settings, source, path))
        return result
    try:
        with progress(scan_bytes(path), f"reading {name}", large=size >= PROGRESS_MIN_BYTES) as bar:
            scanned = scan(path, bar.update, settings.ingest)
    except FileRejected as exc:
        scanned = None
        digest = sha256_of(path)
        problem = exc
    else:
        digest, problem = scanned.sha256, None
    done = con.execute(
        "SELECT load_id, file_name, source, weeks FROM load_audit WHERE file_sha256 = ? "
        "AND status = 'loaded' ORDER BY load_id",
        [digest],
    ).fetchall()
    if done and not reload:
        load_id, file_name = done[-1][:2]
        result.reason = (
            f"same content as {file_name}, loaded as load {load_id} (SHA-256 {digest[:12]}...): "
            f"to apply a corrected profile to it, esprit reload"
        )
        return result
    if not reload and profile is not None and profile.redelivery == "replace":
        # the profile says a delivery under a name already loaded is the whole truth for it
        result.replaces = [
            r[0]
            for r in con.execute(
                "SELECT load_id FROM load_audit WHERE status = 'loaded' AND source = ? AND file_name = ? "
                "ORDER BY load_id",
                [source, name],
            ).fetchall()
        ]
    if reload:
        if not done:
            result.reason = "no load of this content to replace: a new file is loaded by esprit ingest"
            return result
        # the source it was loaded for; the profile bound to that source now, unless one is given
        source = result.source = done[-1][2]
        profile = profile or profile_for(settings, source, path)
        result.table, result.profile = (profile.table, profile.name) if profile else (None, None)
        result.replaces = [r[0] for r in done]
    # this file will be read and GX validates every row of it here: GX's imports (a thread, mostly
    # under the GIL) overlap DuckDB reading it, which releases the GIL; not the scan above, which
    # holds it. Otherwise GX checks a sample later, in another step (gate, gx_check).
    if str(settings.ingest["gx_rows"]) == "all":
        warm_up_validation()
    result.load_id = con.execute("SELECT nextval('load_id_seq')").fetchone()[0]
    workdir = make_workdir(settings.temp_dir)
    restate_all = False
    try:
        if problem is not None:
            raise problem
        if profile is None:
            raise FileRejected(
                "profile", f"no profile of source '{source}' matches this file name (settings: sources.{source})"
            )
        old_weeks = _retract(con, result.replaces) if result.replaces else None
        _load_rows(con, settings, source, path, scanned, profile, key, result, workdir)
        result.status = "loaded"
        if old_weeks is not None:
            result.weeks = sorted(set(result.weeks) | set(old_weeks))
            restate_all = _retracted_keys_gone(con)
            con.execute(
                f"UPDATE load_audit SET status = 'replaced', replaced_by = {result.load_id} "
                f"WHERE load_id IN ({', '.join(map(str, result.replaces))})"
            )
    except FileRejected as exc:
        result.status = "rejected"
        result.rows_rejected = result.rows_read
        result.rows_loaded = result.rows_quarantined = result.rows_duplicate = result.derived_rows = 0
        result.problems.insert(0, f"{name}: line {exc.line}, column {exc.column}: rule {exc.rule}: {exc}")
        # Undo all the file wrote (rows upserted before a derive failed, quarantine, results):
        # only its audit row remains. The caller opened this transaction; load ids survive it.
        con.execute("ROLLBACK")
        con.execute("BEGIN TRANSACTION")
        gate.forget_kept_results(settings, result.load_id)
        _write_rejection_report(settings, result, path)
        # once the rejection is recorded; a reload refused leaves the loaded file where it is
        after_commit.append(lambda: _set_aside(settings, result.source, path, keep=reload))
    except BaseException:
        gate.forget_kept_results(settings, result.load_id)  # the caller rolls the load back
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    _audit(con, result, digest, started, scanned.size if scanned else None, stat, profile, restate_all)
    return result


def _load_rows(con, settings, source, path, scanned, profile: Profile, key, result: FileResult, workdir: Path) -> None:
    contract = CONTRACTS[profile.table]
    cfg = settings.ingest
    con.execute(f"SET TimeZone = {sql_string(profile.timezone)}")
    # A plain CSV file is typed straight from DuckDB's reader, its text never stored: row ids of
    # the typed rows number its records. A profile that derives tables from the file's text or
    # reads neighbouring rows (window) needs the text numbered first.
    direct = not profile.derive and not profile.window
    reading = read_raw(con, path, scanned, profile, workdir, direct=direct)
    source_columns = reading["columns"]
    result.transcoded_lines = reading["transcoded_lines"]
    if reading["numbered"]:  # a rejected file reports the rows it read
        result.rows_read = _rows_read(con)
    try:
        check_columns(profile, contract, source_columns)
        parsed = type_rows(con, profile, contract, source_columns, cfg["max_field_bytes"], path.name)
    except FileRejected as exc:

        def reread() -> None:  # the failed pass's transaction is aborted: read the file again, numbered
            con.execute("ROLLBACK")
            con.execute("BEGIN TRANSACTION")
            read_raw(con, path, scanned, profile, workdir, again=reading)

        if exc.rule == "profile_expression":  # which of the profile's expressions fail, each alone
            exc = explain_expressions(con, profile, source_columns, exc, reread, path.name)
            result.rows_read = _rows_read(con)
        elif not reading["numbered"]:  # counted on a numbered read, after the failed pass's transaction
            reread()
            result.rows_read = _rows_read(con)
        raise exc
    if not reading["numbered"] and not direct_read_complete(con, scanned, profile, parsed):
        reading = read_raw(
            con, path, scanned, profile, workdir, again=reading
        )  # rejected records or extra lines: placed there
        parsed = type_rows(con, profile, contract, source_columns, cfg["max_field_bytes"], path.name)
    unparsed = con.execute("SELECT count(*) FROM _unparsed").fetchone()[0]
    result.rows_read = parsed + unparsed
    if reading["numbered"]:
        line = "t.source_line"
    else:  # row ids count from where the table's rows start (inside a transaction, far from 0)
        start = con.execute("SELECT coalesce(min(rowid), 0) FROM _typed_rows").fetchone()[0]
        line = f"(t.rowid - {start} + {first_record_line(profile)})"
    typed_views(con, contract, line)
    # GX sees every row, before the in-file dedup and also rows with a value that did not
    # convert, so that each row's reasons list every rule it broke.
    row_reasons = gate.validate_rows(con, contract, result, cfg, gate.results_dir(settings))
    if row_reasons:
        if line != "t.source_line":  # DuckDB updates a list by moving its row: numbers from row ids first
            con.execute(f"UPDATE _typed_rows t SET source_line = {line}")
            line = "t.source_line"
            typed_views(con, contract, line, pseudonyms=False)
        con.execute("CREATE OR REPLACE TEMP TABLE _gx_reasons (source_line BIGINT, reasons VARCHAR[])")
        con.executemany("INSERT INTO _gx_reasons VALUES (?, ?)", [[k, v] for k, v in row_reasons.items()])
        # a column whose value did not convert is NULL in the batch: its GX rules (not null,
        # ...) would blame a NULL the source does not hold; the type reason already names it
        con.execute(f"""
            UPDATE _typed_rows t SET __reasons = list_concat(t.__reasons, list_filter(g.reasons, lambda r: NOT list_has_all(
                t.__failed, string_split(regexp_extract(r, '^column ([^:]+):', 1), '/'))))
            FROM _gx_reasons g WHERE g.source_line = {line}
        """)
    # rows whose key another namespace owns, and events before their case opened: quarantined
    crossed = [
        table
        for table, count in (
            ("_foreign", _foreign_keys(con, contract, "_typed_lean", profile, result.file)),
            ("_early", _events_before_their_case(con, contract, "_typed_lean")),
        )
        if count
    ]
    if crossed and line != "t.source_line":
        con.execute(f"UPDATE _typed_rows t SET source_line = {line}")
        line = "t.source_line"
        typed_views(con, contract, line, pseudonyms=False)
    for table in crossed:
        con.execute(
            f"UPDATE _typed_rows t SET __reasons = list_append(t.__reasons, f.reason) FROM {table} f "
            "WHERE f.source_line = t.source_line"
        )
    # a key repeated within the file: the last good line wins, earlier good lines count as duplicates
    key_cols = ", ".join(contract.key)
    key_null = " OR ".join(f"{k} IS NULL" for k in contract.key)
    drop_relation(con, "_candidates")
    drop_relation(con, "_candidates_lean")
    if gate.key_repeated(con, contract, result.load_id):  # the window sorts the file: only when needed
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
        examples = [
            f"{result.file}: line {line}: {'; '.join(reasons)}"
            for line, reasons in con.execute(
                "SELECT source_line, [reason] FROM _unparsed UNION ALL "
                "SELECT source_line, __reasons FROM _typed_lean WHERE len(__reasons) > 0 ORDER BY 1 LIMIT 20"
            ).fetchall()
        ]
        result.problems += timestamp_hints(con, profile, contract) + examples
        raise FileRejected(
            "max_bad_row_share",
            f"{bad} of {result.rows_read} rows ({share:.1%}) break a rule, "
            f"above the threshold of {cfg['max_bad_row_share']:.0%}",
        )
    if bad_parsed and not reading["numbered"]:  # their text is quarantined: read it again, numbered
        read_raw(con, path, scanned, profile, workdir, again=reading)
    _quarantine(con, result, profile, source_columns, path, reading, key)
    result.rows_quarantined = bad
    if not profile.derive:  # nothing reads the file's text any more: its memory goes to the upsert
        drop_relation(con, "_mapped")
        drop_raw(con)
    loaded, duplicates = _upsert(con, contract, result.file, result.load_id, lean="_candidates_lean")
    result.rows_loaded = loaded
    result.rows_duplicate = duplicates + in_file_duplicates
    result.derived_rows = _derive(con, profile, result.file, result.load_id)
    wrote_cases = contract.table == "cases" or any(d.table == "cases" for d in profile.derive)
    early_weeks = _quarantine_events_before_their_case(con, result.load_id) if wrote_cases else []
    week_col = contract.event_time
    # named once per quarter of an hour, not once per row: every UTC offset is a multiple of 15
    # minutes, so no quarter of an hour holds two local weeks
    result.weeks = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT iso_week(to_timestamp(q // 1000000)) AS w "
            f"FROM (SELECT DISTINCT us - (us % 900000000 + 900000000) % 900000000 AS q "
            f"FROM (SELECT epoch_us({week_col}) AS us FROM _candidates_lean WHERE __rank = 1 AND len(__reasons) = 0 "
            f"AND {week_col} IS NOT NULL)) ORDER BY w"
        ).fetchall()
    ]
    result.weeks = sorted(set(result.weeks) | set(early_weeks))
    result.problems += [
        f"{result.file}: line {line}: {'; '.join(reasons)}"
        for line, reasons in con.execute(
            "SELECT source_line, reasons FROM quarantine WHERE load_id = ? ORDER BY source_line LIMIT 20",
            [result.load_id],
        ).fetchall()
    ]
    assert result.rows_read == result.rows_loaded + result.rows_quarantined + result.rows_duplicate, result


def _retract(con, load_ids: list[int]) -> list[str]:
    """A reload takes back what its file's earlier loads wrote (rows still theirs, quarantined
    rows); returns the weeks those loads listed. The retracted keys are kept in _retracted."""
    ids = ", ".join(str(int(i)) for i in load_ids)
    drop_relation(con, "_retracted")
    con.execute("CREATE TEMP TABLE _retracted (table_name VARCHAR, key VARCHAR[])")
    for contract in CONTRACTS.values():
        keys = ", ".join(f"{sql_ident(k)}::VARCHAR" for k in contract.key)
        con.execute(
            f"INSERT INTO _retracted SELECT {sql_string(contract.table)}, [{keys}] FROM {contract.table} "
            f"WHERE load_id IN ({ids})"
        )
        con.execute(f"DELETE FROM {contract.table} WHERE load_id IN ({ids})")
    con.execute(f"DELETE FROM quarantine WHERE load_id IN ({ids})")
    return [
        w
        for (weeks,) in con.execute(f"SELECT weeks FROM load_audit WHERE load_id IN ({ids})").fetchall()
        for w in weeks or []
    ]


def _retracted_keys_gone(con) -> bool:
    """Whether a key a reload retracted is in its table no more: no incremental build can find
    the rows built from it (its slices start from the loaded rows), so the next build is full."""
    for contract in CONTRACTS.values():
        keys = ", ".join(f"{sql_ident(k)}::VARCHAR" for k in contract.key)
        if con.execute(
            f"SELECT count(*) FROM _retracted WHERE table_name = {sql_string(contract.table)} "
            f"AND key NOT IN (SELECT [{keys}] FROM {contract.table})"
        ).fetchone()[0]:
            return True
    return False


def _rows_read(con) -> int:
    return con.execute("SELECT (SELECT count(*) FROM _raw) + (SELECT count(*) FROM _unparsed)").fetchone()[0]


def _quarantine(
    con, result: FileResult, profile: Profile, source_columns: list[str], path: Path, reading: dict, key: PseudonymKey
) -> None:
    # a source column named like a canonical personal column is personal whatever the profile says
    personal = [c for c in source_columns if c in profile.personal_columns or c in PERSONAL_COLUMNS]
    # the row as the profile maps it, no more: a column it does not map (a narrative) is not kept
    contract = CONTRACTS[profile.table]
    pairs = ", ".join(
        f"{sql_string(c)}, "
        + (
            pseudonym_sql(f"m.{sql_ident('__m_' + c)}::VARCHAR")
            if c in PERSONAL_COLUMNS
            else scrub_sql(f"m.{sql_ident('__m_' + c)}::VARCHAR")
        )
        for c in contract.column_names
    )
    common = (
        f"{result.load_id}, {sql_string(result.source)}, {sql_string(profile.name)}, {sql_string(profile.table)}, "
        f"{sql_string(result.file)}"
    )
    if con.execute("SELECT count(*) FROM _typed_lean WHERE len(__reasons) > 0").fetchone()[0]:
        con.execute(f"""
            INSERT INTO quarantine
            SELECT {common}, c.source_line, json_object({pairs})::VARCHAR, c.__reasons
            FROM _typed_lean c JOIN _mapped m USING (source_line)
            WHERE len(c.__reasons) > 0
        """)
    _quarantine_unparsed(con, common, profile, source_columns, personal, reading, key)


def _quarantine_unparsed(
    con, common: str, profile: Profile, source_columns: list[str], personal: list[str], reading: dict, key: PseudonymKey
) -> None:
    """Lines that did not parse, split with the file's own dialect: identifiers pseudonymised by
    position or key, values no column can be told for pseudonymised, unmapped columns left out,
    the rest scrubbed (`unparsed_record`)."""
    rows = con.execute("SELECT source_line, raw_record, reason FROM _unparsed ORDER BY source_line").fetchall()
    if not rows:
        return
    contract = CONTRACTS[profile.table]
    mapped = mapped_source_columns(profile, contract, source_columns)
    columns = {c: c in mapped for c in source_columns}
    plain = frozenset(v.lower() for c in contract.columns for v in c.allowed or ())
    regions = scrub_regions(con)
    records = [
        [
            line_no,
            unparsed_record(
                split_unparsed(
                    raw or "",
                    profile.format.type,
                    source_columns,
                    personal,
                    reading.get("delimiter") or ",",
                    profile.format.quote,
                    frozenset(c for c in source_columns if c not in mapped and c not in personal),
                ),
                key,
                columns,
                profile.null_markers,
                regions,
                plain,
            ),
            reason,
        ]
        for line_no, raw, reason in rows
    ]
    con.executemany(f"INSERT INTO quarantine SELECT {common}, ?, ?, [?]", records)


def _foreign_keys(con, contract: Contract, relation: str, profile: Profile, file_name: str) -> int:
    """_foreign: the good rows of `relation` whose natural key is already loaded under another key
    namespace, each with its reason (rule key_namespace: whose key it is and what to do). Returns
    their number. Natural keys are unique per source system: an SF311 case 511424 is not the CFPB's."""
    keys = contract.key
    shown = " || '/' || ".join(f"i.{sql_ident(k)}::VARCHAR" for k in keys)
    owner = "coalesce(a.key_namespace, a.profile)"
    ns, name = sql_string(profile.namespace), sql_string(profile.name)
    reason = (
        f"'column {'/'.join(keys)}: rule key_namespace; key ' || {quote_value(shown)} || ' is already loaded "
        f"from ' || t.source_file || ' line ' || t.source_line || ' under key namespace ' || {owner} || "
        f"', not under this profile''s ' || {ns} || ': row not loaded. Keys belong to one source: if both are "
        f"the same system, give profile ' || {name} || ' key_namespace: ' || {owner} || '; otherwise set "
        f"namespace_keys: true in it, which prefixes its keys and references with ' || {ns} || ': "
        f"(docs/ingestion.md)'"
    )
    on = " AND ".join(f"t.{sql_ident(k)} = i.{sql_ident(k)}" for k in keys)
    drop_relation(con, "_foreign")
    # the loads whose rows the table holds, from one column: only when one of them is of another
    # namespace are the file's keys looked up (usually none is, and no key of the file is read)
    others = con.execute(
        f"SELECT count(*) FROM (SELECT DISTINCT load_id FROM {contract.table}) t "
        f"JOIN load_audit a USING (load_id) WHERE {owner} <> ?",
        [profile.namespace],
    ).fetchone()[0]
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


def _early_reason(event: str, case: str) -> str:
    """SQL: why an event (alias `event`) before its case's opening (alias `case`) is not loaded; the
    same words in either load order."""

    def shown(moment: str) -> str:
        return f"strftime({moment} AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S UTC')"

    return (
        f"'column event_at: rule event_before_case_opened; value ' || {quote_value(shown(f'{event}.event_at'))} "
        f"|| ' is before its case''s opened_at ' || {shown(f'{case}.opened_at')} || ' (' || {case}.source_file || "
        f"' line ' || {case}.source_line || '): the event is not loaded. Check both exports'' timestamps and "
        f"timezones, then esprit reload the file that was wrong'"
    )


def _events_before_their_case(con, contract: Contract, relation: str) -> int:
    """_early: the good case events of `relation` that happened before their case, as loaded, was
    opened, each with its reason (rule event_before_case_opened). Returns their number."""
    drop_relation(con, "_early")
    if contract.table != "case_events":
        return 0
    con.execute(f"""
        CREATE TEMP TABLE _early AS
        SELECT e.source_line, {_early_reason("e", "c")} AS reason
        FROM {relation} e JOIN cases c USING (case_id)
        WHERE len(e.__reasons) = 0 AND e.event_at < c.opened_at
    """)
    return con.execute("SELECT count(*) FROM _early").fetchone()[0]


def _quarantine_events_before_their_case(con, load_id: int) -> list[str]:
    """Case events already loaded that happened before their case, as this load has it, was opened:
    moved to quarantine under the load that brought them (whose audit counts follow), so that any
    load order gives the same tables. Returns the weeks they counted in."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _early_loaded AS
        SELECT e.rowid AS row_id, e.load_id, e.source_file, e.source_line, {_early_reason("e", "c")} AS reason,
               to_json({{{", ".join(f"{sql_string(c)}: e.{sql_ident(c)}" for c in CONTRACTS["case_events"].column_names)}}})::VARCHAR
                   AS record,
               iso_week(e.event_at) AS week
        FROM case_events e JOIN cases c USING (case_id)
        WHERE c.load_id = ? AND e.event_at < c.opened_at
    """,
        [load_id],
    )
    if not con.execute("SELECT count(*) FROM _early_loaded").fetchone()[0]:
        return []
    con.execute("""
        INSERT INTO quarantine
        SELECT x.load_id, a.source, a.profile, 'case_events', x.source_file, x.source_line, x.record, [x.reason]
        FROM _early_loaded x JOIN load_audit a USING (load_id)
    """)
    con.execute("DELETE FROM case_events WHERE rowid IN (SELECT row_id FROM _early_loaded)")
    con.execute("""
        UPDATE load_audit a SET rows_loaded = a.rows_loaded - n.moved, rows_quarantined = a.rows_quarantined + n.moved
        FROM (SELECT load_id, count(*) AS moved FROM _early_loaded GROUP BY load_id) n WHERE a.load_id = n.load_id
    """)
    return [w for (w,) in con.execute("SELECT DISTINCT week FROM _early_loaded ORDER BY 1").fetchall()]


def _upsert(
    con,
    contract: Contract,
    file_name: str,
    load_id: int,
    candidates: str = "_candidates",
    incoming: str = "_incoming",
    lean: str | None = None,
) -> tuple[int, int]:
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
        SELECT {", ".join(cols)}, {sql_string(file_name)} AS source_file, source_line, record_version
        FROM {candidates} {good}
    """)
    insert = (
        f"INSERT INTO {table} ({', '.join(cols)}, source_file, source_line, record_version, load_id) "
        f"SELECT {', '.join('i.' + c for c in cols)}, i.source_file, i.source_line, i.record_version, {load_id} "
        f"FROM {incoming} i"
    )
    keys = f"(SELECT * FROM {lean} {good})" if lean and not set(contract.key) & set(PERSONAL_COLUMNS) else incoming
    incoming_rows = con.execute(f"SELECT count(*) FROM {keys}").fetchone()[0]
    # A join on the key columns alone finds the incoming keys the table already holds (usually
    # none); only then are their rows compared, a join that reads every column of the table.
    if not con.execute(f"SELECT count(*) FROM {keys} i SEMI JOIN {table} t ON {key}").fetchone()[0]:
        con.execute(insert)
        return incoming_rows, 0
    # The same file name delivered again (a corrected export) wins over its earlier delivery: the
    # later load decides, not the line, which moves when rows are added or removed above it.
    newer = (
        f"(coalesce(i.record_version, ''), i.source_file, {int(load_id)}, i.source_line) > "
        f"(coalesce(t.record_version, ''), t.source_file, t.load_id, t.source_line)"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _clash AS SELECT i.source_line, ({same}) AS same, ({newer}) AS newer "
        f"FROM {incoming} i JOIN {table} t ON {key}"
    )
    duplicates = con.execute("SELECT count(*) FROM _clash WHERE same OR NOT newer").fetchone()[0]
    con.execute(
        f"DELETE FROM {table} t WHERE EXISTS (SELECT 1 FROM {incoming} i JOIN _clash c USING (source_line) "
        f"WHERE c.newer AND {key})"
    )
    con.execute(f"{insert} ANTI JOIN (SELECT source_line FROM _clash WHERE NOT newer) c USING (source_line)")
    return incoming_rows - duplicates, duplicates


def _derive(con, profile: Profile, file_name: str, load_id: int) -> int:
    """Tables a profile builds from the rows it loaded (e.g. cases from a case history)."""
    total = 0
    for derived in profile.derive:
        contract = CONTRACTS[derived.table]
        con.execute("CREATE OR REPLACE TEMP VIEW batch AS SELECT * FROM _incoming")
        con.execute("CREATE OR REPLACE TEMP VIEW raw AS SELECT * FROM _raw")
        if derived.unpivot:
            _check_answers(con, profile, derived.unpivot)
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _derived AS SELECT d.*, NULL::VARCHAR AS record_version, "
                f"row_number() OVER () AS source_line, []::VARCHAR[] AS __reasons, 1 AS __rank "
                f"FROM ({derived.sql}) d"
            )
        except MACHINE_ERRORS:
            raise
        except duckdb.Error as exc:
            raise FileRejected(
                "profile_expression",
                f"profile {profile.name}: derive {derived.table} failed: {masked_message(str(exc).splitlines()[0])}",
            ) from exc
        _check_derived(con, contract, profile)
        sets = [f"{c} = {pseudonym_sql(c)}" for c in PERSONAL_COLUMNS if c in contract.column_names]
        if sets:
            con.execute(f"UPDATE _derived SET {', '.join(sets)}")
        if _foreign_keys(con, contract, "_derived", profile, file_name):
            (why,) = con.execute("SELECT reason FROM _foreign LIMIT 1").fetchone()
            raise FileRejected("key_namespace", f"derive {derived.table}: {why}", column=",".join(contract.key))
        loaded, _ = _upsert(con, contract, file_name, load_id, "_derived", "_derived_incoming")
        total += loaded
    return total


def _check_answers(con, profile: Profile, spec) -> None:
    """Every answer an `unpivot` reads is a whole number on its scale or a not-applicable code: one
    that is neither (a shifted column, a scale the profile misstates) rejects the file, naming
    where the first is, rather than loading an answer nobody can read."""
    from pipelines.ingest.profiles import unpivot_answers, whole_number_sql

    off = (
        f"SELECT source_line, question, answer FROM ({unpivot_answers(spec, list(profile.null_markers))}) "
        f"SEMI JOIN batch USING (source_line) WHERE answer NOT IN ({', '.join(map(sql_string, spec.not_applicable)) or 'NULL'}) "
        f"AND coalesce({whole_number_sql('answer')} NOT BETWEEN {spec.low} AND {spec.high}, true)"
    )
    count, line, question, answer = con.execute(
        f"SELECT count(*), min(source_line), arg_min(question, source_line), arg_min(answer, source_line) FROM ({off})"
    ).fetchone()
    if count:
        column = spec.questions[question]
        raise FileRejected(
            "answer_scale",
            f"{count} answer(s) are neither on the scale {spec.scale} of profile {profile.name}'s unpivot nor a "
            f"not-applicable code ({', '.join(spec.not_applicable) or 'none'}); the first: question {question}, "
            f"value {shown_value(answer)}: correct the export, or the profile's unpivot.scale or "
            f"unpivot.not_applicable",
            line=line,
            column=column,
        )


def _check_derived(con, contract, profile: Profile) -> None:
    """Derived rows meet their table's contract like loaded ones: the suite's row rules, compiled
    to SQL, over every derived row. A derive making rows that break one is a profile to correct:
    the file is rejected, naming each rule and how many rows break it."""
    from pipelines.ingest.validation import compile_suite

    types = {name: kind for name, kind, *_ in con.execute("DESCRIBE _derived").fetchall()}
    missing = [c.name for c in contract.columns if c.name not in types]
    if missing:
        raise FileRejected(
            "derived_rows",
            f"profile {profile.name}: derive {contract.table} gives no column {', '.join(missing)}: "
            f"add them to its SELECT (NULL AS ... for an optional one)",
            column=missing[0],
        )
    broken = []
    # the type rules are left to the upsert's conversion: a value that does not convert fails the load
    for rule in compile_suite(contract.table, types):
        if rule.kind == "row" and rule.rule != "expect_column_values_to_be_in_type_list":
            count = con.execute(f"SELECT count(*) FROM _derived WHERE {rule.fails}").fetchone()[0]
            if count:
                broken.append((rule, count))
    if broken:
        raise FileRejected(
            "derived_rows",
            f"profile {profile.name}: derive {contract.table} makes rows that break the table's contract: "
            + "; ".join(f"column {'/'.join(r.columns)}: rule {r.rule}: {n} row(s)" for r, n in broken)
            + ": correct the derive's SQL in the profile",
            column="/".join(broken[0][0].columns),
        )


def _write_rejection_report(settings: Settings, result: FileResult, path: Path) -> None:
    folder = rejected_folder(settings, result.source)
    write_private(
        folder / f"{cut_name(path.name, 230)}.report.txt",
        f"file {result.file} (source {result.source}, profile {result.profile}, table {result.table}) was rejected; "
        f"none of its {result.rows_read} rows were loaded.\n\n" + "\n".join(result.problems) + "\n",
    )


def _in_landing(settings: Settings, path: Path) -> bool:
    parent, landing = path.parent.resolve(), settings.landing.resolve()
    return parent == landing or landing in parent.parents


def _set_aside(settings: Settings, source: str, path: Path, keep: bool = False, copy: bool = True) -> None:
    """A rejected file, once its rejection is committed, moved out of the landing folder beside its
    report (copied when loaded from elsewhere). `copy` False: an entry never to be read (a link, a
    FIFO): moved itself if it lies in the landing folder, else left where it is."""
    folder = rejected_folder(settings, source)
    target = folder / path.name
    # A file in the landing zone moves out of it; a file loaded from elsewhere (esprit ingest
    # PATH) is copied, never taken from where its owner keeps it.
    if not copy:
        if not keep and _in_landing(settings, path):
            os.rename(path, target)  # the link or FIFO itself, never what it leads to
            keep_private(target)
        return
    if not keep and settings.landing.resolve() in path.resolve().parents:
        shutil.move(str(path), str(target))
    else:
        shutil.copy2(path, target)
    keep_private(target)


def _audit(
    con,
    result: FileResult,
    digest: str,
    started: datetime,
    size: int | None,
    stat: os.stat_result,
    profile: Profile | None,
    restate_all: bool,
) -> None:
    con.execute(
        "INSERT INTO load_audit (load_id, source, profile, table_name, file_name, file_sha256, status, rows_read, "
        "rows_loaded, rows_quarantined, rows_duplicate, rows_rejected, derived_rows, transcoded_lines, bytes, weeks, "
        "started_at, finished_at, report, file_bytes, file_mtime_ns, key_namespace, restate_all, profile_sha256, "
        "weeks_timezone) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "getvariable('week_tz'))",
        [
            result.load_id,
            result.source,
            result.profile,
            result.table,
            result.file,
            digest,
            result.status,
            result.rows_read,
            result.rows_loaded,
            result.rows_quarantined,
            result.rows_duplicate,
            result.rows_rejected,
            result.derived_rows,
            result.transcoded_lines,
            size,
            result.weeks,
            started,
            datetime.now(UTC),
            "\n".join(result.problems) or None,
            stat.st_size,
            stat.st_mtime_ns,
            profile.namespace if profile else None,
            bool(restate_all),
            profile.digest if profile else None,
        ],
    )


def ingest_paths(
    settings: Settings, source: str | None, paths: list[Path], profile: Profile | None = None, reload: bool = False
) -> list[FileResult]:
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
        _recut_load_weeks(con)
        set_plausible_window(con, settings)
        # DuckDB spills the file's working tables to disk beyond this: memory stays flat as files grow
        con.execute("SET memory_limit = ?", [str(settings.ingest["memory_limit"])])
        check_key(con, key)
        set_key(con, key)
        remove_stale_workdirs(settings.temp_dir)  # copies of files a killed ingest was reading
        register_scrubber(con, settings.ingest["phone_regions"])
        for path in paths:
            t0 = time.perf_counter()
            chosen = profile
            after_commit: list = []
            con.execute("BEGIN TRANSACTION")
            try:
                chosen = profile or (None if reload else profile_for(settings, source, path))
                result = ingest_file(con, settings, source or "", path, chosen, key, reload, after_commit)
                con.execute("COMMIT")
            except Exception as exc:  # one file's failure is counted; the other files load all the same
                con.execute("ROLLBACK")
                after_commit = []
                result = _record_failure(con, settings, source or "", path, chosen, exc, reload, after_commit)
            except BaseException:  # an interrupt stops the run
                con.execute("ROLLBACK")
                raise
            for action in after_commit:
                action()
            result.seconds = round(time.perf_counter() - t0, 3)
            results.append(result)
    finally:
        con.close()
    return results


def _record_failure(
    con,
    settings: Settings,
    source: str,
    path: Path,
    profile: Profile | None,
    exc: Exception,
    reload: bool,
    after_commit,
) -> FileResult:
    """A file whose load raised an error that is not a rule's (a bug, the machine's memory or disk):
    the attempt is counted in `load_failures` and the file stays where it is, to be tried again;
    at the `ingest.max_attempts`-th attempt it is rejected (rule load_failed) and set aside with a
    report naming the error, its message masked. When even the count cannot be written (the
    connection lost), the error is raised as it was."""
    name = shown_name(path.name)
    first_line = (str(exc).splitlines() or [""])[0]
    error = f"{type(exc).__name__}: {masked_message(scrub(first_line))[:300]}"
    limit = settings.ingest["max_attempts"]
    result = FileResult(source, name, profile.table if profile else None, profile.name if profile else None, "failed")
    try:
        info = path.stat()
        size, mtime = info.st_size, info.st_mtime_ns
    except OSError:
        info, size, mtime = None, None, None
    try:
        con.execute("BEGIN TRANSACTION")
        same = "source = ? AND file_name = ? AND file_bytes IS NOT DISTINCT FROM ? AND file_mtime_ns IS NOT DISTINCT FROM ?"
        now = datetime.now(UTC)
        con.execute(
            f"UPDATE load_failures SET attempts = attempts + 1, error = ?, last_failed_at = ? WHERE {same}",
            [error, now, source, name, size, mtime],
        )
        counted = con.execute(
            f"SELECT attempts FROM load_failures WHERE {same}", [source, name, size, mtime]
        ).fetchone()
        if counted is None:
            con.execute(
                "INSERT INTO load_failures VALUES (?, ?, ?, ?, 1, ?, ?, ?, NULL)",
                [source, name, size, mtime, error, now, now],
            )
        attempts = counted[0] if counted else 1
        problem = f"{name}: line 1, column -: rule load_failed: {error} (attempt {attempts} of {limit}"
        if attempts < limit or info is None or reload:
            result.problems = [f"{problem}: the file stays where it is, to be loaded again)"]
        else:
            result.status = "rejected"
            result.load_id = con.execute("SELECT nextval('load_id_seq')").fetchone()[0]
            result.problems = [
                f"{problem}: set aside; once the cause is fixed, put the file back in the landing folder)"
            ]
            con.execute(
                f"UPDATE load_failures SET set_aside_as = ? WHERE {same}", [result.load_id, source, name, size, mtime]
            )
            _write_rejection_report(settings, result, path)
            after_commit.append(lambda: _set_aside(settings, source, path))
            try:
                digest = sha256_of(path)
            except OSError:  # unreadable: the audit names it without its content's hash
                digest = ""
            _audit(con, result, digest, now, None, info, profile, False)
        con.execute("COMMIT")
    except duckdb.Error:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass
        raise exc from None
    return result


def stale_loads(settings: Settings, profile: Profile | None = None) -> tuple[dict[str, list[Path]], list[str]]:
    """Loads in force whose profile says something else now than when they ran: {profile name:
    their files in the landing folder}, and what cannot be reloaded (file gone or changed,
    profile not found in profiles/). `profile`: only its loads, judged against it (a profile kept
    elsewhere). Loads made before profiles were recorded are not judged."""
    from pipelines.ingest.profiles import ProfileError

    con = connect(settings.warehouse, read_only=True)
    try:
        recorded = con.execute(
            "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'load_audit' AND column_name = 'profile_sha256'"
        ).fetchone()[0]
        loads = (
            con.execute(
                "SELECT load_id, source, profile, file_name, file_sha256, profile_sha256 FROM load_audit "
                "WHERE status = 'loaded' AND profile_sha256 IS NOT NULL ORDER BY load_id"
            ).fetchall()
            if recorded
            else []
        )
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
            unable.append(
                f"{file_name} (load {load_id}, profile {name} changed): the file is no longer in {source}/ as loaded"
            )
    return stale, unable


def _recut_load_weeks(con) -> None:
    """Loads whose weeks were cut in another timezone than week_timezone now (or before that was
    recorded) list them again, cut now, from the rows they still hold: a reload restates the
    weeks its retracted rows count in, and a changed timezone moves a Sunday-night row's week."""
    stale = con.execute(
        "SELECT table_name, list(load_id) FROM load_audit WHERE status = 'loaded' "
        "AND weeks_timezone IS DISTINCT FROM getvariable('week_tz') GROUP BY table_name"
    ).fetchall()
    for table, load_ids in stale:
        if table not in CONTRACTS:
            continue
        week = f"iso_week(t.{sql_ident(CONTRACTS[table].event_time)})"
        con.execute(
            f"""
            UPDATE load_audit a SET weeks = coalesce(w.weeks, []), weeks_timezone = getvariable('week_tz')
            FROM (SELECT l.load_id, list(DISTINCT {week} ORDER BY {week}) FILTER (WHERE {week} IS NOT NULL) AS weeks
                  FROM (SELECT unnest(?::BIGINT[]) AS load_id) l LEFT JOIN {sql_ident(table)} t USING (load_id)
                  GROUP BY l.load_id) w
            WHERE a.load_id = w.load_id""",
            [load_ids],
        )


def _add_new_contract_columns(con) -> None:
    """A warehouse made before an optional column joined its contract gets it (as NULL)."""
    present = set(con.execute("SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal").fetchall())
    for contract in CONTRACTS.values():
        for table in (contract.table, gx_sample_table(contract.table)):
            for col in contract.columns:
                if (table, col.name) not in present:
                    con.execute(f"ALTER TABLE {table} ADD COLUMN {sql_ident(col.name)} {col.type}")


def ingest_source(settings: Settings, source: str, fail_on_reject: bool = True) -> list[FileResult]:
    """Load every new file of one source's landing folder, after deleting its rejected files older
    than their retention (`purge_rejected`).

    Raises IngestError after the good files are loaded if any file was rejected or failed (unless
    `fail_on_reject` is false), so that a scheduler marks the load failed, loudly.
    """
    purge_rejected(settings, source)
    results = ingest_paths(settings, source, landing_files(settings, source))
    bad = [r for r in results if r.status in ("rejected", "failed")]
    if bad and fail_on_reject:
        lines = [p for r in bad for p in r.problems]
        raise IngestError(f"{len(bad)} file(s) of source '{source}' rejected or failed:\n" + "\n".join(lines))
    return results
