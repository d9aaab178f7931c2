"""One ingest DAG per source: validate and load its landing files, then emit its Asset."""

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, dag, task

from pipelines.tasks import SOURCES, source_asset


def ingest_dag(source: str):
    @dag(
        dag_id=f"esprit_ingest_{source}",
        description=f"Validate and load the {source} landing files into the warehouse",
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Paris"),
        catchup=False,
        max_active_runs=1,
        tags=["esprit", "ingest"],
    )
    def ingest_source():
        @task(task_id="ingest", outlets=[Asset(**source_asset(source))], retries=2,
              retry_delay=timedelta(seconds=20), retry_exponential_backoff=True)
        def ingest() -> dict:
            from pipelines.tasks import ingest as ingest_files

            return ingest_files(source)

        ingest()

    return ingest_source()


for _source in SOURCES:
    globals()[f"esprit_ingest_{_source}"] = ingest_dag(_source)
