"""The SQL that maps a file's text columns onto its canonical table (`_mapped`, through the
profile's expressions and null markers) and types them (`_typed_rows`: casts, value maps, range and
plausibility checks, each failure a reason), then the views everything after sees (`_typed`,
personal columns pseudonymised; `_typed_lean`, without them)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import duckdb

from pipelines.config import Settings
from pipelines.contracts import Contract
from pipelines.ingest.privacy import mask_sql, masked_message, pseudonym_sql, scrub_sql
from pipelines.ingest.profiles import Profile
from pipelines.ingest.results import MACHINE_ERRORS, FileRejected
from pipelines.sqltext import sql_ident, sql_string
from pipelines.warehouse import drop_relation

# canonical columns pseudonymised at the door: customers, agents (a staff code is often initials or
# a name; its pseudonym still tells the same agent apart, for continuity) and pulse respondents
PERSONAL_COLUMNS = ("customer_ref", "agent_id", "respondent_ref")

# Keys and the references to them: a profile with namespace_keys prefixes them all, so that its
# case history, its cases' origin calls and its surveys' rated contacts still meet.
IDENTIFIER_COLUMNS = ("call_id", "case_id", "origin_ref", "response_id", "interaction_ref")


def free_text_columns(contract: Contract) -> list[str]:
    """Canonical columns scrubbed at the door: every text column but customer identifiers (they are
    pseudonymised), keys and references (scrubbing would merge rows), agent ids, and columns
    whose values come from a fixed list (any other value quarantines its row)."""
    return [
        c.name
        for c in contract.columns
        if c.type == "VARCHAR"
        and c.allowed is None
        and c.name not in (*PERSONAL_COLUMNS, *IDENTIFIER_COLUMNS, *contract.key)
        and not c.name.endswith(("_id", "_ref"))
    ]


# A timestamp outside these bounds (year 10000, 290000, BC...) parses in DuckDB but not as a Python
# datetime in every timezone: it is not a timestamp (its row is quarantined, rule type).
TIMESTAMP_RANGE = ("TIMESTAMPTZ '0001-01-02 00:00:00+00'", "TIMESTAMPTZ '9999-12-30 00:00:00+00'")


def strptime_formats(fmt: str | list[str]) -> str:
    """SQL for strptime's format argument: one format, or a list DuckDB tries in order."""
    return "[" + ", ".join(sql_string(f) for f in fmt) + "]" if isinstance(fmt, list) else sql_string(fmt)


def shown_formats(fmt: str | list[str]) -> str:
    return " or ".join(fmt) if isinstance(fmt, list) else fmt


def mapped_source_columns(profile: Profile, contract: Contract, source_columns: list[str]) -> set[str]:
    """The file's columns the profile maps onto its table: named in a column's expression (as a
    word, or quoted), or named like a canonical column the profile does not map otherwise."""
    import re

    used = set()
    exprs = list(profile.let.values())  # what the lets read, the columns read through them
    for col in contract.columns:
        expr = profile.columns.get(col.name)
        if expr is None:
            used |= {col.name} & set(source_columns)
        else:
            exprs.append(expr)
    for expr in exprs:
        used |= {
            c for c in source_columns if f'"{c}"' in expr or re.search(rf"(?<![\w.\"]){re.escape(c)}(?![\w\"])", expr)
        }
    return used


def check_columns(profile: Profile, contract: Contract, source_columns: list[str]) -> None:
    answers = [c for d in profile.derive if d.unpivot for c in d.unpivot.questions.values()]
    absent = [c for c in answers if c not in source_columns]
    if absent:
        raise FileRejected(
            "required_column",
            f"the columns profile {profile.name} unpivots are missing: {', '.join(map(repr, absent))} "
            f"(the file has: {', '.join(source_columns) or 'no columns'})",
            column=absent[0],
        )
    missing = [
        c.name
        for c in contract.columns
        if c.required and c.name not in profile.columns and c.name not in source_columns
    ]
    when = contract.event_time
    if when and when not in missing and profile.columns.get(when, "").strip().upper() == "NULL":
        missing.append(when)  # mapped to nothing (as a proposed profile leaves it)
    if missing:
        raise FileRejected(
            "required_column",
            f"required column(s) missing: {', '.join(missing)} "
            f"(the file has: {', '.join(source_columns) or 'no columns'})"
            + (_no_time(profile, when) if when in missing else ""),
            column=missing[0],
        )


