"""Esprit's own Airflow set-up: the environment of a local Airflow, its metadata database and the
warehouse pool; and the real DAGs run in-process with `dag.test()` (the demo and its test).

Airflow is imported only inside `run_dags`, after the environment is set, so that
`import pipelines` never needs Airflow configured.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pipelines.contracts import REPO_ROOT


def dag_order(dag_ids) -> list[str]:
    """The order one weekly run goes through Esprit's DAGs: every source's ingest, the metrics,
    the scorecard (the sources are the configured ones: one ingest DAG each)."""
    ingests = sorted(d for d in dag_ids if d.startswith("esprit_ingest_"))
    return ingests + [d for d in ("esprit_metrics", "esprit_scorecard") if d in dag_ids]


def airflow_environment(airflow_home: Path, esprit_home: Path) -> dict[str, str]:
    """Environment for an embedded Airflow: SQLite metadata, the project's DAGs, no examples."""
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "ESPRIT_HOME": str(esprit_home),
        "GX_ANALYTICS_ENABLED": "false",
    }


def standalone_environment(esprit_home: Path, port: int) -> dict[str, str]:
    """`esprit airflow` (airflow standalone): the API on `port`, and the tasks told to reach it
    there (another Airflow on 8080 must not get this one's task traffic); LocalExecutor slots
    sized to the machine's cores rather than Airflow's default of 32."""
    env = airflow_environment(esprit_home / ".airflow", esprit_home)
    env.update(
        {
            # created paused, unpaused by `release_dags` once the API server answers: a task started
            # before it would be killed after its client's retries
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
            "AIRFLOW__CORE__PARALLELISM": str(max(2, os.cpu_count() or 2)),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        }
    )
    return env


PID_FILE = "standalone.pid"  # in the Airflow home: the process group `esprit airflow --stop` ends
HELD_FILE = "dags-held-until-healthy.json"  # in the Airflow home: the DAGs `release_dags` unpauses


def start_standalone(env: dict[str, str], dag_ids: list[str]) -> None:
    """Become `airflow standalone` (execve), leader of a process group of its own, so that a stop
    reaches every component and every process they start; the pid is kept in the Airflow home.

    Esprit's DAGs are paused first (`hold_dags`) and a process of the group unpauses them once
    the API server answers (`release_dags`): tasks started earlier failed to reach it."""
    try:
        os.setsid()
    except PermissionError:  # already a group leader (started with a session of its own)
        pass
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / PID_FILE).write_text(f"{os.getpid()}\n", encoding="utf-8")
    airflow = Path(sys.executable).with_name("airflow")
    path = f"{airflow.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    full_env = {**os.environ, **env, "PATH": path}
    os.environ.update(full_env)  # Airflow, imported by hold_dags, reads its settings from there
    hold_dags(home, dag_ids)
    subprocess.Popen(  # stays in the group: the stop ends it too
        [sys.executable, "-m", "pipelines.orchestration.local_airflow", env["AIRFLOW__API__PORT"]], env=full_env
    )
    os.execve(str(airflow), [str(airflow), "standalone"], full_env)


def esprit_dag_ids(sources) -> list[str]:
    return dag_order([f"esprit_ingest_{s}" for s in sources] + ["esprit_metrics", "esprit_scorecard"])


def hold_dags(airflow_home: Path, dag_ids: list[str]) -> list[str]:
    """Pause those of Esprit's DAGs that run, and note them with the DAGs not created yet (created
    paused) as the ones to release; a DAG the operator paused stays paused. Returns the noted."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    held = airflow_home / HELD_FILE
    release = set(json.loads(held.read_text())) if held.exists() else set()  # a start that never got healthy
    with create_session() as session:
        existing = {m.dag_id: m for m in session.scalars(select(DagModel).where(DagModel.dag_id.in_(dag_ids)))}
        for dag_id in dag_ids:
            model = existing.get(dag_id)
            if model is None or not model.is_paused:
                release.add(dag_id)
            if model is not None:
                model.is_paused = True
    held.write_text(json.dumps(sorted(release)), encoding="utf-8")
    return sorted(release)


def api_healthy(port: int | str) -> bool:
    """Whether Airflow's API server on this port answers its health check."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://localhost:{port}/api/v2/monitor/health", timeout=3) as answer:
            return answer.status == 200
    except OSError:
        return False


