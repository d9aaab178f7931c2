"""From a file landed to its week's scorecard re-published, under `make airflow` (issue 26 point 7).

    python -m benchmarks.latency [--arrivals 3] [--weeks 2] [--pdf] [--redis URL] [--keep]

Starts `esprit airflow` (airflow standalone, as `make airflow` does) on a temporary folder, loads
`--weeks` weeks of sample exports and waits for their scorecards, then lands one weekly calls
file of the next week, cut in `--arrivals` parts landed one after the other: each part is a new
file, and its week's page is published (the first) or re-published (the others). For each
arrival it prints the latency (the page written, less the file's rename) and where the time
went, from Airflow's metadata database: the landing watcher's Asset event, then each DAG run
(queued, started, ended, and each of its tasks) of the ingest, the metrics and the scorecard. The machine's load
average is printed before and after: on a shared machine the figures move with it.
With `--redis URL`, each part is also announced on a Redis stream of the run's own
(`esprit announce`'s path): the folder watcher's polls are then out of the chain.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

CHAIN = ("esprit_ingest_calls", "esprit_metrics", "esprit_scorecard")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _timestamp(value) -> float | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def chain_after(database: Path, since: float) -> dict:
    """The landing Asset event and the first run of each DAG of the chain that came after `since`
    (epoch seconds), as seconds after it."""
    found: dict = {}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as con:
        for (stamp,) in con.execute(
            "SELECT e.timestamp FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE a.name = 'esprit_calls_landing' ORDER BY e.timestamp"
        ):
            if (_timestamp(stamp) or 0) >= since:
                found["landing event"] = _after(stamp, since)
                break
        for dag_id in CHAIN:
            for run_id, queued, started, ended, state, note in con.execute(
                "SELECT r.run_id, r.queued_at, r.start_date, r.end_date, r.state, n.content FROM dag_run r "
                "LEFT JOIN dag_run_note n ON n.dag_run_id = r.id WHERE r.dag_id = ? ORDER BY r.queued_at",
                (dag_id,),
            ):
                if (_timestamp(queued) or 0) >= since:
                    found[dag_id] = {
                        "queued": _after(queued, since),
                        "started": _after(started, since),
                        "ended": _after(ended, since),
                        "state": state,
                        "tasks": _tasks(con, dag_id, run_id, since),
                        "note": note,
                    }
                    break
    return found


def _after(value, since: float) -> float | None:
    stamp = _timestamp(value)
    return None if stamp is None else round(stamp - since, 2)


def _tasks(con, dag_id: str, run_id: str, since: float) -> dict:
    """Each task of the run: queued (the scheduler handed it to the executor), started (its
    process reached the API server), ended; seconds after `since`."""
    return {
        task_id: {"queued": _after(queued, since), "started": _after(started, since), "ended": _after(ended, since)}
        for task_id, queued, started, ended in con.execute(
            "SELECT task_id, queued_dttm, start_date, end_date FROM task_instance "
            "WHERE dag_id = ? AND run_id = ? ORDER BY start_date",
            (dag_id, run_id),
        )
    }


def idle(database: Path) -> bool:
    """No DAG run queued or running, and none about to be: an Asset event whose run the scheduler
    has not created yet waits in asset_dag_run_queue (a scorecard run after the first load's last
    metrics run held the warehouse while the first measured arrival waited, 8 December)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as con:
        return not (
            con.execute("SELECT count(*) FROM dag_run WHERE state IN ('queued', 'running')").fetchone()[0]
            or con.execute("SELECT count(*) FROM asset_dag_run_queue").fetchone()[0]
        )


