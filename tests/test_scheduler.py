"""Esprit under a real, running Airflow: ten files of the three sources landing at once start
their ingest through the triggerer's landing watchers (no manual trigger, no polling run), the
Asset chain builds the metrics and publishes the scorecard, within a stated bound, with no lock
error; and the result equals a sequential load of the same files. Once with `airflow standalone`
(SQLite, LocalExecutor), once as docker-compose.yml's multi-node deployment, rehearsed without a
container engine (CeleryExecutor on the local Redis, metadata on the local PostgreSQL)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.config import load_settings
from pipelines.orchestration.run import run_all
from pipelines.warehouse import WarehouseBusy, connect
from tests.airflow_processes import FAST, VENV_BIN, AirflowProcesses, free_port
from tests.compose_rehearsal import Rehearsal
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.scheduler]

# From the files landing to every week's scorecard on disk, on a 2-core machine; generous because
# the components start (and parse the DAGs) after the files have landed.
BOUND_SECONDS = 480
SOURCES = ("calls", "complaints", "surveys")


def land_at_once(generated: Path, landing: Path, announce=None) -> int:
    """Every export of every source, written as exporters do: under a temporary name, then renamed;
    `announce(source, name)`, when given, then announces the calls files on their stream."""
    count = 0
    for source in SOURCES:
        (landing / source).mkdir(parents=True, exist_ok=True)
    for source in SOURCES:
        for path in sorted((generated / source).iterdir()):
            partial = landing / source / f"{path.name}.part"
            shutil.copyfile(path, partial)
            os.replace(partial, landing / source / path.name)
            if announce is not None and source == "calls":
                announce(source, path.name)
            count += 1
    return count


def warehouse_state(warehouse: Path) -> tuple[int, list[str]] | None:
    """(files loaded, weeks) or None while a writer holds the file."""
    if not warehouse.exists():
        return None
    try:
        con = connect(warehouse, read_only=True)
    except (duckdb.Error, WarehouseBusy):  # a task is writing it: look again at the next poll
        return None
    try:
        loaded = con.execute("SELECT count(*) FROM load_audit WHERE status = 'loaded'").fetchone()[0]
        weeks = (
            [r[0] for r in con.execute("SELECT DISTINCT week FROM weekly_scorecard ORDER BY 1").fetchall()]
            if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'weekly_scorecard'").fetchone()[0]
            else []
        )
        return loaded, weeks
    except duckdb.Error:
        return None
    finally:
        con.close()


def wait_until_published(airflow: AirflowProcesses, settings, files: int, weeks: list[str]) -> float:
    started = time.monotonic()
    while time.monotonic() - started < BOUND_SECONDS:
        airflow.check_alive()
        pages = all((settings.scorecards_dir / w / "scorecard.html").exists() for w in weeks)
        if pages and warehouse_state(settings.warehouse) == (files, weeks):
            return time.monotonic() - started
        time.sleep(3)
    raise AssertionError(
        f"no scorecard for {weeks} within {BOUND_SECONDS} s; state "
        f"{warehouse_state(settings.warehouse)}\n{airflow.all_logs()}"
    )


def metric_rows(warehouse: Path) -> list[tuple]:
    con = connect(warehouse, read_only=True)
    try:
        return con.execute(
            "SELECT week, metric, round(value, 9), numerator, denominator FROM weekly_metrics ORDER BY week, metric"
        ).fetchall()
    finally:
        con.close()


def sequential_reference(generated: Path, home: Path, config: Path) -> list[tuple]:
    settings = load_settings(config, base_dir=home)
    shutil.copytree(generated, settings.landing, ignore=shutil.ignore_patterns("ground_truth"))
    run_all(settings)
    return metric_rows(settings.warehouse)


TEST_CONFIG = """\
orchestration: {watch_poll_seconds: 1, retry_delay_seconds: 5}
scorecard: {pdf: false}
"""


def esprit_home(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The test's Esprit folder and config: quick polling, no PDF (printing is tested elsewhere)."""
    home = tmp_path / "esprit"
    home.mkdir()
    (home / "esprit.yaml").write_text(TEST_CONFIG)
    return home, {"ESPRIT_CONFIG": str(home / "esprit.yaml")}


