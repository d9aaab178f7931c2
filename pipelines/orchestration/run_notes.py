"""The note of each ingest DAG run (Airflow's DAG-run note, shown in the UI's run list and
details): files loaded, rows loaded and quarantined, and the files rejected, failed or skipped.

A task cannot set its own run's note: it reaches Airflow through the Task SDK's execution API,
which has no call for it, and the public REST API that edits notes needs a user's credentials.
The scheduler can: `note_ingest_run` runs in it, from the listener of Esprit's Airflow plugin
(`airflow_plugin.py`) as the run ends, and writes the note from the `load` task's result (its
XCom) in the scheduler's own session. A note a user wrote is kept.
"""

from __future__ import annotations

NOTE_CHARS = 1000  # Airflow's dag_run_note.content is VARCHAR(1000) (PostgreSQL refuses more)
LOAD_TASK = "load"


def ingest_note(result: dict, shown: int = 5) -> str:
    """The note of an ingest run from its load's result (`tasks.ingest`): names the first `shown`
    files of each kind, then "(and N more)"."""
    from pipelines.console import shown_name

    def names(items: list) -> str:
        listed = [shown_name(i["file"] if isinstance(i, dict) else i) for i in items[:shown]]
        more = f" (and {len(items) - shown} more)" if len(items) > shown else ""
        return ", ".join(listed) + more

    files = result.get("files") or []
    lines = [
        f"{len(files)} file(s) loaded, {result.get('rows', 0)} row(s), {result.get('rows_quarantined', 0)} quarantined"
        + (f": {names(files)}" if files else "")
    ]
    if result.get("rows_quarantined"):
        lines.append("Warning: rows were quarantined (table quarantine: file, line, reasons)")
    for key, said in (("rejected", "rejected"), ("failed", "failed to load"), ("skipped", "skipped")):
        items = result.get(key) or []
        if items:
            lines.append(f"{len(items)} file(s) {said}: {names(items)}")
    note = "\n".join(lines)
    return note if len(note) <= NOTE_CHARS else note[: NOTE_CHARS - 1] + "…"


def note_ingest_run(dag_run) -> str | None:
    """Set the note of an ingest run that ended. Returns the note, or None when the run is no
    ingest, its load left no result, or a user wrote its note.

    In the session that holds the run when there is one (the scheduler's, the API server's: on
    SQLite a second session would wait for its lock); `dag.test()` hands a detached run, noted in
    a session of its own."""
    from sqlalchemy.orm import object_session

    if not dag_run.dag_id.startswith("esprit_ingest_"):
        return None
    session = object_session(dag_run)
    if session is not None:
        return _note(session, dag_run)
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as own:
        return _note(own, own.get(DagRun, dag_run.id))


def _note(session, dag_run) -> str | None:
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    existing = dag_run.dag_run_note
    if existing is not None and existing.user_id is not None:
        return None
    row = session.execute(
        select(XComModel).where(
            XComModel.dag_run_id == dag_run.id,
            XComModel.task_id == LOAD_TASK,
            XComModel.key == "return_value",
            XComModel.map_index == -1,
        )
    ).scalar_one_or_none()
    result = XComModel.deserialize_value(row) if row is not None else None
    if not isinstance(result, dict):
        return None
    dag_run.note = ingest_note(result)
    return dag_run.note
