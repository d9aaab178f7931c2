"""Rebuild the warehouse's journeys and metrics whenever any source has loaded."""

from datetime import timedelta
from functools import reduce
from operator import or_

import pendulum
from airflow.sdk import Asset, dag, task

from pipelines.tasks import METRICS_ASSET, SOURCES, source_asset


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
    @task(outlets=[Asset(**METRICS_ASSET)], retries=2, retry_delay=timedelta(seconds=20),
          retry_exponential_backoff=True)
    def build_metrics() -> dict:
        from pipelines.tasks import build_metrics as build

        return build()

    build_metrics()


esprit_metrics()
