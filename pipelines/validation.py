"""Great Expectations gate: validate a typed batch against its suite in `expectations/`.

GX runs on pandas batches read from DuckDB (its SQL engine over duckdb-engine is unreliable).
Each failure is reported with the file, the line, the column and the rule.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from pipelines.contracts import load_suite_json

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

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


@lru_cache(maxsize=1)
def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    # Progress bars would flood task logs; results are reported line by line instead.
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


@lru_cache(maxsize=None)
def _batch_definition(table: str):
    ctx = _context()
    source = ctx.data_sources.add_pandas(name=f"esprit_{table}")
    asset = source.add_dataframe_asset(name=table)
    return asset.add_batch_definition_whole_dataframe(name=f"{table}_batch")


@lru_cache(maxsize=None)
def _suite(table: str):
    import great_expectations as gx

    spec = load_suite_json(table)
    return gx.ExpectationSuite(name=spec["name"], expectations=spec["expectations"])


def validate_frame(table: str, frame: pd.DataFrame, line_column: str = "source_line") -> ValidationReport:
    """Validate one batch; `line_column` identifies each row's line in its source file."""
    # GX checks value types row by row only in object columns (pandas 3's extension dtypes
    # match none of its type names): each value keeps its Python type (str, int, Timestamp...).
    frame = frame.astype(object)
    batch = _batch_definition(table).get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(
        _suite(table),
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [line_column],
                       "partial_unexpected_count": MAX_LINES_PER_RULE},
    )
    failures, table_failures = [], []
    row_reasons: dict[int, list[str]] = {}
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        kwargs = cfg.kwargs
        columns = tuple(
            kwargs.get(k) for k in ("column", "column_A", "column_B") if kwargs.get(k)
        ) or tuple(kwargs.get("column_list") or kwargs.get("column_set") or ())
        res = r.result or {}
        index_list = res.get("unexpected_index_list") or []
        lines = []
        for item in index_list[:MAX_LINES_PER_RULE]:
            lines.append(int(item[line_column]) if isinstance(item, dict) else int(item))
        values = tuple(str(v) for v in (res.get("partial_unexpected_list") or [])[:5])
        if r.exception_info and r.exception_info.get("raised_exception"):
            values = (str(r.exception_info.get("exception_message")),)
        failure = RuleFailure(
            rule=cfg.type, columns=columns, lines=tuple(lines),
            unexpected_count=int(res.get("unexpected_count") or len(lines)), sample_values=values,
        )
        failures.append(failure)
        if not index_list:
            table_failures.append(failure)
        for item in index_list:
            if not isinstance(item, dict):
                continue
            shown = ", ".join(f"{c}={_show(item.get(c))}" for c in columns if c in item)
            row_reasons.setdefault(int(item[line_column]), []).append(
                f"column {'/'.join(columns)}: rule {cfg.type}" + (f"; value {shown}" if shown else ""))
    return ValidationReport(
        table=table, success=bool(result.success), evaluated=len(result.results),
        failures=tuple(failures), row_reasons=row_reasons, table_failures=tuple(table_failures),
        raw=result.to_json_dict(),
    )


def _show(value) -> str:
    if value is None or pd.isna(value):
        return "empty"
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def compact_result(raw: dict, keep: int = MAX_LINES_PER_RULE) -> dict:
    """A validation result small enough to keep: the long lists of unexpected rows are cut."""
    results = []
    for r in raw.get("results", []):
        res = dict(r.get("result") or {})
        for key in ("unexpected_list", "unexpected_index_list", "partial_unexpected_list",
                    "partial_unexpected_index_list", "partial_unexpected_counts"):
            if isinstance(res.get(key), list):
                res[key] = res[key][:keep]
        res.pop("unexpected_index_query", None)
        results.append({**r, "result": res})
    return {**raw, "results": results}


def build_data_docs(results_dir, site_dir) -> str | None:
    """Great Expectations Data Docs for every kept validation result; returns the index page."""
    import json
    from pathlib import Path

    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    from pipelines.contracts import CONTRACTS

    files = sorted(Path(results_dir).glob("*.json")) if Path(results_dir).is_dir() else []
    if not files:
        return None
    ctx = gx.get_context(mode="ephemeral")
    ctx.add_data_docs_site(site_name="esprit", site_config={
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(Path(site_dir))},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    for table in CONTRACTS:
        spec = load_suite_json(table)
        ctx.suites.add(gx.ExpectationSuite(name=spec["name"],
                                           expectations=spec["expectations"]))
    schema = ExpectationSuiteValidationResultSchema()
    for path in files:
        raw = json.loads(path.read_text(encoding="utf-8"))
        result = schema.load(raw)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=raw["suite_name"]),
            run_id=path.stem, batch_identifier=path.stem.split("__", 1)[-1])
        ctx.validation_results_store.set(key, result)
    return ctx.build_data_docs(site_names=["esprit"])["esprit"]
