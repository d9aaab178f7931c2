"""The functions Airflow tasks call: one per task, settings read at run time, JSON-able results.

Nothing here imports Airflow; the DAG files in `dags/` only wire these to schedules, Assets and
the warehouse pool. What a task returns becomes the `extra` of the Asset event it emits, so the
next DAG knows which files and weeks changed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipelines.config import Settings, load_settings
from pipelines.weeks import last_completed_week, parse_week


def ingest(source: str) -> dict:
    """Load a source's new landing files; rejected files are listed with their reports.

    The good files of the same arrival stay loaded (and are published by the DAG); a separate
    task then fails on the rejections. The other sources are separate DAGs: never blocked.
    """
    from pipelines.ingest.load import ingest_source

    # Great Expectations checks the loads' samples in the metrics task, before its build (gx_check)
    results = ingest_source(load_settings(), source, fail_on_reject=False)
    loaded = [r for r in results if r.status == "loaded"]
    _log_load(source, results)
    return {
        "source": source,
        "files": [r.file for r in loaded],
        "rows": sum(r.rows_loaded for r in loaded),
        "rows_quarantined": sum(r.rows_quarantined for r in loaded),
        "weeks": sorted({w for r in loaded for w in r.weeks}),
        "rejected": [{"file": r.file, "problems": list(r.problems)} for r in results if r.status == "rejected"],
        "failed": [{"file": r.file, "problems": list(r.problems)} for r in results if r.status == "failed"],
        "skipped": [{"file": r.file, "reason": r.reason} for r in results if r.status == "skipped"],
    }


def _log_load(source: str, results) -> None:
    """The task log's account of a load: one line of counts, a warning per file whose rows were
    quarantined (loaded, but not all of it), and each file skipped with its reason.

    The same counts are the `extra` of the source's Asset event (the publish task), and the
    run's note, which the scheduler writes from this task's result (`run_notes.py`)."""
    from pipelines.console import shown_name

    log = logging.getLogger("esprit")
    loaded = [r for r in results if r.status == "loaded"]
    count = {status: sum(r.status == status for r in results) for status in ("skipped", "rejected", "failed")}
    log.info(
        f"{source}: {len(loaded)} file(s) loaded, {sum(r.rows_loaded for r in loaded)} row(s), "
        f"{sum(r.rows_quarantined for r in loaded)} quarantined, {count['skipped']} skipped, "
        f"{count['rejected']} rejected, {count['failed']} failed"
    )
    for r in loaded:
        if r.rows_quarantined:
            log.warning(f"{source}: {r.rows_quarantined} row(s) quarantined in {shown_name(r.file)} (table quarantine)")
    skipped = [r for r in results if r.status == "skipped"]
    for r in skipped[:20]:  # why a file landed and loaded nothing
        log.info(f"{source}: skipped {shown_name(r.file)}: {r.reason}")
    if len(skipped) > 20:
        log.info(f"{source}: and {len(skipped) - 20} more file(s) skipped")


def rejection_report(result: dict, shown: int = 20) -> str:
    """The task-log text of an ingest's rejected files and of those whose load failed (an error,
    tried again at the next run): file, rule, line, column, value ('' if none); the first `shown`
    problems of each file, the report in rejected/ has them all."""
    from pipelines.console import shown_name

    lines = []
    for key, said in (
        ("rejected", "rejected (moved to rejected/ with a report)"),
        ("failed", "failed to load (left in the landing folder, tried again at the next run)"),
    ):
        items = result.get(key) or []
        if items:
            lines.append(f"{len(items)} file(s) of source '{result['source']}' {said}:")
        for item in items:  # a name is one line of text: a line break in it cannot forge a log line
            lines.append(f"- {shown_name(item['file'])}")
            lines += [f"    {shown_name(problem)}" for problem in item["problems"][:shown]]
            if len(item["problems"]) > shown:
                more = len(item["problems"]) - shown
                where = "the report beside the file in rejected/" if key == "rejected" else "the load_failures table"
                lines.append(f"    (and {more} more: {where} lists them)")
    return "\n".join(lines)


def skip_report(result: dict, shown: int = 20) -> str:
    """Why an ingest published nothing: each skipped file with its reason (the first `shown`)."""
    from pipelines.console import shown_name

    skipped = result.get("skipped") or []
    lines = [f"no new {result['source']} file loaded" + (f"; {len(skipped)} skipped:" if skipped else "")]
    lines += [f"- {shown_name(item['file'])}: {item['reason']}" for item in skipped[:shown]]
    if len(skipped) > shown:
        lines.append(f"- and {len(skipped) - shown} more")
    return "\n".join(lines)


def build_metrics() -> dict:
    """Great Expectations checks the samples of the loads not yet checked, and must agree with the
    compiled suite (GreatExpectationsDisagree: nothing is built, so nothing published); then
    rebuild journeys and metrics, weekly tables only for the weeks new files touched."""
    from pipelines.ingest.gx_check import check_loads
    from pipelines.model.build import build_models

    settings = load_settings()
    check_loads(settings)
    built = build_models(settings)
    return {
        "weeks": built["weeks"],
        "recomputed_weeks": built["recomputed_weeks"],
        "full": built["full"],
        "build_id": built["build_id"],
        "models": len(built["models"]),
    }


def weeks_to_render(
    spec: str, run_after: datetime | None, tz: str, changed_weeks: list[str] | None = None
) -> list[str] | None:
    """Which weeks a scorecard run renders.

    A run started by the metrics Asset renders the weeks that build recomputed (new weeks, and
    published weeks late data restated). A scheduled run renders `spec`: 'previous' (the week
    completed before the run: Airflow 3 cron runs carry no data interval), 'all' (None), or one
    ISO week.
    """
    if changed_weeks is not None:
        return sorted(set(changed_weeks))
    if spec == "all":
        return None
    if spec == "previous":
        return [last_completed_week(run_after or datetime.now(UTC), tz)]
    parse_week(spec)
    return [spec]


class NothingToRender(Exception):
    """No metrics in the warehouse yet: the scorecard task is skipped with this reason."""


def render_scorecards(spec: str, run_after: datetime | None, changed_weeks: list[str] | None = None) -> list[str]:
    """Render the weeks chosen by `weeks_to_render` that have data (and the index, always).
    NothingToRender when no metrics were ever built (a fresh install's first scheduled run);
    GreatExpectationsDisagree (ChecksPending) when a week holds rows Great Expectations disagreed
    on (has yet to check: the next build does)."""
    from pipelines.ingest.gx_check import require_checked
    from pipelines.report.scorecard import available_weeks, render_weeks
    from pipelines.warehouse import connect

    settings = load_settings()
    if not _metrics_built(settings.warehouse):
        raise NothingToRender(
            f"no scorecard yet: the warehouse ({settings.warehouse.name}) holds no metrics; the scorecard "
            "renders once a file has loaded and the metrics DAG has run"
        )
    weeks = weeks_to_render(spec, run_after, settings.week_timezone, changed_weeks)
    if weeks is not None:
        con = connect(settings.warehouse, read_only=True)
        try:
            known = available_weeks(con)
        finally:
            con.close()
        if changed_weeks is not None:
            weeks = weeks_affected_on_pages(weeks, known, settings.scorecard["trend_weeks"])
        # a Monday with nothing loaded for last week publishes the index, not an error
        weeks = [w for w in weeks if w in known]
    require_checked(settings.warehouse, weeks)
    return [str(p) for p in render_weeks(settings, weeks)]


def _metrics_built(warehouse: Path) -> bool:
    from pipelines.warehouse import connect

    if not warehouse.exists():
        return False
    con = connect(warehouse, read_only=True)
    try:
        return bool(
            con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'weekly_scorecard'").fetchone()[0]
        )
    finally:
        con.close()


def weeks_affected_on_pages(changed: list[str], known: list[str], trend_weeks: int) -> list[str]:
    """A changed week also changes the pages after it: their change against the previous week,
    their 4-week average and sparklines reach back `trend_weeks` weeks."""
    affected = set(changed)
    for week in changed:
        if week in known:
            position = known.index(week)
            affected.update(known[position : position + trend_weeks])
    return sorted(affected)


def changed_weeks_from_events(events: list[dict]) -> list[str] | None:
    """The weeks recomputed by the metrics builds behind these Asset events (None: no such event)."""
    weeks = [w for extra in events for w in (extra or {}).get("recomputed_weeks", [])]
    return weeks if events else None


# Names of the Assets that chain the DAGs (the DAG files build Asset objects from these).
METRICS_ASSET = {"name": "esprit_metrics", "uri": "esprit://warehouse/metrics"}


def source_asset(source: str) -> dict:
    """What a source's ingest emits once its files are in the warehouse."""
    return {"name": f"esprit_{source}_loaded", "uri": f"esprit://warehouse/{source}"}


def landing_asset(source: str) -> dict:
    """The source's landing folder: watched, its events start the source's ingest."""
    return {"name": f"esprit_{source}_landing", "uri": f"esprit://landing/{source}"}


def orchestration_settings(settings: Settings | None = None) -> dict:
    """What the DAG files need when they are parsed: the configured sources (one ingest DAG each)
    and their landing folders, the week timezone (schedules), polling, pool, retries.

    ESPRIT_REDIS_CHANNEL overrides `orchestration.redis_channel` (deployments set it in .env).
    """
    import os

    settings = settings or load_settings()
    found = {
        "sources": list(settings.sources),
        "landing": {s: str(settings.landing / s) for s in settings.sources},
        "week_timezone": settings.week_timezone,
        "scorecard_cron": weekly_cron(settings.scorecard["publish_delay_hours"]),
        **settings.orchestration,
    }
    if os.environ.get("ESPRIT_REDIS_CHANNEL") is not None:
        found["redis_channel"] = os.environ["ESPRIT_REDIS_CHANNEL"]
    return found


def weekly_cron(hours_after_week_end: float) -> str:
    """The cron expression of a weekly run this many hours after the week ends (Monday 00:00):
    6 is Mondays at 06:00, 31.5 Tuesdays at 07:30 (whole minutes, within the next week)."""
    minutes = round(hours_after_week_end * 60)
    if not 0 <= minutes < 7 * 24 * 60:
        raise ValueError(f"scorecard.publish_delay_hours must be from 0 to under 168, not {hours_after_week_end}")
    day, minute_of_day = divmod(minutes, 24 * 60)
    return f"{minute_of_day % 60} {minute_of_day // 60} * * {(day + 1) % 7}"


def dag_arguments(found: dict) -> dict:
    """What every Esprit DAG shares (`@dag(**dag_arguments(...))`): dates in the week timezone, no
    catch-up, one run at a time, and each task's pool, retries and backoff as default_args."""
    import pendulum

    return {
        "start_date": pendulum.datetime(2026, 1, 1, tz=found["week_timezone"]),
        "catchup": False,
        "max_active_runs": 1,
        "default_args": {
            "pool": found["warehouse_pool"],
            "retries": found["retries"],
            "retry_delay": timedelta(seconds=found["retry_delay_seconds"]),
            "retry_exponential_backoff": True,
        },
    }
