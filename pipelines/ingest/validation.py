"""Great Expectations gate: validate a typed batch against its suite in `expectations/`.

GX runs on pandas batches read from DuckDB (its SQL engine over duckdb-engine is unreliable).
Each failure is reported with the file, the line, the column and the rule.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
import warnings
from dataclasses import dataclass
from datetime import UTC
from functools import cache, lru_cache

from pipelines.contracts import load_suite_json
from pipelines.ingest.privacy import mask, shown_value
from pipelines.sqltext import sql_ident, sql_string

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _quiet_great_expectations() -> None:
    """GX logs at INFO as it registers its functions and metrics, creates its context and loads
    its sources, and warns of its own deprecations: dozens of lines in each task log that say
    nothing of the data. Its warnings and errors still show; Esprit reports the validation."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"great_expectations(\.|$)")
    warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*(GX Core|row_condition parameter)")


_quiet_great_expectations()  # before the first import of GX (at import, it registers and logs)


def _gx():
    """Great Expectations, imported; one of its modules sets its own logger to INFO as it loads."""
    import great_expectations

    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    return great_expectations


MAX_LINES_PER_RULE = 20


@dataclass(frozen=True)
class RuleFailure:
    rule: str
    columns: tuple[str, ...]
    lines: tuple[int, ...]  # source lines of failing rows, at most MAX_LINES_PER_RULE
    unexpected_count: int
    sample_values: tuple[str, ...]

    def describe(self, file_name: str) -> str:
        where = ", ".join(str(n) for n in self.lines) or "(table level)"
        more = "" if self.unexpected_count <= len(self.lines) else f" (+{self.unexpected_count - len(self.lines)} more)"
        values = f"; values {', '.join(self.sample_values)}" if self.sample_values else ""
        return f"{file_name}: line {where}{more}, column {'/'.join(self.columns)}: rule {self.rule}{values}"


@dataclass(frozen=True)
class ValidationReport:
    table: str
    success: bool
    evaluated: int
    failures: tuple[RuleFailure, ...]
    row_reasons: dict[int, list[str]]  # source line -> every row-level rule it broke, with the value
    table_failures: tuple[RuleFailure, ...]  # rules about the whole batch (columns present, ...)
    raw: dict  # the GX result as JSON, kept for the audit and data docs


_warming_up: list = []


def warm_up() -> None:
    """Start importing Great Expectations (seconds of imports) in a thread, once per process, so
    that it overlaps the DuckDB work that comes before the first validation; the import lock makes
    the first validation wait for it if needed."""
    if not _warming_up:
        import importlib
        import threading

        _warming_up.append(
            threading.Thread(
                target=importlib.import_module, args=("great_expectations",), name="great-expectations-import"
            )
        )
        _warming_up[0].start()


@lru_cache(maxsize=1)
def _context():
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    # Progress bars would flood task logs; results are reported line by line instead.
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


@cache
def _batch_definition(table: str):
    ctx = _context()
    source = ctx.data_sources.add_pandas(name=f"esprit_{table}")
    asset = source.add_dataframe_asset(name=table)
    return asset.add_batch_definition_whole_dataframe(name=f"{table}_batch")


@cache
def _suite(table: str):
    gx = _gx()

    spec = load_suite_json(table)
    return gx.ExpectationSuite(name=spec["name"], expectations=spec["expectations"])