def _no_time(profile: Profile, when: str) -> str:
    """What to do about a file without the time its rows happen: Esprit never invents one."""
    return (
        f". Without {when} (the time each row happens, which places it in its week) nothing loads, and no date is "
        f"made up: give one in profile {profile.name}, from the file's name (file_name: "
        f"'survey_(?P<day>\\d{{4}}-\\d{{2}}-\\d{{2}})\\.csv' with columns: {{{when}: day}}), or one date for the "
        f"whole file (fixed: {{{when}: '2024-01-01'}}), or map it to a column of the file"
    )


def source_relation(profile: Profile, source_columns: list[str], file_name: str | None = None, lets=True) -> str:
    """SQL of the rows the column expressions read: the file's columns (null markers made NULL),
    the values the profile's `file_name` pattern takes from the file's name, then its `let`
    expressions, each able to use the ones before it."""
    markers = ", ".join(sql_string(m) for m in profile.null_markers)
    src = [
        f"CASE WHEN {_trimmed(sql_ident(c))} IN ({markers}) THEN NULL ELSE {sql_ident(c)} END AS {sql_ident(c)}"
        for c in source_columns
    ]
    if profile.file_name:
        import re

        found = re.search(profile.file_name, file_name or "")
        if found is None:
            raise FileRejected(
                "file_name",
                f"the file's name does not match the profile's file_name pattern {profile.file_name!r}, which "
                f"gives its values ({', '.join(re.compile(profile.file_name).groupindex)}): rename the file, "
                f"or correct the pattern in profile {profile.name}",
            )
        src += [f"{'NULL' if v is None else sql_string(v)} AS {sql_ident(k)}" for k, v in found.groupdict().items()]
    base = f"SELECT {', '.join([*src, 'source_line'])} FROM _raw"
    if not (lets and profile.let):
        return base
    hidden = sorted(set(profile.let) & {c.lower() for c in source_columns})
    if hidden:
        raise FileRejected(
            "let_name",
            f"profile {profile.name} names a let like a column of the file ({', '.join(map(repr, hidden))}): the "
            f"expressions would read one for the other; give the let another name",
            column=hidden[0],
        )
    window = f" WINDOW w AS ({profile.window})" if profile.window else ""
    named = ", ".join(f"({expr}) AS {sql_ident(name)}" for name, expr in profile.let.items())
    return f"SELECT *, {named} FROM ({base}){window}"


def mapped_select(profile: Profile, contract: Contract, source_columns: list[str], file_name: str | None = None) -> str:
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
    return (
        f"WITH src AS ({source_relation(profile, source_columns, file_name)}) "
        f"SELECT {', '.join(cols)}, ({version})::VARCHAR AS record_version, source_line FROM src{window}"
    )