def runs_and_events(airflow: AirflowProcesses) -> tuple[set[tuple[str, str]], dict[str, list[dict]]]:
    """From Airflow's metadata database: (dag_id, run_type) of every run, and each Asset's event extras."""
    from sqlalchemy import create_engine, text

    engine = create_engine(airflow.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        with engine.connect() as connection:
            runs = {(d, str(t)) for d, t in connection.execute(text("SELECT dag_id, run_type FROM dag_run"))}
            events: dict[str, list[dict]] = {}
            for name, extra in connection.execute(
                text("SELECT a.name, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id")
            ):
                events.setdefault(name, []).append(extra if isinstance(extra, dict) else json.loads(extra or "{}"))
    finally:
        engine.dispose()
    return runs, events


def run_and_check(
    generated: Path,
    home: Path,
    airflow: AirflowProcesses,
    *components: list[str],
    stop=None,
    while_up=None,
    announce=None,
) -> dict[str, list[dict]]:
    """`while_up()`, when given, runs once the scorecards are published, the components still up;
    `stop()`, when given, ends the components first (what is left is then killed anyway);
    `announce(source, name)`, when given, announces the calls files on their stream as they land.
    Returns each Asset's event extras."""
    settings = load_settings(home / "esprit.yaml", base_dir=home)
    weeks = json.loads((generated / "ground_truth" / "summary.json").read_text())["weeks"]
    try:
        airflow.start(*components)
        files = land_at_once(generated, settings.landing, announce)
        assert files == FILES
        elapsed = wait_until_published(airflow, settings, files, weeks)
        if while_up is not None:
            while_up()
    finally:
        if stop is not None:
            stop()
        airflow.stop()
    print(
        f"\n{files} files for {len(SOURCES)} sources landed at once: every scorecard of {weeks} published "
        f"in {elapsed:.0f} s (bound {BOUND_SECONDS} s)"
    )
    logs = "\n".join(p.read_text(errors="replace") for p in airflow.home.rglob("*.log"))
    assert "could not set lock" not in logs.lower()  # the pool kept DuckDB to one writer at a time
    assert not list(settings.rejected.rglob("*.csv"))
    assert metric_rows(settings.warehouse) == sequential_reference(generated, home / "sequential", home / "esprit.yaml")
    runs, events = runs_and_events(airflow)
    # nobody triggered anything: loads and builds came from Asset events (the scorecard may also
    # have its Monday run, from the cron schedule)
    assert {t for d, t in runs if not d.endswith("scorecard")} == {"asset_triggered"}, runs
    assert {t for _, t in runs} <= {"asset_triggered", "scheduled"}, runs
    assert {d for d, _ in runs} >= {
        "esprit_ingest_calls",
        "esprit_ingest_complaints",
        "esprit_ingest_surveys",
        "esprit_metrics",
        "esprit_scorecard",
    }
    for source in SOURCES:  # the landing watchers fired, and each load said what it loaded
        assert events[f"esprit_{source}_landing"]
        loads = events[f"esprit_{source}_loaded"]
        assert sum(len(e["files"]) for e in loads) == len(list((generated / source).iterdir()))
        assert sorted({w for e in loads for w in e["weeks"]}) == weeks and all(e["rows"] > 0 for e in loads)
    assert sorted({w for e in events["esprit_metrics"] for w in e["recomputed_weeks"]}) == weeks
    return events


FILES = 10


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """Small: what is measured here is the orchestration, not the volume. Two weeks are 8 files; each
    week's calls export is cut in two (as a call centre exporting twice a week would): 10 files."""
    from pipelines.generate import generate

    landing = tmp_path_factory.mktemp("scheduler") / "landing"
    generate(landing, weeks=2, seed=23, journeys_per_week=60)
    for path in sorted((landing / "calls").iterdir()):
        header, *rows = path.read_text(encoding="utf-8").splitlines(keepends=True)
        half = len(rows) // 2
        for part, chunk in (("a", rows[:half]), ("b", rows[half:])):
            path.with_name(f"{path.stem}{part}{path.suffix}").write_text(header + "".join(chunk), encoding="utf-8")
        path.unlink()
    assert sum(len(list((landing / source).iterdir())) for source in SOURCES) == FILES
    return landing


class StartWatch:
    """Looks, twice a second from the start, whether the API server answers and which of
    Esprit's DAGs are unpaused (in the SQLite metadata database)."""

    def __init__(self, airflow: AirflowProcesses):
        import threading

        self.airflow, self.seen, self.done = airflow, [], threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)
        self.thread.start()

    def watch(self) -> None:
        import sqlite3

        from pipelines.orchestration.local_airflow import api_healthy

        database = self.airflow.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
        while not self.done.wait(0.5):
            unpaused = []
            if Path(database).exists():
                try:
                    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as con:
                        unpaused = [
                            r[0]
                            for r in con.execute("SELECT dag_id FROM dag WHERE NOT is_paused AND dag_id LIKE 'esprit%'")
                        ]
                except sqlite3.Error:  # not migrated yet, or locked by a writer: look again
                    continue
            self.seen.append((api_healthy(self.airflow.port), unpaused))

    def stop(self) -> list[tuple[bool, list[str]]]:
        self.done.set()
        self.thread.join(10)
        return self.seen