def validate_frame(table: str, frame, line_column: str = "source_line") -> ValidationReport:
    """Validate one batch; `line_column` identifies each row's line in its source file."""
    # GX checks value types row by row only in object columns (pandas 3's extension dtypes
    # match none of its type names): each value keeps its Python type (str, int, Timestamp...).
    frame = frame.astype(object)
    batch = _batch_definition(table).get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(
        _suite(table),
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": [line_column],
            "partial_unexpected_count": MAX_LINES_PER_RULE,
        },
    )
    failures, table_failures = [], []
    row_reasons: dict[int, list[str]] = {}
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        kwargs = cfg.kwargs
        columns = tuple(kwargs.get(k) for k in ("column", "column_A", "column_B") if kwargs.get(k)) or tuple(
            kwargs.get("column_list") or kwargs.get("column_set") or ()
        )
        res = r.result or {}
        index_list = res.get("unexpected_index_list") or []
        lines = []
        for item in index_list[:MAX_LINES_PER_RULE]:
            lines.append(int(item[line_column]) if isinstance(item, dict) else int(item))
        values = tuple(_show(v) for v in (res.get("partial_unexpected_list") or [])[:5])
        if r.exception_info and r.exception_info.get("raised_exception"):
            values = (str(r.exception_info.get("exception_message")),)
        failure = RuleFailure(
            rule=cfg.type,
            columns=columns,
            lines=tuple(lines),
            unexpected_count=int(res.get("unexpected_count") or len(lines)),
            sample_values=values,
        )
        failures.append(failure)
        if not index_list:
            table_failures.append(failure)
        for item in index_list:
            if not isinstance(item, dict):
                continue
            shown = ", ".join(f"{c}={_show(item.get(c))}" for c in columns if c in item)
            row_reasons.setdefault(int(item[line_column]), []).append(
                f"column {'/'.join(columns)}: rule {cfg.type}" + (f"; value {shown}" if shown else "")
            )
    return ValidationReport(
        table=table,
        success=bool(result.success),
        evaluated=len(result.results),
        failures=tuple(failures),
        row_reasons=row_reasons,
        table_failures=tuple(table_failures),
        raw=result.to_json_dict(),
    )


def _show(value) -> str:
    if _missing(value):
        return "empty"
    return shown_value(value)


def _missing(value) -> bool:
    """A missing value as pandas sees it (None, NaN, NaT). pandas is imported only where a frame
    was made (GX's validation): ingest's compiled rules hand DuckDB's values, None or a float."""
    if value is None:
        return True
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        return bool(pandas.isna(value))
    return isinstance(value, float) and math.isnan(value)


def compact_result(raw: dict, keep: int = MAX_LINES_PER_RULE) -> dict:
    """A validation result small enough to keep, and safe to: the long lists of unexpected rows
    are cut, and every text value in them is masked (`privacy.mask`): the kept results feed Data
    Docs, which must show no personal data."""
    results = []
    for r in raw.get("results", []):
        res = dict(r.get("result") or {})
        for key in (
            "unexpected_list",
            "unexpected_index_list",
            "partial_unexpected_list",
            "partial_unexpected_index_list",
            "partial_unexpected_counts",
        ):
            if isinstance(res.get(key), list):
                res[key] = [_masked(item) for item in res[key][:keep]]
        res.pop("unexpected_index_query", None)
        results.append({**r, "result": res})
    return {**raw, "results": results}


def _masked(item):
    """A kept unexpected value, row or count with its texts masked (line numbers and counts kept)."""
    if isinstance(item, str):
        return mask(item)
    if isinstance(item, dict):
        return {k: v if k in ("source_line", "count") else _masked(v) for k, v in item.items()}
    if isinstance(item, list):
        return [_masked(v) for v in item]
    return item


def build_data_docs(results_dir, site_dir) -> str | None:
    """Great Expectations Data Docs for every kept validation result; returns the index page.

    Incremental: a result whose page the site already has is not rendered again, and is given to
    GX stripped of its expectations' results (the index needs only its outcome and metadata), so
    that a weekly run does not pay for every result of the past (about 0.07 s each in full). A
    page's run time is the validation's, so that it keeps its address across builds; the pages of
    results no longer kept (a rejected load) leave the site with them (GX's index cleans them)."""
    import json
    from datetime import datetime
    from pathlib import Path

    gx = _gx()
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    from pipelines.contracts import CONTRACTS

    files = sorted(Path(results_dir).glob("*.json")) if Path(results_dir).is_dir() else []
    if not files:
        return None
    site = Path(site_dir)
    ctx = gx.get_context(mode="ephemeral")
    ctx.add_data_docs_site(
        site_name="esprit",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    to_render: list = []
    for table in CONTRACTS:
        spec = load_suite_json(table)
        ctx.suites.add(gx.ExpectationSuite(name=spec["name"], expectations=spec["expectations"]))
        to_render.append(ExpectationSuiteIdentifier(name=spec["name"]))  # a suite may have changed
    schema = ExpectationSuiteValidationResultSchema()
    for path in files:
        raw = json.loads(path.read_text(encoding="utf-8"))
        loaded = (raw.get("meta") or {}).get("batch_markers", {}).get("ge_load_time")
        run_time = (
            datetime.strptime(loaded, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
            if loaded
            else datetime.fromtimestamp(path.stat().st_mtime, UTC)
        )
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=raw["suite_name"]),
            run_id=RunIdentifier(run_name=path.stem, run_time=run_time),
            batch_identifier=path.stem.split("__", 1)[-1],
        )
        page = site.joinpath(
            "validations", *raw["suite_name"].split("."), *key.run_id.to_tuple(), f"{key.batch_identifier}.html"
        )
        if page.is_file():
            raw = {**raw, "results": []}
        else:
            to_render.append(key)
        ctx.validation_results_store.set(key, schema.load(raw))
    return ctx.build_data_docs(site_names=["esprit"], resource_identifiers=to_render)["esprit"]


