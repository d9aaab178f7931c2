"""The validation gate of a file's typed rows: the table's Great Expectations suite compiled to
DuckDB predicates judges every row in one pass, and uniqueness rules count a key's repeats in
bounded passes. A sample of the rows (the first lines and the flagged ones) is kept with the
compiled suite's verdicts for Great Expectations to check later, off the load's critical path
(`gx_check`), before any build counts the load. With `ingest.gx_rows: all` (or a suite the
compiler cannot translate), GX itself validates every row here, in chunks. Results go to
`validation_results` and, for Data Docs, to JSON files.

"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipelines.config import Settings
from pipelines.console import progress
from pipelines.contracts import Contract
from pipelines.ingest.files import cut_name
from pipelines.ingest.results import FileRejected, FileResult
from pipelines.ingest.typing_sql import PERSONAL_COLUMNS
from pipelines.ingest.validation import (
    UnsupportedExpectation,
    compact_result,
    compile_suite,
    key_unexpected_sql,
    validate_frame,
)
from pipelines.sqltext import sql_ident, sql_string
from pipelines.warehouse import gx_sample_table

KEY_RULES = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")

# A uniqueness rule groups at most this many rows at once: DuckDB's hash table for the keys of a
# whole file outgrew ingest.memory_limit and was the peak of ingest's memory (docs/performance.md,
# "Measurements behind the code").
KEY_GROUP_ROWS = 2_500_000


def results_dir(settings: Settings) -> Path:
    return settings.out / "validation_results"


def forget_kept_results(settings: Settings, load_id: int) -> None:
    for kept in results_dir(settings).glob(f"load{load_id:06d}-*.json"):
        kept.unlink()


def keep_result(result_dir: Path, load_id: int, file_name: str, chunk: int, raw: dict) -> None:
    """Keep the GX result (for Data Docs); unexpected-row lists are cut to a sample."""
    result_dir.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in cut_name(file_name, 200))
    path = result_dir / f"load{load_id:06d}-{chunk:03d}__{safe}.json"
    partial = path.with_name(f".{path.name}.partial")  # a kill mid-write leaves no half result
    partial.write_text(json.dumps(compact_result(raw), default=str), encoding="utf-8")
    os.replace(partial, path)


def validate_rows(con, contract: Contract, result: FileResult, cfg: dict, result_dir: Path) -> dict[int, list[str]]:
    """Every row against the table's suite; returns line -> the rules it broke (uniqueness left out).

    The suite's rules, compiled to DuckDB predicates, judge every row in one pass; a sample (the
    file's first `gx_rows` lines and up to as many flagged lines) is kept for Great Expectations,
    which must find the same broken rules there before a build counts the load (`gx_check`). With
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
    counted = (
        "_typed"
        if any(c in r.fails.replace(f"{c} IS NULL", "") for r in row_rules for c in personal)
        else "_typed_rows"
    )
    counts = con.execute(
        "SELECT " + ", ".join(f"count(*) FILTER (WHERE {r.fails})" for r in row_rules) + f" FROM {counted}"
    ).fetchone()
    cols = ", ".join(sql_ident(c) for c in contract.column_names)
    flags = ", ".join(f"CASE WHEN {r.fails} THEN {i} END" for i, r in enumerate(row_rules))
    reasons: dict[int, list[str]] = {}
    if any(counts):
        flagged = con.execute(
            f"SELECT source_line, list_filter([{flags}], lambda x: x IS NOT NULL), {cols} "
            f"FROM _typed WHERE {' OR '.join(r.fails for r in row_rules)} ORDER BY source_line"
        )
        for line, broken, *values in flagged.fetchall():
            row = dict(zip(contract.column_names, values))
            reasons[line] = [row_rules[i].reason(row) for i in broken]
    summary: dict[tuple, list] = {}
    keyed = {r: "_typed" if set(r.columns) & set(PERSONAL_COLUMNS) else "_typed_lean" for r in rules if r.kind == "key"}
    for rule, n in [
        *zip(row_rules, counts),
        *((r, _key_unexpected(con, r, keyed[r], result.rows_read)) for r in rules if r.kind == "key"),
        *((r, 0) for r in rules if r.kind == "table"),
    ]:
        entry = summary.setdefault((rule.rule, rule.columns), [True, 0])
        entry[0], entry[1] = entry[0] and n == 0, entry[1] + n
    _keep_sample(con, contract, result, int(cfg["gx_rows"]), sorted(reasons)[: int(cfg["gx_rows"])], reasons)
    _record_validation(con, contract, result, summary)
    return reasons


