"""One benchmark phase, run in its own process so that its peak memory is its own.

    python -m benchmarks.phases PHASE PARAMS_JSON RESULT_JSON
    python -m benchmarks.phases --serve     (bench --fork-phases: phases forked from one process)

The parent (`benchmarks.bench`) times the process from start to exit (imports included, as
a scheduler's task would pay them) and reads its CPU time from wait4(); the phase writes what it
did, its own timings and its peak resident memory (VmHWM) to RESULT_JSON. Settings come from the environment the
parent sets (ESPRIT_HOME, ESPRIT_CONFIG, ESPRIT_LANDING, ESPRIT_PSEUDONYM_KEY).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def _settings():
    from pipelines.config import load_settings

    return load_settings()


def _timed(module, name: str, spent: dict) -> None:
    """Wrap module.name to add up the time spent in it (where ingest's time goes)."""
    inner = getattr(module, name, None)
    if inner is None:  # renamed in the product: not broken down, still measured as a whole
        return

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0

    setattr(module, name, wrapper)


def _ingest_all(settings) -> dict:
    import pipelines.ingest.gate as gate_module
    import pipelines.ingest.load as load_module

    spent: dict[str, float] = {}
    # scan: hashing and checking files; validate_rows: the compiled suite over every row and the
    # sample kept for GX's check (gx_check); validate_frame: GX, here only with ingest.gx_rows: all
    for module, name in ((load_module, "scan"), (gate_module, "validate_rows"), (gate_module, "validate_frame")):
        _timed(module, name, spent)
    files = [
        r for source in settings.sources for r in load_module.ingest_source(settings, source, fail_on_reject=False)
    ]
    loaded = [f for f in files if f.status == "loaded"]
    return {
        "files_loaded": len(loaded),
        "rows_loaded": sum(f.rows_loaded for f in files),
        "rows_quarantined": sum(f.rows_quarantined for f in files),
        "rejected_files": [f.file for f in files if f.status == "rejected"],
        "file_seconds": {f.file: f.seconds for f in loaded},
        "seconds_in": {k: round(v, 3) for k, v in spent.items()},
    }


def baseline(params: dict) -> dict:
    """The raw load the issue compares ingest with: DuckDB reading the same CSV files."""
    import duckdb

    con = duckdb.connect(params["warehouse"])
    rows = {}
    for table, paths in params["files"].items():
        listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv([{listed}])")
        rows[table] = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    con.close()
    return {"rows": rows}


def ingest(params: dict) -> dict:
    return _ingest_all(_settings())


def check(params: dict) -> dict:
    """Great Expectations' check of the loads' samples, which the metrics task runs before its build."""
    from pipelines.ingest.gx_check import check_loads

    return check_loads(_settings())


def metrics(params: dict) -> dict:
    from pipelines.model.build import build_models

    built = build_models(_settings())
    return {
        "weeks": len(built["weeks"]),
        "full": built["full"],
        "models": len(built["models"]),
        "slowest_models": _slowest_models(built),
    }


def _slowest_models(built: dict) -> dict[str, float]:
    """Where a build's time went: its five slowest models."""
    return dict(sorted(built["seconds"].items(), key=lambda kv: -kv[1])[:5])


def scorecard(params: dict) -> dict:
    from pipelines.report.scorecard import render_weeks

    return {"files_written": len(render_weeks(_settings(), params.get("weeks"), pdf=False))}


def render(params: dict) -> dict:
    """Render every week of the warehouse as the DAG does (no PDF here), then measure what is on disk."""
    from pipelines.report.scorecard import render_weeks

    settings = _settings()
    t0 = time.perf_counter()
    written = render_weeks(settings, force=bool(params.get("force")))
    seconds = round(time.perf_counter() - t0, 3)
    weeks = [
        [p.stat().st_size for p in folder.rglob("*") if p.is_file()]
        for folder in sorted(settings.scorecards_dir.glob("*-W*"))
    ]
    sizes = sorted(sum(w) for w in weeks)
    return {
        "render_seconds": seconds,
        "files_written": len(written),
        "weeks_rendered": sum(1 for p in written if p.name == "scorecard.json"),
        "weeks": len(weeks),
        "files_per_week_max": max(len(w) for w in weeks),
        "mb_per_week_median": round(sizes[len(sizes) // 2] / 2**20, 2),
        "mb_per_week_max": round(sizes[-1] / 2**20, 2),
        "mb_scorecards": round(sum(sizes) / 2**20, 1),
    }


def pipeline(params: dict) -> dict:
    from pipelines.orchestration.run import run_all

    summary = run_all(_settings())["summary"]
    return {k: summary[k] for k in ("files_loaded", "rows_loaded", "rows_quarantined", "rejected_files")} | {
        "weeks": len(summary["weeks"])
    }


def reference(params: dict) -> dict:
    """The pandas reference on the landing files, then (untimed) compared with the SQL tables."""
    import duckdb

    from benchmarks.reference import COMPARED, compare, compute, read_tables

    settings = _settings()
    t0 = time.perf_counter()
    tables = read_tables({t: [Path(p) for p in ps] for t, ps in params["files"].items()})
    t1 = time.perf_counter()
    result = compute(tables, settings.metrics, settings.friction_signals, settings.stages, settings.week_timezone)
    t2 = time.perf_counter()
    con = duckdb.connect(params["warehouse"], read_only=True)
    sql = {table: con.execute(f"SELECT * FROM {table}").df() for table in COMPARED}
    con.close()
    return {
        "read_seconds": round(t1 - t0, 3),
        "compute_seconds": round(t2 - t1, 3),
        "counts": result["counts"],
        "rows_differing_from_sql": compare(result, sql),
    }


def history(params: dict) -> dict:
    """Set-up, not a measured target: load the history through the real ingest, then a full build
    of the models."""
    from pipelines.model.build import build_models

    settings = _settings()
    t0 = time.perf_counter()
    loaded = _ingest_all(settings)
    t1 = time.perf_counter()
    built = build_models(settings, full=True)
    return {
        "ingest_seconds": round(t1 - t0, 3),
        "build_seconds": round(time.perf_counter() - t1, 3),
        "rows_loaded": loaded["rows_loaded"],
        "weeks": len(built["weeks"]),
    }


def weekly(params: dict) -> dict:
    """One weekly run outside Airflow, the same steps as the DAGs: ingest every source, then as the
    metrics task does Great Expectations' check of the new loads (Data Docs included) and the build
    of the models (incremental), render the new week's scorecard."""
    from pipelines.ingest.gx_check import check_loads
    from pipelines.model.build import build_models
    from pipelines.report.scorecard import render_weeks

    settings = _settings()
    steps = {}
    t = time.perf_counter()
    loaded = _ingest_all(settings)
    steps["ingest"], t = round(time.perf_counter() - t, 3), time.perf_counter()
    check_loads(settings)
    built = build_models(settings)
    steps["metrics"], t = round(time.perf_counter() - t, 3), time.perf_counter()
    pages = render_weeks(settings, [params["week"]], pdf=False)
    steps["scorecard"] = round(time.perf_counter() - t, 3)
    return {
        "steps": steps,
        "rows_loaded": loaded["rows_loaded"],
        "files_loaded": loaded["files_loaded"],
        "seconds_in": loaded["seconds_in"],
        "incremental": not built["full"],
        "recomputed_weeks": built["recomputed_weeks"],
        "slowest_models": _slowest_models(built),
        "files_written": len(pages),
    }


def airflow(params: dict) -> dict:
    """The same weekly run through the real DAGs with dag.test(), as pipelines.orchestration.local_airflow.run_dags runs
    them, each part timed."""
    import os

    from pipelines.orchestration.local_airflow import airflow_environment, dag_order, set_up_airflow

    steps = {}
    t = time.perf_counter()
    env = airflow_environment(Path(params["airflow_home"]), Path(params["esprit_home"]))
    os.environ.update(env)
    set_up_airflow(env)
    steps["db_migrate"], t = round(time.perf_counter() - t, 3), time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=env["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    steps["dagbag"] = round(time.perf_counter() - t, 3)
    # Where a dag.test() goes: Esprit's own functions (dag.test runs the tasks in this process), the
    # rest of each task's run (its duration in the metadata DB), and the DAG run around the tasks.
    import pipelines.orchestration.tasks

    spent: dict[str, float] = {}
    for name in ("ingest", "build_metrics", "render_scorecards"):
        _timed(pipelines.orchestration.tasks, name, spent)
    dags, breakdown = {}, {}
    for dag_id in dag_order(bag.dag_ids):
        before = sum(spent.values())
        t = time.perf_counter()
        conf = {"weeks": params["week"]} if dag_id == "esprit_scorecard" else None
        run = bag.dags[dag_id].test(run_conf=conf)
        dags[dag_id] = round(time.perf_counter() - t, 3)
        if str(run.state) != "success":
            raise RuntimeError(f"DAG {dag_id} ended {run.state}")
        tasks = _task_seconds(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///"), dag_id, run.run_id)
        esprit = sum(spent.values()) - before
        breakdown[dag_id] = {
            "esprit_functions": round(esprit, 3),
            "task_runs_besides": round(sum(tasks.values()) - esprit, 3),
            "dag_run_besides": round(dags[dag_id] - sum(tasks.values()), 3),
            "tasks": tasks,
        }
    return {"steps": steps, "dag_test_seconds": dags, "breakdown": breakdown}


def _task_seconds(metadata_db: str, dag_id: str, run_id: str) -> dict[str, float]:
    """Each task instance's duration in one DAG run, from Airflow's SQLite metadata DB."""
    import sqlite3

    with sqlite3.connect(metadata_db) as con:
        return {
            task: round(seconds or 0.0, 3)
            for task, seconds in con.execute(
                "SELECT task_id, duration FROM task_instance WHERE dag_id = ? AND run_id = ?", (dag_id, run_id)
            )
        }


def _vm_hwm_mb() -> float:
    """This process's peak resident memory. Not ru_maxrss: on Linux a child's ru_maxrss starts at
    its parent's resident size at fork, which would hide a phase smaller than the benchmark."""
    with open("/proc/self/status", encoding="utf-8") as fh:
        kb = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    return round(kb / 1024, 1)


PHASES = {
    f.__name__: f
    for f in (baseline, ingest, check, metrics, scorecard, render, pipeline, reference, history, weekly, airflow)
}


def main(argv: list[str]) -> None:
    phase, params, out = argv[0], json.loads(argv[1]), Path(argv[2])
    t0 = time.perf_counter()
    result = PHASES[phase](params)
    result["inner_seconds"] = round(time.perf_counter() - t0, 3)
    result["peak_rss_mb"] = _vm_hwm_mb()
    # grandchildren (airflow db migrate) are not in the parent's wait4() figure
    result["children_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    out.write_text(json.dumps(result, default=str), encoding="utf-8")


def _warm_up() -> None:
    """What every phase would import and set up, paid once by the serving process: the pipeline's
    modules and Great Expectations' context and suites (Airflow is left out: the airflow phase
    configures it through its environment before importing it)."""
    import pipelines.orchestration.run  # noqa: F401
    from pipelines.contracts import CONTRACTS
    from pipelines.ingest import validation

    for table in CONTRACTS:
        validation._batch_definition(table)
        validation._suite(table)


def serve() -> None:
    """Fork one child per request (a JSON line on stdin: phase, params, result, log, env) from this
    warmed-up process; answer each with its exit code, wall time and CPU time (wait4). For checking
    the benchmark quickly (its test): imports and set-up are not in the figures, nor is the peak
    memory the phase's own (a forked child starts with its parent's pages)."""
    import os
    import traceback

    _warm_up()
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.environ.update(request["env"])
                log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(log, 1)
                os.dup2(log, 2)
                main([request["phase"], json.dumps(request["params"]), request["result"]])
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status, usage = os.wait4(pid, 0)
        answer = {
            "returncode": os.waitstatus_to_exitcode(status),
            "wall": time.perf_counter() - t0,
            "cpu": usage.ru_utime + usage.ru_stime,
        }
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    serve() if sys.argv[1:] == ["--serve"] else main(sys.argv[1:])