# ---- the suite's rules as DuckDB SQL ----------------------------------------------------------
# GX's pandas engine is far too slow for a file of millions of rows (docs/performance.md).
# The suite's expectations are therefore also compiled into DuckDB predicates evaluated on every
# row in one pass, while GX itself validates a sample of each file (its first rows and every row
# the predicates flag), later and in another step (`gx_check`), and must agree with them row for
# row (`sql_disagreements`).


class UnsupportedExpectation(ValueError):
    """An expectation (or option) the SQL compiler does not know: GX then validates every row."""


@dataclass(frozen=True)
class CompiledRule:
    rule: str  # the expectation type
    columns: tuple[str, ...]
    kind: str  # row (a row breaks it), key (uniqueness: counted, not a reason) or table
    fails: str = "FALSE"  # DuckDB predicate over one row of the batch: the row breaks the rule

    def reason(self, row: dict) -> str:
        """The reason GX gives for a row breaking this rule (`validate_frame`)."""
        shown = ", ".join(f"{c}={_show(row.get(c))}" for c in self.columns)
        return f"column {'/'.join(self.columns)}: rule {self.rule}; value {shown}"


ROW_CONDITION = re.compile(r'^\s*(\w+)\s*==\s*"([^"\\]*)"\s*$')  # the only pandas condition the suites use


def _literal(value) -> str:
    if isinstance(value, bool) or value is None or not isinstance(value, (int, float, str)):
        raise UnsupportedExpectation(f"literal {value!r}")
    if isinstance(value, str):
        return sql_string(value)
    return repr(value)