def typed_select(profile: Profile, contract: Contract, max_field_bytes: int) -> str:
    """Text to typed columns, with the reasons a value did not convert. Three layers, so that each
    value is trimmed and cast once however many rules look at it: `cast` (text, first casts),
    `typed` (range checks), then the output (free text scrubbed, reasons). Personal columns come
    out as read: `typed_views` pseudonymises them for everything after."""
    casts, typed, out = [], [], []
    free_text = free_text_columns(contract)
    checks: list[tuple[str, str, str | None]] = []  # (condition, reason, column whose value did not convert)
    for col in contract.columns:
        # per column: the mapped value, its text (value-mapped), the cast, the cast to DOUBLE, an
        # impossible UTC offset, an unmapped value, and the typed result
        mapped, source_text, cast, as_double, bad_offset, unmapped, typed_value = (
            sql_ident(f"__{p}_{col.name}") for p in "msxdouy"
        )
        trimmed = _trimmed(f"{mapped}::VARCHAR")
        vmap = profile.value_maps.get(col.name)
        if vmap:
            whens = " ".join(
                f"WHEN {sql_string(k)} THEN {'NULL' if v is None else sql_string(v)}" for k, v in vmap.items()
            )
            keys = ", ".join(sql_string(k) for k in vmap)
            casts += [
                f"(CASE {trimmed} {whens} ELSE NULL END)::VARCHAR AS {source_text}",
                f"({mapped} IS NOT NULL AND {trimmed} NOT IN ({keys})) AS {unmapped}",
            ]
            checks.append(
                (
                    unmapped,
                    f"'column {col.name}: rule value_map; value shaped ' || {quote_value(mask_sql(trimmed))} "
                    f"|| ' has no mapping'",
                    col.name,
                )
            )
        elif col.type != "VARCHAR":
            casts.append(f"{trimmed} AS {source_text}")
        if col.type == "TIMESTAMPTZ" and col.name in profile.timestamp_formats:
            casts.append(
                f"timezone({sql_string(profile.timezone)}, try_strptime({source_text}, "
                f"{strptime_formats(profile.timestamp_formats[col.name])})) AS {cast}"
            )
        elif col.type == "TIMESTAMPTZ":  # ISO text: DuckDB reads +25:00 as 25 hours, an offset no place has
            casts += [
                f"TRY_CAST({source_text} AS TIMESTAMPTZ) AS {cast}",
                f"{_impossible_offset(source_text)} AS {bad_offset}",
            ]
        elif col.type in ("INTEGER", "BIGINT", "DOUBLE"):
            number = f"replace({source_text}, ',', '.')" if profile.format.decimal == "," else source_text
            casts.append(f"TRY_CAST({number} AS {col.type}) AS {cast}")
            if col.type != "DOUBLE":  # 7.5 is not a whole number: refuse it rather than round it
                casts.append(f"TRY_CAST({number} AS DOUBLE) AS {as_double}")
        elif col.type != "VARCHAR":
            casts.append(f"TRY_CAST({source_text} AS {col.type}) AS {cast}")
        if col.type == "TIMESTAMPTZ":  # beyond what Python (GX, pandas) can hold in every timezone
            offset_ok = "" if col.name in profile.timestamp_formats else f" AND NOT {bad_offset}"
            typed.append(
                f"CASE WHEN {cast} BETWEEN {TIMESTAMP_RANGE[0]} AND {TIMESTAMP_RANGE[1]}{offset_ok} THEN {cast} END AS {typed_value}"
            )
        elif col.type in ("INTEGER", "BIGINT"):
            typed.append(f"CASE WHEN {as_double} = trunc({as_double}) THEN {cast} END AS {typed_value}")
        elif col.type == "VARCHAR":
            typed.append(f"{source_text if vmap else f'{mapped}::VARCHAR'} AS {typed_value}")
        else:
            typed.append(f"{cast} AS {typed_value}")
        if col.name in PERSONAL_COLUMNS and col.type != "VARCHAR":
            raise ValueError(f"personal column {col.name} must be text")
        out.append(f"{scrub_sql(typed_value) if col.name in free_text else typed_value} AS {sql_ident(col.name)}")
        if col.type != "VARCHAR":
            fmt = profile.timestamp_formats.get(col.name)
            expected = f"a timestamp in the form {shown_formats(fmt)}" if fmt else col.type
            cast_failed = (
                f"{mapped} IS NOT NULL{f' AND {source_text} IS NOT NULL' if vmap else ''} AND {typed_value} IS NULL"
            )
            checks.append(
                (
                    cast_failed,
                    f"'column {col.name}: rule type; value shaped ' || {quote_value(mask_sql(source_text))} || "
                    f"' is not {expected}'",
                    col.name,
                )
            )
        else:
            checks.append(
                (
                    f"strlen({typed_value}) > {max_field_bytes}",
                    f"'column {col.name}: rule max_field_bytes; value of ' "
                    f"|| strlen({typed_value}) || ' bytes exceeds {max_field_bytes}'",
                    None,
                )
            )
        if col.type == "TIMESTAMPTZ":  # the window set by set_plausible_window (unset: no check)
            low, high = "getvariable('plausible_from')::TIMESTAMPTZ", "getvariable('plausible_to')::TIMESTAMPTZ"
            checks.append(
                (
                    f"({typed_value} < {low} OR {typed_value} > {high})",
                    f"'column {col.name}: rule plausible_time; value ' || strftime({typed_value} AT TIME ZONE 'UTC', "
                    f"'%Y-%m-%d %H:%M:%S UTC') || ' is outside ' || strftime({low} AT TIME ZONE 'UTC', "
                    f"'%Y-%m-%d') || ' .. ' || strftime({high} AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') || ' UTC: "
                    f"check the date in the export and the profile''s timestamp format'",
                    None,
                )
            )
    # __failed: columns whose source value did not convert (their NULL is not the source's). Lists
    # are built only for a row that fails a check: most rows fail none.
    broken = " OR ".join(f"({c})" for c, _, _ in checks) or "FALSE"
    reasons = ", ".join(f"CASE WHEN {c} THEN {why} END" for c, why, _ in checks)
    failed = ", ".join(f"CASE WHEN {c} THEN {sql_string(col)} END" for c, _, col in checks if col) or "NULL"
    cast_layer = f"SELECT *{''.join(', ' + c for c in casts)} FROM _mapped"
    typed_layer = f"SELECT *, {', '.join(typed)} FROM ({cast_layer})"
    return (
        f"SELECT {', '.join(out)}, record_version, source_line, "
        f"CASE WHEN {broken} THEN list_filter([{reasons}], lambda x: x IS NOT NULL) ELSE [] END::VARCHAR[] AS __reasons, "
        f"CASE WHEN {broken} THEN list_filter([{failed}], lambda x: x IS NOT NULL) ELSE [] END::VARCHAR[] AS __failed "
        f"FROM ({typed_layer})"
    )