def test_standalone_loads_files_landing_together_and_publishes_the_scorecard(generated, tmp_path):
    """Started as `make airflow` does (`esprit airflow`: airflow standalone, its own port), and
    stopped as `make airflow-stop` does: no process of it is left, and its port is free. No DAG
    was unpaused before the API server answered (a task started earlier cannot reach it)."""
    import socket
    import subprocess
    import sys

    from pipelines.orchestration.local_airflow import airflow_processes

    home, env = esprit_home(tmp_path)
    airflow = AirflowProcesses(home / ".airflow", home, env)
    stopped = {}
    watch = StartWatch(airflow)

    def stop() -> None:
        stopped["seen"] = watch.stop()
        done = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "airflow", "--stop", "--home", str(home)],
            env=airflow.full_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        stopped.update(code=done.returncode, out=done.stdout + done.stderr, left=airflow_processes(airflow.home, None))

    run_and_check(
        generated, home, airflow, ["esprit", "airflow", "--home", str(home), "--port", str(airflow.port)], stop=stop
    )
    before_healthy = []
    for healthy, unpaused in stopped["seen"]:
        if healthy:
            break
        before_healthy += unpaused
    assert before_healthy == [], before_healthy
    assert any(healthy for healthy, _ in stopped["seen"])
    assert stopped["code"] == 0 and "processes ended" in stopped["out"], stopped
    assert stopped["left"] == [], stopped
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # closed connections may linger
        sock.bind(("127.0.0.1", airflow.port))  # but no process listens on the API's port any more


def _postgres_database(name: str):
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3)
    except psycopg2.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required in CI: {exc}")
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432: {exc}")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    return admin