def compile_suite(table: str, column_types: dict[str, str]) -> list[CompiledRule]:
    """The suite of `table` as DuckDB predicates over a batch whose columns have `column_types`
    (DuckDB type names). Raises UnsupportedExpectation for anything it cannot translate exactly."""
    from pipelines.contracts import PYTHON_TYPES

    def missing(col: str) -> str:  # pandas takes NaN for a missing value
        c = sql_ident(col)
        return f"({c} IS NULL OR isnan({c}))" if column_types.get(col) == "DOUBLE" else f"{c} IS NULL"

    rules = []
    for exp in load_suite_json(table)["expectations"]:
        kind, kw = exp["type"], dict(exp["kwargs"])
        condition = "TRUE"
        if "row_condition" in kw:
            match = ROW_CONDITION.match(kw.pop("row_condition") or "")
            if kw.pop("condition_parser", None) != "pandas" or not match:
                raise UnsupportedExpectation(f"{kind}: row_condition {exp['kwargs'].get('row_condition')!r}")
            condition = f"{sql_ident(match[1])} IS NOT DISTINCT FROM {_literal(match[2])}"
        if kind == "expect_table_columns_to_match_set":
            if kw.pop("exact_match", True) is not False:
                raise UnsupportedExpectation(f"{kind} with exact_match")
            rules.append(CompiledRule(kind, tuple(kw.pop("column_set")), "table"))
        elif kind in ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"):
            cols = (kw.pop("column"),) if "column" in kw else tuple(kw.pop("column_list"))
            rules.append(CompiledRule(kind, cols, "key"))
        elif kind == "expect_column_pair_values_a_to_be_greater_than_b":
            a, b = kw.pop("column_A"), kw.pop("column_B")
            if kw.pop("ignore_row_if", None) != "either_value_is_missing":
                raise UnsupportedExpectation(f"{kind} without ignore_row_if either_value_is_missing")
            op = ">=" if kw.pop("or_equal", False) else ">"
            rules.append(
                CompiledRule(
                    kind,
                    (a, b),
                    "row",
                    f"({condition} AND NOT {missing(a)} AND NOT {missing(b)} "
                    f"AND NOT ({sql_ident(a)} {op} {sql_ident(b)}))",
                )
            )
        else:
            col = kw.pop("column")
            c = sql_ident(col)
            if kind == "expect_column_values_to_not_be_null":
                fails = missing(col)
            elif kind == "expect_column_values_to_be_in_type_list":
                # the batch is typed by DuckDB: a column's values all have its Python type, or none has
                wanted = set(kw.pop("type_list"))
                fails = (
                    "FALSE" if wanted & set(PYTHON_TYPES.get(column_types.get(col, ""), [])) else f"NOT {missing(col)}"
                )
            elif kind == "expect_column_values_to_be_in_set":
                values = ", ".join(_literal(v) for v in kw.pop("value_set"))
                fails = f"NOT {missing(col)} AND {c} NOT IN ({values})"
            elif kind == "expect_column_values_to_be_between":
                low, high = kw.pop("min_value", None), kw.pop("max_value", None)
                if kw.pop("strict_min", False) or kw.pop("strict_max", False):
                    raise UnsupportedExpectation(f"{kind} with strict bounds")
                out = [f"{c} < {_literal(low)}"] if low is not None else []
                out += [f"{c} > {_literal(high)}"] if high is not None else []
                fails = f"NOT {missing(col)} AND ({' OR '.join(out) or 'FALSE'})"
            else:
                raise UnsupportedExpectation(kind)
            rules.append(CompiledRule(kind, (col,), "row", f"({condition} AND {fails})"))
        kw.pop("meta", None)
        if kw:  # mostly, result_format, ...: an option the translation would ignore
            raise UnsupportedExpectation(f"{kind}: options {sorted(kw)}")
    return rules


def key_unexpected_sql(rule: CompiledRule, relation: str, parts: int = 1, part: int = 0) -> str:
    """How many rows GX counts as breaking a uniqueness rule: rows whose (non-missing) key repeats.
    With `parts` > 1, only the keys whose hash falls in `part`: a key's repeats share its hash, so
    the counts of the parts add up to the whole, each part grouping a share of the keys."""
    cols = ", ".join(sql_ident(c) for c in rule.columns)
    present = " OR ".join(f"{sql_ident(c)} IS NOT NULL" for c in rule.columns)  # GX skips rows with all missing
    if rule.rule == "expect_column_values_to_be_unique":
        present = f"{sql_ident(rule.columns[0])} IS NOT NULL"
    share = f" AND hash({cols}) % {int(parts)} = {int(part)}" if parts > 1 else ""
    return (
        f"SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {relation} WHERE ({present}){share} "
        f"GROUP BY {cols} HAVING count(*) > 1)"
    )


def sql_disagreements(report: ValidationReport, sql_reasons: dict[int, list[str]], lines: list[int]) -> list[str]:
    """Lines of a GX-validated sample where GX and the compiled rules do not find the same broken rules."""
    key_rules = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")

    def broken(reasons: list[str]) -> list[str]:  # the rules, not how a value prints (an odd old
        return sorted(
            r.split("; value ")[0]
            for r in reasons  # offset prints otherwise in pandas)
            if not any(f"rule {k}" in r for k in key_rules)
        )

    out = []
    for line in lines:
        gx, sql = broken(report.row_reasons.get(line, [])), broken(sql_reasons.get(line, []))
        if gx != sql:
            out.append(f"line {line}: Great Expectations {gx} / compiled rules {sql}")
    return out
