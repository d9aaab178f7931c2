"""The functions Airflow tasks call: one per task, settings read at run time, JSON-able results.

Nothing here imports Airflow; the DAG files in `dags/` only wire these to schedules and Assets.
"""

from __future__ import annotations

from datetime import datetime, timezone

from pipelines.config import load_settings
from pipelines.weeks import last_completed_week, parse_week


def ingest(source: str) -> dict:
    """Load a source's new landing files; raises (failing the task) if a file was rejected."""
    from pipelines.ingest import ingest_source

    from pipelines.validation import build_data_docs

    settings = load_settings()
    try:
        results = ingest_source(settings, source)
    finally:  # the Data Docs show a failed validation too
        build_data_docs(settings.out / "validation_results", settings.data_docs_dir)
    loaded = [r for r in results if r.status == "loaded"]
    return {
        "source": source,
        "files": [r.file for r in loaded],
        "rows": sum(r.rows_loaded for r in loaded),
        "weeks": sorted({w for r in loaded for w in r.weeks}),
    }


def build_metrics() -> dict:
    from pipelines.models import build_models

    built = build_models(load_settings())
    return {"weeks": built["weeks"], "models": len(built["models"])}


def weeks_to_render(spec: str, run_after: datetime | None, tz: str) -> list[str] | None:
    """'previous' (the week before the run), 'all' (None: every week), or one ISO week."""
    if spec == "all":
        return None
    if spec == "previous":
        return [last_completed_week(run_after or datetime.now(timezone.utc), tz)]
    parse_week(spec)
    return [spec]


def render_scorecards(spec: str, run_after: datetime | None) -> list[str]:
    from pipelines.scorecard import render_weeks

    settings = load_settings()
    return [str(p) for p in render_weeks(settings, weeks_to_render(spec, run_after, settings.week_timezone))]


# Names of the Assets that chain the DAGs (the DAG files build Asset objects from these).
SOURCES = ("calls", "complaints", "surveys")
METRICS_ASSET = {"name": "esprit_metrics", "uri": "esprit://warehouse/metrics"}


def source_asset(source: str) -> dict:
    return {"name": f"esprit_{source}_loaded", "uri": f"esprit://warehouse/{source}"}
