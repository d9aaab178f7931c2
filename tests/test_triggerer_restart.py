"""Durable announcements under a real triggerer (issue 26, point 3): 100 files announced on a
Redis stream of the machine's Redis in a burst, the `airflow triggerer` process killed (SIGKILL)
midway and started again. Every file gets its landing Asset event from the stream, none is lost;
a file fires twice only when its entry was read and not yet acknowledged at the kill (delivery
is at least once: ingest skips a file it already loaded, by content hash); nothing stays pending.
The landing-folder watcher polls too slowly here to fire: it would announce a file the stream
lost, and hide the loss (its claims are tested in test_landing_watch.py and the compose rehearsal).

Not loaded: ingest of the 100 two-row files takes about 15 s of CPU even with Great Expectations
off the load (0.15 s a file; its check then 0.35 s a load), which the suite's time cannot take;
what a load does with an Asset event is the scheduler tests' part (docs/performance.md).
Here the events stop at the ingest DAG queued for its run (Airflow's asset queue), with no
scheduler: only the DAG processor (which starts the watchers) and the triggerer run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from pipelines.orchestration.announcements import announcement_stream
from tests.airflow_processes import AirflowProcesses
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.scheduler]

FILES = 100
KILLED_AFTER = 50  # announced before the kill; the rest while no triggerer runs
REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis():
    import redis

    client = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis on 127.0.0.1:6379 is required in CI: {exc}")
        pytest.skip(f"no Redis on 127.0.0.1:6379: {exc}")
    return client


def landing_events(database: Path) -> list[dict]:
    """The payloads of the calls landing Asset's events, from the metadata database."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as con:
        rows = con.execute(
            "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.name = 'esprit_calls_landing'"
        ).fetchall()
    return [json.loads(extra or "{}").get("payload", {}) for (extra,) in rows]


def queued_dags(database: Path) -> set[str]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as con:
        return {r[0] for r in con.execute("SELECT target_dag_id FROM asset_dag_run_queue")}


def wait_for(condition, airflow: AirflowProcesses, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        airflow.check_alive()
        try:
            if condition():
                return
        except sqlite3.OperationalError:  # tables not created yet, or a writer holds the file
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:.0f} s\n{airflow.all_logs()}")
        time.sleep(0.1)


def test_a_burst_of_announcements_survives_a_killed_triggerer(tmp_path):
    from cryptography.fernet import Fernet

    client = _redis()
    channel = f"esprit-test-restart:{os.getpid()}:{time.time_ns()}"
    stream = announcement_stream(channel, "calls")
    home = tmp_path / "esprit"
    landing = home / "landing" / "calls"
    landing.mkdir(parents=True)
    (home / "esprit.yaml").write_text(
        "sources: {calls: [{match: '*', profile: generator_calls}]}\norchestration: {watch_poll_seconds: 3600}\n"
    )
    dags = tmp_path / "dags"  # the ingest DAG alone: no metrics or scorecard DAG to parse
    dags.mkdir()
    (dags / "esprit_ingest.py").symlink_to(REPO_ROOT / "dags" / "esprit_ingest.py")
    airflow = AirflowProcesses(
        home / ".airflow",
        home,
        {
            "ESPRIT_CONFIG": str(home / "esprit.yaml"),
            "ESPRIT_REDIS_CHANNEL": channel,
            "AIRFLOW_CONN_ESPRIT_REDIS": REDIS_URL,
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            # one key for both components: each would otherwise read the one the first to start
            # writes into airflow.cfg, or none (the trigger's arguments then cannot be decrypted)
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            # the restarted triggerer takes over the killed one's triggers once its heartbeat
            # (every second here) is this old: Airflow's default waits 30 s
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
        },
    )
    database = Path(airflow.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///"))
    names = [f"calls_{n:03d}.csv" for n in range(FILES)]

    def land_and_announce(batch: list[str]) -> None:
        """As fast as Redis takes them: each file renamed into place, then its entry added."""
        burst = client.pipeline(transaction=False)
        for name in batch:
            (landing / f".{name}.part").write_text(f"{name}\n")
            os.replace(landing / f".{name}.part", landing / name)
            burst.xadd(stream, {"file": name})
        burst.execute()

    def group_exists() -> bool:  # the stream's watcher runs: it creates its consumer group
        return client.exists(stream) and any(g["name"] == "esprit" for g in client.xinfo_groups(stream))

    try:
        started = time.monotonic()
        airflow.start(["dag-processor"], ["triggerer"])
        wait_for(group_exists, airflow, "consumer group (the triggerer's watchers)")
        land_and_announce(names[:KILLED_AFTER])
        wait_for(lambda: landing_events(database), airflow, "first landing event")
        triggerer = airflow.processes.pop()
        os.killpg(triggerer.pid, signal.SIGKILL)
        triggerer.wait(10)
        first_life = airflow.logs.pop()
        first_life.rename(first_life.with_name("triggerer-killed.log"))
        killed_at = time.monotonic() - started
        # read by the killed triggerer and never acknowledged: the only entries that may fire twice
        unacknowledged = {e["message_id"] for e in client.xpending_range(stream, "esprit", "-", "+", FILES)}
        events_before_restart = len(landing_events(database))
        land_and_announce(names[KILLED_AFTER:])
        airflow.set_up = False  # the metadata database is there
        airflow.start(["triggerer"])

        def all_announced() -> bool:
            pending = client.xpending(stream, "esprit")["pending"]
            lag = client.xinfo_groups(stream)[0]["lag"]
            return pending == 0 and lag == 0 and len(_files(landing_events(database))) == FILES

        wait_for(all_announced, airflow, "event for every file, every entry acknowledged")
        events = landing_events(database)
        elapsed = time.monotonic() - started
        queued = queued_dags(database)
    finally:
        airflow.stop()
        client.delete(stream, *client.scan_iter(match=f"{stream}:*"))
    fired = _files(events)
    twice = {name for name, count in fired.items() if count > 1}
    print(
        f"\n{FILES} announcements, triggerer killed at {killed_at:.1f} s with {events_before_restart} events "
        f"stored and {len(unacknowledged)} entries unacknowledged; all announced {elapsed:.1f} s after the "
        f"start, {len(twice)} twice"
    )
    assert sorted(fired) == names  # none lost
    assert all(e.get("stream") == stream for e in events), events
    redelivered = {e["files"][0] for e in events if e.get("entry") in unacknowledged}
    assert twice <= redelivered, (twice, unacknowledged)
    assert queued == {"esprit_ingest_calls"}  # the events queued the ingest DAG's run


def _files(events: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in events:
        for name in event.get("files", []):
            counts[name] = counts.get(name, 0) + 1
    return counts
