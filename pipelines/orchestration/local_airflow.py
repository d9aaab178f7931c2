"""Esprit's own Airflow set-up: the environment of a local Airflow, its metadata database and the
warehouse pool; and the real DAGs run in-process with `dag.test()` (the demo and its test).

Airflow is imported only inside `run_dags`, after the environment is set, so that
`import pipelines` never needs Airflow configured.
"""

from __future__ import annotations

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
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",  # files landing start loads at once
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
            "AIRFLOW__CORE__PARALLELISM": str(max(2, os.cpu_count() or 2)),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        }
    )
    return env


PID_FILE = "standalone.pid"  # in the Airflow home: the process group `esprit airflow --stop` ends


def start_standalone(env: dict[str, str]) -> None:
    """Become `airflow standalone` (execve), leader of a process group of its own, so that a stop
    reaches every component and every process they start; the pid is kept in the Airflow home."""
    try:
        os.setsid()
    except PermissionError:  # already a group leader (started with a session of its own)
        pass
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / PID_FILE).write_text(f"{os.getpid()}\n", encoding="utf-8")
    airflow = Path(sys.executable).with_name("airflow")
    path = f"{airflow.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    os.execve(str(airflow), [str(airflow), "standalone"], {**os.environ, **env, "PATH": path})


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
    if new is not None and template.exists():
        new.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, new)
        return
    migrate_metadata_db(env)
    ensure_warehouse_pool(env, pool)
    if new is not None and new.exists():
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