def _key_unexpected(con, rule, relation: str, rows: int) -> int:
    """A uniqueness rule's count of rows whose key repeats, in passes of about KEY_GROUP_ROWS rows."""
    parts = max(1, -(-rows // KEY_GROUP_ROWS))
    return sum(con.execute(key_unexpected_sql(rule, relation, parts, part)).fetchone()[0] for part in range(parts))


def _keep_sample(
    con, contract: Contract, result: FileResult, first_lines: int, flagged: list[int], reasons: dict[int, list[str]]
) -> None:
    """The rows Great Expectations is to check, in the load's transaction: the file's first lines
    and the flagged ones, typed and pseudonymised as the compiled rules judged them, each with the
    rules those found it broke; the load's check is pending until `gx_check` has run GX on them."""
    cols = ", ".join(contract.column_names)
    # the first lines as a range of lines, a filter that reaches the scan under the pseudonym join
    last = con.execute(
        f"SELECT max(source_line) FROM (SELECT source_line FROM _typed_lean ORDER BY source_line LIMIT {first_lines})"
    ).fetchone()[0]
    con.execute("CREATE OR REPLACE TEMP TABLE _gx_lines (source_line BIGINT, reasons VARCHAR[])")
    if flagged:
        con.executemany("INSERT INTO _gx_lines VALUES (?, ?)", [[line, reasons[line]] for line in flagged])
    con.execute(
        f"INSERT INTO {gx_sample_table(contract.table)} ({cols}, source_line, load_id, compiled_reasons) "
        f"SELECT {cols}, s.source_line, {int(result.load_id)}, coalesce(g.reasons, []) "
        f"FROM (SELECT {cols}, source_line FROM _typed WHERE source_line <= {last or 0} UNION "
        f"SELECT {cols}, source_line FROM _typed WHERE source_line IN (SELECT source_line FROM _gx_lines)) s "
        f"LEFT JOIN _gx_lines g USING (source_line)"
    )
    con.execute(
        "INSERT INTO gx_checks VALUES (?, ?, current_setting('TimeZone'), 'pending', NULL, NULL)",
        [result.load_id, contract.table],
    )


def _gx_batch(contract: Contract, frame, result: FileResult, chunk: int, result_dir: Path):
    """GX on one batch: its result is kept (Data Docs); a rule on the whole batch broken rejects the file."""
    report = validate_frame(contract.table, frame)
    keep_result(result_dir, result.load_id, result.file, chunk, report.raw)
    for failure in report.table_failures:
        raise FileRejected(
            failure.rule,
            f"the file breaks {failure.rule} on {', '.join(failure.columns)}",
            column=",".join(failure.columns),
        )
    return report


def _record_validation(con, contract: Contract, result: FileResult, summary: dict[tuple, list]) -> None:
    """One row per rule of the suite: did the whole file pass it, how many rows broke it."""
    con.executemany(
        "INSERT INTO validation_results VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            [result.load_id, result.file, contract.table, rule, list(columns), ok, n]
            for (rule, columns), (ok, n) in summary.items()
        ],
    )


def _validate_in_chunks(
    con, contract: Contract, result: FileResult, chunk_rows: int, result_dir: Path
) -> dict[int, list[str]]:
    """GX over every row that parsed, chunk by chunk (bounded memory); returns line -> reasons.

    Rows are taken in key order, so a key's repeats fall in one chunk: the uniqueness rule's
    result (kept) counts them. They are not reasons to quarantine a row: a key repeated within
    a file is a redelivery, counted as duplicate once the last good line wins."""
    cols = ", ".join(contract.column_names)
    total = con.execute("SELECT count(*) FROM _typed").fetchone()[0]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _to_validate AS SELECT *, row_number() OVER "
        f"(ORDER BY {', '.join(contract.key)}, source_line) AS __n FROM _typed"
    )
    reasons: dict[int, list[str]] = {}
    summary: dict[tuple, list] = {}
    with progress(total, f"validating {result.file}", unit="rows", large=total > chunk_rows) as bar:
        for start in range(0, max(total, 1), chunk_rows):
            frame = con.execute(
                f"SELECT {cols}, source_line FROM _to_validate WHERE __n > ? AND __n <= ? ORDER BY __n",
                [start, start + chunk_rows],
            ).df()
            if frame.empty and total:
                break
            report = _gx_batch(contract, frame, result, start // chunk_rows, result_dir)
            for line, why in report.row_reasons.items():
                why = [
                    w for w in why if not any(f"rule {rule};" in w or w.endswith(f"rule {rule}") for rule in KEY_RULES)
                ]
                if why:
                    reasons.setdefault(line, []).extend(why)
            for r in report.raw["results"]:
                cfg = r["expectation_config"]
                kwargs = cfg.get("kwargs", {})
                columns = [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)] or list(
                    kwargs.get("column_list") or kwargs.get("column_set") or []
                )
                k = (cfg["type"], tuple(columns))
                entry = summary.setdefault(k, [True, 0])
                entry[0] = entry[0] and r["success"]
                entry[1] += int((r.get("result") or {}).get("unexpected_count") or 0)
            bar.update(len(frame))
    _record_validation(con, contract, result, summary)
    return reasons


def key_repeated(con, contract: Contract, load_id: int) -> bool:
    """Whether a key comes more than once in the file. The suite's uniqueness rule on the key has
    just counted its repeats (`validation_results`); only a suite without one needs a count here."""
    repeats = con.execute(
        f"SELECT sum(unexpected_count) FROM validation_results WHERE load_id = ? AND expectation IN "
        f"({', '.join(sql_string(r) for r in KEY_RULES)}) AND list_sort(columns) = list_sort(?::VARCHAR[])",
        [load_id, list(contract.key)],
    ).fetchone()[0]
    if repeats is None:
        repeats = con.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM _typed GROUP BY {', '.join(contract.key)} HAVING count(*) > 1)"
        ).fetchone()[0]
    return repeats > 0