def release_dags(airflow_home: Path, port: int | str, wait_seconds: float = 900.0) -> list[str]:
    """Once the API server answers: unpause the DAGs `hold_dags` noted (waiting for the new ones
    to be parsed) and ask the DAG processor to parse their files again at once, which starts
    their Assets' watchers (a paused DAG's watchers do not run). Returns the DAGs unpaused."""
    import time

    from airflow.models.dag import DagModel
    from airflow.models.dagbag import DagPriorityParsingRequest
    from airflow.utils.session import create_session
    from sqlalchemy import select

    deadline = time.monotonic() + wait_seconds
    while not api_healthy(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"Airflow's API server on port {port} did not answer within {wait_seconds:.0f} s")
        time.sleep(1)
    held = airflow_home / HELD_FILE
    release = json.loads(held.read_text()) if held.exists() else []
    while True:
        with create_session() as session:
            models = list(session.scalars(select(DagModel).where(DagModel.dag_id.in_(release))))
            if len(models) == len(release) or time.monotonic() > deadline:
                files = set()
                for model in models:
                    model.is_paused = False
                    files.add((model.bundle_name, model.relative_fileloc))
                for bundle, fileloc in files:
                    if session.get(DagPriorityParsingRequest, _parsing_request_id(bundle, fileloc)) is None:
                        session.add(DagPriorityParsingRequest(bundle_name=bundle, relative_fileloc=fileloc))
                break
        time.sleep(1)
    held.unlink(missing_ok=True)
    unpaused = sorted(m.dag_id for m in models)
    print(f"Airflow's API server answers: DAGs unpaused: {', '.join(unpaused)}", flush=True)
    return unpaused


def _parsing_request_id(bundle: str, fileloc: str) -> str:
    import hashlib

    return hashlib.md5(f"{bundle}:{fileloc}".encode()).hexdigest()  # as Airflow keys its requests


def airflow_processes(airflow_home: Path, group: int | None) -> list[int]:
    """Live processes in the process group, or whose environment names this Airflow home (a
    component that left the group)."""
    marker = f"AIRFLOW_HOME={airflow_home}".encode()
    found, ours = [], _ancestors()  # never the stop command itself, nor the shell or make above it
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in ours:
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if stat[0] == "Z":  # a zombie holds nothing; its parent reaps it
                continue
            if (group is not None and int(stat[2]) == group) or marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):  # gone meanwhile, or not ours to read
            continue
    return found


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            pid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return pids


def stop_standalone(airflow_home: Path, grace_seconds: float = 30.0) -> dict[str, int]:
    """End `esprit airflow`: SIGTERM to its process group and to any process of this Airflow home,
    SIGKILL to what is left after `grace_seconds`. Returns how many got each signal."""
    import signal
    import time

    pid_file = airflow_home / PID_FILE
    group = int(pid_file.read_text()) if pid_file.exists() else None
    signalled = {"terminated": 0, "killed": 0}
    for name, sig, wait in (("terminated", signal.SIGTERM, grace_seconds), ("killed", signal.SIGKILL, 10.0)):
        targets = airflow_processes(airflow_home, group)
        for pid in targets:
            try:
                os.kill(pid, sig)
                signalled[name] += 1
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while targets and time.monotonic() < deadline:
            time.sleep(0.2)
            targets = airflow_processes(airflow_home, group)
        if not targets:
            break
    pid_file.unlink(missing_ok=True)
    return signalled


