"""Esprit's Airflow plugin (entry point `airflow.plugins` in pyproject.toml): a listener that
notes each ingest run as it ends (`run_notes.py`). Imported by Airflow's plugin manager only."""

from __future__ import annotations

import sys

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin


@hookimpl
def on_dag_run_success(dag_run, msg: str) -> None:
    from pipelines.orchestration.run_notes import note_ingest_run

    note_ingest_run(dag_run)


@hookimpl
def on_dag_run_failed(dag_run, msg: str) -> None:
    from pipelines.orchestration.run_notes import note_ingest_run

    note_ingest_run(dag_run)


class EspritPlugin(AirflowPlugin):
    name = "esprit"
    listeners = [sys.modules[__name__]]
