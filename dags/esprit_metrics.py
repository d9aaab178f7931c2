"""Rebuild journeys and metrics whenever any source has loaded; emit the weeks recomputed."""

from datetime import timedelta
from functools import reduce
from operator import or_

import pendulum
from airflow.sdk import Asset, dag, get_current_context, task

from pipelines.orchestration.tasks import METRICS_ASSET, SOURCES, orchestration_settings, source_asset

SETTINGS = orchestration_settings()
METRICS = Asset(**METRICS_ASSET)


@dag(
    dag_id="esprit_metrics",
    description="Journeys, friction, handoffs and weekly metrics from the loaded sources",
    schedule=reduce(or_, (Asset(**source_asset(s)) for s in SOURCES)),  # any one source
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Paris"),
    catchup=False,
    max_active_runs=1,
    tags=["esprit", "metrics"],
)
def esprit_metrics():
    @task(outlets=[METRICS], pool=SETTINGS["warehouse_pool"], retries=SETTINGS["retries"],
          retry_delay=timedelta(seconds=SETTINGS["retry_delay_seconds"]), retry_exponential_backoff=True)
    def build_metrics() -> dict:
        from pipelines.orchestration.tasks import build_metrics as build

        result = build()
        get_current_context()["outlet_events"][METRICS].extra = result
        return result

    build_metrics()


esprit_metrics()