def wait(condition, timeout: float, what: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise RuntimeError(f"esprit airflow exited with {process.returncode} while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {what} within {timeout:.0f} s")
        time.sleep(0.2)


def land(path: Path, folder: Path, name: str | None = None) -> float:
    """As exporters do: a temporary name, then the rename; returns the rename's time."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{name or path.name}.part"
    shutil.copyfile(path, partial)
    os.replace(partial, folder / (name or path.name))
    return time.time()


def measure(work: Path, weeks: int, arrivals: int, pdf: bool, redis_url: str | None = None) -> dict:
    from pipelines.generate import generate

    home, generated = work / "home", work / "generated"
    home.mkdir(parents=True)
    (home / "esprit.yaml").write_text("" if pdf else "scorecard:\n  pdf: false\n")
    generate(generated, weeks=weeks + 1, seed=11, journeys_per_week=300)
    all_weeks = sorted(json.loads((generated / "ground_truth" / "summary.json").read_text())["weeks"])
    new_week = all_weeks[-1]
    port = free_port()
    env = {
        **os.environ,
        "ESPRIT_DEMO": "1",
        "ESPRIT_CONFIG": str(home / "esprit.yaml"),
        "ESPRIT_HOME": str(home),
    }
    stream = None
    if redis_url:
        from pipelines.orchestration.announcements import announcement_stream

        channel = f"esprit-latency:{os.getpid()}"
        env.update(ESPRIT_REDIS_CHANNEL=channel, AIRFLOW_CONN_ESPRIT_REDIS=redis_url)
        stream = announcement_stream(channel, "calls")
    log = open(work / "airflow.log", "w")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("esprit")), "airflow", "--home", str(home), "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    database = home / ".airflow" / "airflow.db"
    scorecards = home / "out" / "scorecards"
    result = {"load_before": os.getloadavg(), "weeks": weeks, "arrivals": [], "pdf": pdf, "stream": bool(stream)}
    try:
        started = time.monotonic()
        for source in ("calls", "complaints", "surveys"):
            for path in sorted((generated / source).iterdir()):
                if new_week not in path.name:
                    land(path, home / "landing" / source)
        wait(
            lambda: all((scorecards / w / "scorecard.html").exists() for w in all_weeks[:-1]) and idle(database),
            1200,
            "first scorecards",
            process,
        )
        result["first_load_seconds"] = round(time.monotonic() - started, 1)
        (calls,) = [p for p in (generated / "calls").iterdir() if new_week in p.name]
        header, *rows = calls.read_text(encoding="utf-8").splitlines(keepends=True)
        page = scorecards / new_week / "scorecard.html"
        for part in range(arrivals):
            chunk = rows[part * len(rows) // arrivals : (part + 1) * len(rows) // arrivals]
            source_file = work / f"{calls.stem}_part{part + 1}{calls.suffix}"
            source_file.write_text(header + "".join(chunk), encoding="utf-8")
            before = page.stat().st_mtime if page.exists() else 0.0
            landed = land(source_file, home / "landing" / "calls")
            if stream:
                from pipelines.orchestration.announcements import announce

                announce(redis_url, stream, source_file.name)
            wait(lambda b=before: page.exists() and page.stat().st_mtime > b, 600, f"page of {new_week}", process)
            latency = page.stat().st_mtime - landed
            wait(lambda: idle(database), 600, "the runs to end", process)
            result["arrivals"].append(
                {"file": source_file.name, "seconds": round(latency, 1), "chain": chain_after(database, landed)}
            )
            print(f"arrival {part + 1}: {latency:.1f} s", flush=True)
    finally:
        subprocess.run(
            [str(Path(sys.executable).with_name("esprit")), "airflow", "--stop", "--home", str(home)],
            env=env,
            capture_output=True,
        )
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
        result["load_after"] = os.getloadavg()
        if stream:
            import redis

            client = redis.Redis.from_url(redis_url)
            client.delete(stream, *client.scan_iter(match=f"{stream}:*"))
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--weeks", type=int, default=2, help="weeks loaded before the measured arrivals")
    parser.add_argument("--arrivals", type=int, default=3, help="parts of the next week's calls file, landed in turn")
    parser.add_argument("--pdf", action="store_true", help="print the PDFs too (the default settings do)")
    parser.add_argument("--redis", help="also announce each part on a Redis stream there (redis://host:6379/9)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its airflow.log)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="esprit-latency-"))
    try:
        result = measure(work, args.weeks, args.arrivals, args.pdf, args.redis)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