def _redis_queue(number: int, queue: str):
    """Empty this run's Celery queue on Redis database `number`; return the function that empties
    it. Only its own keys: another checkout's suite may be using the same database at the same time."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=number, socket_connect_timeout=3)

    def empty() -> None:
        for key in client.scan_iter(match=f"*{queue}*"):  # the list (and its priority lists), its bindings
            name = key.decode(errors="replace").split("\x06\x16")[0]
            if name == queue or (name.startswith("_kombu.binding") and name.endswith(f".{queue}")):
                client.delete(key)

    try:
        empty()
        return empty
    except redis.exceptions.ConnectionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis on 127.0.0.1:6379 is required in CI: {exc}")
        pytest.skip(f"no Redis on 127.0.0.1:6379: {exc}")


SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker")
REHEARSAL_UID = 54321  # known to no /etc/passwd: any AIRFLOW_UID must work


def rehearsal_env(database: str, uid: int) -> dict[str, str]:
    """The .env of the rehearsal: .env.example with each value it asks for set (the machine's
    PostgreSQL trusts local connections: the password is never checked, but must pass the init)."""
    from cryptography.fernet import Fernet

    from pipelines.orchestration.deployment import read_env_file

    env = read_env_file(REPO_ROOT / ".env.example")
    env.update(
        {
            "AIRFLOW_UID": str(uid),
            "POSTGRES_USER": "postgres",
            "POSTGRES_DB": database,
            "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
            "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW_FERNET_KEY": Fernet.generate_key().decode(),
            "ESPRIT_PSEUDONYM_KEY": os.environ["ESPRIT_PSEUDONYM_KEY"],
            "ESPRIT_REDIS_CHANNEL": f"{database}:landing",  # exporters announce files on Redis Streams
        }
    )
    return env


def test_the_compose_deployment_rehearsed_on_postgres_and_redis_publishes_the_scorecard(generated):
    """docker-compose.yml without a container engine (tests/compose_rehearsal.py): the init
    service's command as root (it checks .env, migrates, creates the pool and hands the folders to
    AIRFLOW_UID:0), then the api-server, scheduler, dag-processor, triggerer and Celery worker,
    each its service's command as AIRFLOW_UID and group 0 with the environment Compose gives it,
    on the machine's PostgreSQL and Redis: the files landing reach their scorecards, and every
    component's health check passes. Without root, the services run as the caller. The calls
    exports are also announced on a Redis stream, as an exporter would with `esprit announce`: one
    Asset event each, from the stream, none from the folder watcher, every entry acknowledged."""
    import socket
    import subprocess
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    import redis

    from pipelines.orchestration.announcements import announce, announcement_stream

    root_user = os.geteuid() == 0
    database = f"esprit_test_{os.getpid()}"
    # Its own Celery queue, which only its own worker serves: a worker of another run on the same
    # Redis (another checkout's suite at the same time) neither takes its tasks nor has them taken.
    # Not database 7, which earlier versions of this test emptied as they started.
    queue, broker_db = database, 8
    admin = _postgres_database(database)
    empty_queue = _redis_queue(broker_db, queue)
    # not under pytest's own temporary folder, which only its owner may enter
    tree = Path(tempfile.mkdtemp(prefix="esprit-compose-"))
    tree.chmod(0o755)
    rehearsal = Rehearsal(
        tree,
        rehearsal_env(database, REHEARSAL_UID if root_user else os.getuid()),
        api_port=free_port(),
        health_port=free_port(),
        broker_db=broker_db,
    )
    rehearsal.variables["ESPRIT_LANDING_DIR"] = rehearsal.mapped("/data/landing")  # the exporters' side of it
    # The image's /data and /opt/airflow: group 0 may write them. Each volume as Docker mounts a
    # new one, or a bind mount whose host folder it had to create: root's, no one else may write.
    data = Path(rehearsal.mapped("/data"))
    for folder in (data, Path(rehearsal.mapped("/opt/airflow"))):
        folder.mkdir()
        folder.chmod(0o775)
    for volume in rehearsal.services["airflow-init"]["volumes"]:
        Path(rehearsal.mapped(volume).split(":")[1]).mkdir(mode=0o755)
    (data / "esprit.yaml").write_text(TEST_CONFIG)  # found under ESPRIT_HOME, no ESPRIT_CONFIG
    # the calls exports are also announced on a Redis stream of this run's own, on the Redis
    # connection the compose file gives the services
    stream_channel = rehearsal.variables["ESPRIT_REDIS_CHANNEL"]
    redis_url = rehearsal.mapped(rehearsal.environment("airflow-triggerer")["AIRFLOW_CONN_ESPRIT_REDIS"])
    stream = announcement_stream(stream_channel, "calls")
    uid = int(rehearsal.variables["AIRFLOW_UID"])
    assert {rehearsal.user(name) for name in SERVICES} == {(uid, 0)}  # every service: AIRFLOW_UID, group 0
    user = (uid, 0) if root_user else None
    try:
        init = rehearsal.environment("airflow-init")
        assert rehearsal.user("airflow-init") == (0, 0)
        started = time.monotonic()
        done = subprocess.run(
            rehearsal.command("airflow-init"),
            env={**init, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "folders ready for user" in done.stdout, done.stdout
        timings = {"init": time.monotonic() - started}
        airflow = AirflowProcesses(Path(init["AIRFLOW_HOME"]), data, user=user, set_up=False)
        airflow.env = {**FAST, **init, "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2"}
        airflow.env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] = queue
        healthy: dict[str, subprocess.CompletedProcess] = {}

        def health_checks() -> None:
            """Each service's health check, as the service would run it in its container."""

            def check(name: str) -> subprocess.CompletedProcess:
                return subprocess.run(
                    airflow.as_user(rehearsal.healthcheck(name)),
                    env={**airflow.full_env(), **rehearsal.environment(name), "HOSTNAME": socket.gethostname()},
                    capture_output=True,
                    text=True,
                    timeout=180,
                )

            started = time.monotonic()
            with ThreadPoolExecutor(len(SERVICES)) as pool:
                healthy.update(zip(SERVICES, pool.map(check, SERVICES)))
            timings["health checks"] = time.monotonic() - started

        commands = [rehearsal.command_beside(name, init) for name in SERVICES]  # x-airflow-common's env, and theirs
        events = run_and_check(
            generated,
            data,
            airflow,
            *commands,
            while_up=health_checks,
            announce=lambda source, name: announce(redis_url, announcement_stream(stream_channel, source), name),
        )
        announced = [e["payload"] for e in events["esprit_calls_landing"]]
        from_stream = [f for p in announced if p.get("stream") == stream for f in p["files"]]
        from_folder = [f for p in announced if p.get("folder") for f in p["files"]]
        calls = sorted(p.name for p in (generated / "calls").iterdir())
        # every calls file announced once, by the stream (its watcher fired at once; the folder
        # watcher, a poll later, found each arrival claimed), and every entry acknowledged
        assert sorted(from_stream) == calls and not set(from_folder) & set(calls), announced
        assert redis.Redis.from_url(redis_url).xpending(stream, "esprit")["pending"] == 0
        print(f"compose rehearsal: {', '.join(f'{k} in {v:.0f} s' for k, v in timings.items())}")
        for name, check in healthy.items():
            assert check.returncode == 0, f"{name}'s health check failed:\n{check.stdout[-2000:]}{check.stderr[-2000:]}"
        if root_user:  # what the components wrote belongs to AIRFLOW_UID, group 0
            scorecard = next(data.glob("out/scorecards/*/scorecard.html")).stat()
            assert (scorecard.st_uid, scorecard.st_gid) == (REHEARSAL_UID, 0)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
        empty_queue()
        shutil.rmtree(tree, ignore_errors=True)
        redis.Redis.from_url(redis_url).delete(stream, *redis.Redis.from_url(redis_url).scan_iter(f"{stream}:*"))