def type_rows(
    con, profile: Profile, contract: Contract, source_columns: list[str], max_field_bytes: int, file_name: str = ""
) -> int:
    """`_raw` through the profile (`_mapped`, a view) to typed rows (`_typed_rows`); returns their number.
    The caller has defined the scrubber on the connection (`register_scrubber`), outside a transaction:
    looking for it at each file cost a scan of DuckDB's functions (about 25 ms)."""
    for name in ("_typed", "_typed_lean", "_typed_rows"):
        drop_relation(con, name)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _mapped AS {mapped_select(profile, contract, source_columns, file_name)}"
        )
        con.execute(f"CREATE TEMP TABLE _typed_rows AS {typed_select(profile, contract, max_field_bytes)}")
    except MACHINE_ERRORS:
        raise
    except duckdb.Error as exc:
        first_line = masked_message(str(exc).splitlines()[0])
        if "CSV Error" in first_line:  # a direct read: DuckDB's reader stopped in this pass
            raise FileRejected("parseable_csv", f"not readable as CSV: {first_line}") from exc
        # the transaction is aborted: the caller reads the file again and names the expression
        raise FileRejected(
            "profile_expression", f"profile {profile.name} does not apply to this file: {first_line}"
        ) from exc
    return con.execute("SELECT count(*) FROM _typed_rows").fetchone()[0]


def explain_expressions(
    con, profile: Profile, source_columns: list[str], exc: FileRejected, reread, file_name: str = ""
) -> FileRejected:
    """`exc` (rule profile_expression) naming the columns whose expression fails, each tried alone
    on the file as `reread()` reads it again in a new transaction, the file's columns and what to do."""
    failing = _failing_expressions(con, profile, source_columns, reread, file_name)
    if not failing:
        return exc
    said = {**profile.columns, "record_version": profile.version, **{f"let {k}": v for k, v in profile.let.items()}}
    named = "; ".join(f"{'' if c.startswith('let ') else 'column '}{c}: {said[c]} fails: {e}" for c, e in failing)
    return FileRejected(
        "profile_expression",
        f"profile {profile.name} does not apply to this file: {named}. The file has the columns "
        f"{', '.join(source_columns) or 'none'}: correct the expression in the profile "
        f"({profile.path.name if profile.path else profile.name}), then load the file again",
        column=failing[0][0],
    )


def _failing_expressions(
    con, profile: Profile, source_columns: list[str], reread, file_name: str
) -> list[tuple[str, str]]:
    """The canonical columns (and record_version) whose profile expression fails on this file,
    each tried alone over the file's columns, with the first line of its error (values masked).
    DuckDB aborts a transaction at its first error: after each failure, `reread()` rolls back and
    reads the file again, so that the next expression is tried on it (at most five failures)."""
    window = f" WINDOW w AS ({profile.window})" if profile.window else ""
    # the lets first, each over the file's columns and the lets before it; then the columns
    tried = [
        (f"let {name}", expr, dict(list(profile.let.items())[:i])) for i, (name, expr) in enumerate(profile.let.items())
    ]
    tried += [(c, e, profile.let) for c, e in profile.columns.items()]
    tried += [("record_version", profile.version, profile.let)] if profile.version else []
    failing = []
    reread()
    for index, (column, expr, before) in enumerate(tried):
        relation = source_relation(replace(profile, let=before), source_columns, file_name)
        try:
            con.execute(f"SELECT count(({expr})) FROM ({relation}){window}")
        except MACHINE_ERRORS:
            raise
        except duckdb.Error as exc:
            failing.append((column, masked_message(str(exc).splitlines()[0])))
            reread()
            if len(failing) == 5:
                break
        if failing and index == len(profile.let) - 1:
            break  # a let fails: every column reading the lets would fail too
    return failing