def airflow_command(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the venv's `airflow` CLI with this environment (its bin first on PATH, as Airflow needs)."""
    airflow = Path(sys.executable).with_name("airflow")
    full_env = {**os.environ, **env, "PATH": f"{airflow.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([str(airflow), *args], env=full_env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"airflow {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done


def migrate_metadata_db(env: dict[str, str]) -> None:
    airflow_command("db", "migrate", env=env)


def ensure_warehouse_pool(env: dict[str, str], pool: str = "esprit_warehouse") -> None:
    """The pool of one slot that every warehouse task takes: DuckDB allows one writing process."""
    airflow_command("pools", "set", pool, "1", "Esprit warehouse: DuckDB allows one writing process per file", env=env)


def _new_sqlite_file(env: dict[str, str]) -> Path | None:
    """The SQLite metadata file this environment names, when it does not exist yet."""
    url = {**os.environ, **env}.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///").split("?")[0])
    return None if path.exists() else path


def _migrated(database: Path) -> bool:
    """Whether this SQLite file holds a migrated metadata database with its pools table: an empty
    file (a connection opened before the migration makes one) is never taken for a template."""
    import sqlite3

    if not database.is_file():
        return False
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as con:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error:
        return False
    return {"task_instance", "slot_pool"} <= tables


def metadata_template(pool: str) -> Path:
    """A migrated SQLite metadata database with the pool, kept in the environment (a new
    environment, with perhaps another Airflow, starts without one)."""
    from importlib.metadata import version

    return Path(sys.prefix) / "share" / "esprit" / f"airflow-{version('apache-airflow')}-{pool}.db"


def set_up_airflow(env: dict[str, str], pool: str = "esprit_warehouse") -> None:
    """What `make airflow`, the demo and the scheduler tests do before starting Airflow.

    A new SQLite metadata database is a copy of the template the first one left, when there is
    one: `airflow db migrate` and `pools set` start Airflow twice (docs/performance.md). An
    existing database, or PostgreSQL, is migrated as it is."""
    new = _new_sqlite_file(env)
    template = metadata_template(pool)
    if new is not None and _migrated(template):
        new.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, new)
        return
    migrate_metadata_db(env)
    ensure_warehouse_pool(env, pool)
    if new is not None and _migrated(new):
        template.parent.mkdir(parents=True, exist_ok=True)
        partial = template.with_name(f".{template.name}.{os.getpid()}.partial")
        shutil.copyfile(new, partial)
        os.replace(partial, template)  # atomic: two first set-ups at once each write a whole one


def run_dags(airflow_home: Path, esprit_home: Path, scorecard_weeks: str = "all", step=None) -> dict[str, str]:
    """Migrate the metadata DB, then run each DAG once with dag.test(); return dag_id -> state.
    `step(message)` hears of each DAG as it starts and ends (the CLI shows them on the terminal)."""
    step = step or (lambda message: None)
    airflow_home.mkdir(parents=True, exist_ok=True)
    env = airflow_environment(airflow_home, esprit_home)
    os.environ.update(env)
    set_up_airflow(env)
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=env["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    states = {}
    order = dag_order(bag.dag_ids)
    for position, dag_id in enumerate(order, start=1):
        conf = {"weeks": scorecard_weeks} if dag_id == "esprit_scorecard" else None
        step(f"DAG {position}/{len(order)} {dag_id}: running")
        run = bag.dags[dag_id].test(run_conf=conf)
        states[dag_id] = str(run.state)
        step(f"DAG {position}/{len(order)} {dag_id}: {states[dag_id]}")
        if states[dag_id] != "success":
            raise RuntimeError(f"DAG {dag_id} ended {run.state}; see the task log above")
    return states


if __name__ == "__main__":  # the process `start_standalone` leaves beside Airflow: python -m ... PORT
    release_dags(Path(os.environ["AIRFLOW_HOME"]), sys.argv[1])