def timestamp_hints(con, profile: Profile, contract: Contract) -> list[str]:
    """For each timestamp column most of whose values the profile does not read, a format that
    reads them (from `esprit profile init`'s list), when one does: a hint for the report."""
    from pipelines.ingest.onboarding import PARSED_SHARE, TIMESTAMP_FORMATS

    hints = []
    for col in contract.columns:
        if col.type != "TIMESTAMPTZ":
            continue
        mapped = sql_ident(f"__m_{col.name}")
        sample = f"(SELECT {mapped}::VARCHAR AS v FROM _mapped WHERE {mapped} IS NOT NULL LIMIT 1000)"
        fmt = profile.timestamp_formats.get(col.name)
        read = f"try_strptime(v, {strptime_formats(fmt)})" if fmt else "TRY_CAST(v AS TIMESTAMPTZ)"
        shares = ", ".join(f"count(try_strptime(v, {sql_string(f)}))" for f in TIMESTAMP_FORMATS)
        found = con.execute(f"SELECT count(*), count({read}), {shares} FROM {sample}").fetchone()
        total, current = found[0], found[1]
        if not total or current >= PARSED_SHARE * total:
            continue
        fits = [f for f, n in zip(TIMESTAMP_FORMATS, found[2:]) if n >= PARSED_SHARE * total]
        if fits:
            hints.append(
                f"hint: column {col.name}: {total - current} of the first {total} values do not read as "
                f"{shown_formats(fmt) if fmt else 'ISO 8601'}; they read as {fits[0]!r}: set timestamp_formats.{col.name}: "
                f"'{fits[0]}' in the profile"
            )
    return hints


def set_plausible_window(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """The times a row may carry: from ingest.plausible_from to plausible_future_days after now."""
    start = datetime.fromisoformat(str(settings.ingest["plausible_from"])).replace(tzinfo=UTC)
    try:
        end = datetime.now(UTC) + timedelta(days=settings.ingest["plausible_future_days"])
    except OverflowError:  # a window opened past the last day Python holds
        end = datetime(9999, 12, 30, tzinfo=UTC)
    con.execute("SET VARIABLE plausible_from = ?::TIMESTAMPTZ", [start])
    con.execute("SET VARIABLE plausible_to = ?::TIMESTAMPTZ", [end])


def _impossible_offset(text: str) -> str:
    """SQL: the text ends with a UTC offset of 15 hours or more (they run from -12:00 to +14:00).
    The pattern, anchored at the end, is 6 characters at most; on the whole text it is cheaper than
    on `right(text, 6)`, which counts characters from the start (docs/performance.md)."""
    return f"regexp_matches({text}, '[+-](1[5-9]|[2-9][0-9]):?[0-9]{{2}}$')"


def _trimmed(expr: str) -> str:
    """SQL: trim(expr), spaces off both ends, without trim's copy of every value that has none."""
    return f"(CASE WHEN {expr} LIKE ' %' OR {expr} LIKE '% ' THEN trim({expr}) ELSE {expr} END)"


def quote_value(text_expr: str) -> str:
    return (
        f"'''' || CASE WHEN length({text_expr}) > 60 THEN left({text_expr}, 57) || '...' ELSE {text_expr} END || ''''"
    )


def typed_views(con, contract: Contract, line: str, pseudonyms: bool = True) -> None:
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
            con.execute(
                f"CREATE TEMP TABLE {table} AS SELECT v, {pseudonym_sql('v')} AS p FROM "
                f"(SELECT DISTINCT {sql_ident(name)} AS v FROM _typed_rows WHERE {sql_ident(name)} IS NOT NULL)"
            )
        joins.append(f" LEFT JOIN {table} p{i} ON p{i}.v = t.{sql_ident(name)}")
    tail = f"t.record_version, {line} AS source_line, t.__reasons, t.__failed FROM _typed_rows t"
    for c in contract.column_names:
        columns.append(f"p{personal.index(c)}.p AS {sql_ident(c)}" if c in personal else f"t.{sql_ident(c)}")
    lean = [f"t.{sql_ident(c)}" for c in contract.column_names if c not in personal]
    for view in ("_typed", "_typed_lean"):
        drop_relation(con, view)
    con.execute(f"CREATE TEMP VIEW _typed AS SELECT {', '.join(columns)}, {tail}{''.join(joins)}")
    con.execute(f"CREATE TEMP VIEW _typed_lean AS SELECT {''.join(c + ', ' for c in lean)}{tail}")
