"""`make bench`: Esprit at contact-centre scale against raw DuckDB (issue 7).

    python -m benchmarks.bench --sizes 200000,1000000 [--week-calls 200000] [--history-weeks 52,104]
                               [--sections sizes,weekly,airflow] [--pair-repeats 3] [--before FILE.json]
                               [--out FILE.json] [--doc docs/performance.md]

Per size (call segments, in one file per table): wall time and peak resident memory of ingest +
validate, Great Expectations' check of the samples ingest kept (the metrics task's first step),
metrics (build_models), scorecard (render_weeks, no PDF), the whole pipeline (run_all
on a fresh warehouse), the raw DuckDB load of the same files, and the pandas reference of the
friction and handoff metrics. Then the weekly incremental run (one new week on top of each
history length) outside Airflow, and the same run through the DAGs with dag.test().

Every phase runs in a child process: wall time from spawn to exit, CPU time from wait4(), peak
RSS as the child's own high-water mark (VmHWM), and the load average it started under. The two
sides of each ratio (raw load and ingest, build and pandas) run alternately, `--pair-repeats`
times, and each side's median run is reported.
Data live in a temporary folder (--work), removed at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "benchmarks" / "results" / "bench.json"
BENCH_KEY = "esprit-benchmark-key-not-a-secret"  # pseudonyms of synthetic customers only
CONFIG = "scorecard:\n  pdf: false\n"  # the scorecard is measured without printing PDFs
DOC_BEGIN, DOC_END = "<!-- bench:begin -->", "<!-- bench:end -->"
# The issues' targets, and the scale they are defined at (issue 7; issue 27 for the weekly file,
# the metrics build against pandas and the weekly run's bounds)
TARGET_ROWS, TARGET_WEEK_CALLS, TARGET_HISTORY = 5_000_000, 200_000, (52, 104)
MAX_INGEST_RATIO, MAX_INGEST_RSS_MB, MAX_WEEKLY_SECONDS, MAX_GROWTH = 2.0, 1536, 15.0, 0.20
# one weekly file's ingest against its raw load, and the pandas reference against the SQL build
MAX_WEEK_FILE_RATIO, MIN_PANDAS_RATIO, PANDAS_SIZES = 3.0, 5.0, (1_000_000, 5_000_000)
# Rendering every week of a 52-week history again (issue 24), and what one week may weigh on disk
TARGET_RENDER_WEEKS, MAX_RENDER_SECONDS, MAX_WEEK_MB = 52, 60.0, 10.0
# "Flat": from the largest size to a file `--flat-factor` times larger (ingest only), peak RSS grows
# by less than this. Compared beyond the target size, where the file's working tables reach DuckDB's
# memory limit (ingest.memory_limit): a smaller file that stays below it says nothing of growth.
FLAT_RSS_GROWTH = 0.10


class PhaseFailed(RuntimeError):
    pass


class PhaseServer:
    """`--fork-phases`: one process (`benchmarks.phases --serve`) imports the pipeline and sets
    Great Expectations up once, then forks each phase. For checking the benchmark (its test): the
    figures then leave out imports and set-up, and are not comparable with a measured run."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.phases", "--serve"],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, request: dict) -> tuple[int, float, float]:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise PhaseFailed(f"the phase server ended (exit {self.process.wait()})")
        done = json.loads(answer)
        return done["returncode"], done["wall"], done["cpu"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


SERVER: PhaseServer | None = None  # set by main() with --fork-phases


def run_phase(phase: str, params: dict, env: dict[str, str], log_dir: Path) -> dict:
    """Run one phase in a child process; its result with wall_seconds and peak_rss_mb."""
    log_dir.mkdir(parents=True, exist_ok=True)
    result_file = log_dir / f"{phase}.result.json"
    log = log_dir / f"{phase}.log"
    # What earlier phases wrote (a history of gigabytes) is flushed to disk first, so that the
    # phase measured does not pay for the kernel writing it back meanwhile.
    os.sync()
    load_before = os.getloadavg()[0]
    if SERVER is not None:
        request = {"phase": phase, "params": params, "result": str(result_file), "log": str(log), "env": env}
        returncode, wall, cpu = SERVER.run(request)
    else:
        t0 = time.perf_counter()
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.phases", phase, json.dumps(params), str(result_file)],
                cwd=REPO_ROOT,
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, as /usr/bin/time -v
        wall, returncode = time.perf_counter() - t0, os.waitstatus_to_exitcode(status)
        cpu = usage.ru_utime + usage.ru_stime  # above wall: more than one core busy
    if returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise PhaseFailed(f"phase {phase} exited {returncode}:\n{tail}")
    result = json.loads(result_file.read_text(encoding="utf-8"))
    result["wall_seconds"] = round(wall, 3)
    result["cpu_seconds"] = round(cpu, 3)
    result["load_average"] = round(load_before, 2)  # the machine's 1-minute load as the phase started
    return result


def median_run(runs: list[dict]) -> dict:
    """The median run by wall time (the lower one of an even count), with every run's wall time and
    the load averages they started under."""
    chosen = dict(sorted(runs, key=lambda r: r["wall_seconds"])[(len(runs) - 1) // 2])
    chosen["runs_wall_seconds"] = [r["wall_seconds"] for r in runs]
    chosen["runs_load_average"] = [r["load_average"] for r in runs]
    cpu = sorted(r["cpu_seconds"] for r in runs)
    chosen["median_cpu_seconds"] = cpu[(len(cpu) - 1) // 2]
    return chosen


def esprit_env(home: Path, landing: Path, config: str = CONFIG) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    (home / "esprit.yaml").write_text(config, encoding="utf-8")
    return {
        "ESPRIT_HOME": str(home),
        "ESPRIT_CONFIG": str(home / "esprit.yaml"),
        "ESPRIT_LANDING": str(landing),
        "ESPRIT_PSEUDONYM_KEY": BENCH_KEY,
        "GX_ANALYTICS_ENABLED": "false",
        "ESPRIT_DEMO": "",
    }


def public_command(argv: list[str]) -> str:
    """The command as the report shows it: where the data and files went on this machine left out."""
    shown, rest = [], list(argv)
    while rest:
        name, eq, value = rest.pop(0).partition("=")
        if name in ("--work", "--out", "--doc", "--before") and not eq and rest:
            value = rest.pop(0)
        if name in ("--out", "--doc", "--before"):
            shown.append(f"{name} {_repo_relative(value)}")
        elif name not in ("--work", "--keep"):
            shown.append(name + eq + value)
    return " ".join(["python -m benchmarks.bench", *shown])


def _repo_relative(value: str) -> str:
    path = Path(value).resolve()
    return str(path.relative_to(REPO_ROOT)) if REPO_ROOT in path.parents else "FILE"


def machine() -> dict:
    import duckdb
    import pandas

    memory = None
    with open("/proc/meminfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo", encoding="utf-8")
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cores": os.cpu_count(),
        "memory_gb": memory,
        "cpu": cpu,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pandas": pandas.__version__,
    }


def machine_state(report: dict, loadavg_start: str) -> dict:
    """The load on the machine: /proc/loadavg as the run started and ended, and the range of the
    1-minute load average as its phases started (a shared machine's seconds depend on it)."""
    loads = []

    def collect(node) -> None:
        if isinstance(node, dict):
            loads.extend(node.get("runs_load_average") or ([node["load_average"]] if "load_average" in node else []))
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect({k: report.get(k) for k in ("sizes", "flat", "weekly", "render")})
    return {
        "loadavg_start": loadavg_start,
        "load_start": float(loadavg_start.split()[0]),
        "load_end": round(os.getloadavg()[0], 2),
        "load_min": min(loads, default=None),
        "load_max": max(loads, default=None),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


# ---- sections ------------------------------------------------------------------------------


def bench_size(rep, size: int, weeks: int, copies: int, work: Path, repeats: int = 1) -> dict:
    from benchmarks.data import landing_files

    folder = work / f"size-{size}"
    landing = folder / "landing"
    t0 = time.perf_counter()
    # from the seed's second week: its first has no cases or surveys carried over from before
    rows = rep.write(landing, 1, weeks, name="all", copies=copies)
    files = {t: [str(p) for p in ps] for t, ps in landing_files(landing).items()}
    entry = {
        "call_segments": rows["calls"],
        "requested": size,
        "weeks": weeks,
        "rows": rows,
        "megabytes": round(sum(Path(p).stat().st_size for ps in files.values() for p in ps) / 2**20, 1),
        "data_seconds": round(time.perf_counter() - t0, 3),
    }
    print(f"size {size}: {rows} in {weeks} week(s)", flush=True)
    logs = folder / "logs"
    home = folder / "home"
    warehouse = home / "warehouse" / "esprit.duckdb"
    # Each ratio's two sides alternate (A B A B ...), so that both see the same states of a shared
    # machine; each side's median run is reported.
    baselines, ingests = [], []
    for _ in range(repeats):
        baselines.append(
            run_phase("baseline", {"warehouse": str(folder / "baseline.duckdb"), "files": files}, {}, logs)
        )
        (folder / "baseline.duckdb").unlink()
        shutil.rmtree(home, ignore_errors=True)
        env = esprit_env(home, landing)
        ingests.append(run_phase("ingest", {}, env, logs))
        print(f"  baseline {baselines[-1]['wall_seconds']} s, ingest {ingests[-1]['wall_seconds']} s", flush=True)
    entry["baseline"], entry["ingest"] = median_run(baselines), median_run(ingests)
    # Great Expectations' check of the samples ingest kept: the metrics task's first step, not ingest's
    entry["gx_check"] = run_phase("check", {}, env, logs)
    print(f"  Great Expectations' check {entry['gx_check']['wall_seconds']} s", flush=True)
    if repeats > 1:  # every build starts from the ingested warehouse
        shutil.copytree(home, folder / "ingested")
    builds, references = [], []
    for i in range(repeats):
        if i:
            shutil.rmtree(home)
            shutil.copytree(folder / "ingested", home)
        builds.append(run_phase("metrics", {}, env, logs))
        references.append(run_phase("reference", {"files": files, "warehouse": str(warehouse)}, env, logs))
        print(f"  metrics {builds[-1]['wall_seconds']} s, pandas {references[-1]['wall_seconds']} s", flush=True)
    entry["metrics"], entry["pandas_reference"] = median_run(builds), median_run(references)
    entry["scorecard"] = run_phase("scorecard", {}, env, logs)
    shutil.rmtree(home)
    entry["pipeline"] = run_phase("pipeline", {}, esprit_env(folder / "whole", landing), logs)
    shutil.rmtree(folder / "whole")
    base = entry["baseline"]["wall_seconds"]
    entry["ingest_vs_baseline"] = ratio(entry["ingest"]["wall_seconds"], base)
    entry["pipeline_vs_baseline"] = ratio(entry["pipeline"]["wall_seconds"], base)
    # CPU time moves less than wall time with the machine's load (a busy machine's wall time is
    # mostly waiting for a core); not the targets' measure, shown beside them
    entry["ingest_vs_baseline_cpu"] = ratio(
        entry["ingest"]["median_cpu_seconds"], entry["baseline"]["median_cpu_seconds"]
    )
    entry["pandas_vs_sql_metrics_cpu"] = ratio(
        entry["pandas_reference"]["median_cpu_seconds"], entry["metrics"]["median_cpu_seconds"]
    )
    entry["pandas_vs_sql_metrics"] = ratio(entry["pandas_reference"]["wall_seconds"], entry["metrics"]["wall_seconds"])
    entry["pandas_compute_vs_sql_metrics_inner"] = ratio(
        entry["pandas_reference"]["compute_seconds"], entry["metrics"]["inner_seconds"]
    )
    print(
        f"  ingest/baseline {entry['ingest_vs_baseline']}, pipeline/baseline {entry['pipeline_vs_baseline']}, "
        f"pandas/sql {entry['pandas_vs_sql_metrics']}",
        flush=True,
    )
    shutil.rmtree(folder)
    return entry


def bench_flat(rep, size: int, weeks: int, copies: int, work: Path) -> dict:
    """Ingest alone of a file larger than the largest size: does its peak memory still grow?"""
    from benchmarks.data import landing_files

    folder = work / f"flat-{size}"
    landing = folder / "landing"
    rows = rep.write(landing, 1, weeks, name="all", copies=copies)
    entry = {
        "call_segments": rows["calls"],
        "requested": size,
        "weeks": weeks,
        "rows": rows,
        "megabytes": round(sum(p.stat().st_size for ps in landing_files(landing).values() for p in ps) / 2**20, 1),
    }
    print(f"flat {size}: {rows} in {weeks} week(s)", flush=True)
    entry["ingest"] = run_phase("ingest", {}, esprit_env(folder / "home", landing), folder / "logs")
    print(f"  ingest: {entry['ingest']['wall_seconds']} s, {entry['ingest']['peak_rss_mb']} MB", flush=True)
    shutil.rmtree(folder)
    return entry


def reaching_config(weeks: int) -> str:
    """The benchmark's config for data reaching `weeks` weeks past the seed's start: a long history
    reaches past today, and ingest would quarantine its later weeks as implausible."""
    return CONFIG + f"ingest:\n  plausible_future_days: {7 * (weeks + 1) + 366}\n"


def bench_render(rep, weeks: int, work: Path) -> dict:
    """Every week of a history rendered: the first time, again with no figure changed (the weekly
    DAG's case once a week is published), and again forced (a new renderer version)."""
    folder = work / f"render-{weeks}"
    landing = folder / "landing"
    rows = rep.write(landing, 1, weeks, name="history")
    env = esprit_env(folder / "home", landing, reaching_config(weeks))
    logs = folder / "logs"
    entry = {"weeks": weeks, "rows": rows, "setup": run_phase("history", {}, env, logs)}
    if not entry["setup"]["weeks"]:
        raise PhaseFailed(f"the history of {weeks} weeks was not loaded: nothing to render")
    print(f"render: {weeks} weeks ({rows['calls']:,} call segments) set up in {entry['setup']['wall_seconds']} s")
    for run, params in (("first", {}), ("unchanged", {}), ("forced", {"force": True})):
        entry[run] = run_phase("render", params, env, logs)
        print(f"  {run}: {entry[run]['wall_seconds']} s, {entry[run]['weeks_rendered']} week(s) rendered", flush=True)
    shutil.rmtree(folder)
    return entry


def new_week_index(histories: list[int]) -> int:
    """A week in the middle of a seed copy: the copy's first week lacks the cases and surveys
    carried over from the week before, which would make the new week lighter than the others."""
    from benchmarks.data import SEED_WEEKS

    return max(histories) + (2 - max(histories)) % SEED_WEEKS


def bench_weekly(
    rep,
    histories: list[int],
    work: Path,
    airflow: bool,
    weekly: bool,
    progress,
    repeats: int = 1,
    warm_up: bool = True,
) -> dict:
    """The new week is the same week for every history length; `progress(partial result)` is
    called after each history, so that a stopped run keeps them. The weekly run is measured
    `repeats` times from the same set-up; the median run (by wall time) is reported."""
    new = new_week_index(histories)
    week = rep.week_label(new)
    out = {"week": week, "histories": []}
    for h in sorted(histories) if weekly else [min(histories)]:
        folder = work / f"weekly-{h}"
        landing = folder / "landing"
        history_rows = rep.write(landing, new - h, new - 1, name="history")
        env = esprit_env(folder / "home", landing, reaching_config(new))
        logs = folder / "logs"
        setup = run_phase("history", {}, env, logs)
        new_rows = rep.write(landing, new, new)
        entry = {"history_weeks": h, "history_rows": history_rows, "new_week_rows": new_rows, "setup": setup}
        print(
            f"weekly on {h} weeks of history ({history_rows['calls']} call segments): set up in "
            f"{setup['wall_seconds']} s",
            flush=True,
        )
        if airflow and h == min(histories):
            # the Airflow run starts from the same state as the run outside it
            shutil.copytree(folder / "home", folder / "airflow-home")
        if weekly:
            runs = []
            if repeats > 1:  # each run starts from the set-up's state, kept aside
                shutil.copytree(folder / "home", folder / "setup-home")
            for i in range(repeats):
                if i:
                    shutil.rmtree(folder / "home")
                    shutil.copytree(folder / "setup-home", folder / "home")
                # Every history length starts from the same state: the warehouse in the page cache,
                # as on a machine whose daily loads read it, rather than partly evicted by the
                # set-up's memory (the 104-week set-up peaks at several times the 52-week one's).
                if warm_up:
                    warm_up_files(folder / "home" / "warehouse")
                    warm_up_imports()
                runs.append(run_phase("weekly", {"week": week}, env, logs))
                print(f"  weekly run: {runs[-1]['wall_seconds']} s, {runs[-1]['peak_rss_mb']} MB", flush=True)
            # the median run: one noisy run (this machine's speed varies by a third within an hour)
            # neither meets nor misses a target
            entry["run"] = sorted(runs, key=lambda r: r["wall_seconds"])[(len(runs) - 1) // 2]
            entry["runs_wall_seconds"] = [r["wall_seconds"] for r in runs]
            entry["runs_load_average"] = [r["load_average"] for r in runs]
        if airflow and h == min(histories):
            aenv = esprit_env(folder / "airflow-home", landing, reaching_config(new))
            run = run_phase(
                "airflow",
                {"week": week, "airflow_home": str(folder / "airflow"), "esprit_home": str(folder / "airflow-home")},
                aenv,
                logs,
            )
            dags = sum(run["dag_test_seconds"].values())
            out["airflow"] = {"history_weeks": h, **run, "dag_test_total_seconds": round(dags, 3)}
            if weekly:
                add_overhead(out["airflow"], {"histories": [entry]})
            print(f"  airflow: dag.test {dags:.1f} s, migrate {run['steps']['db_migrate']} s", flush=True)
        out["histories"].append(entry)
        shutil.rmtree(folder)
        progress(out)
    runs = [e for e in out["histories"] if "run" in e]
    if len(runs) >= 2:
        out["growth"] = round(runs[-1]["run"]["wall_seconds"] / runs[0]["run"]["wall_seconds"] - 1, 3)
    return out


def warm_up_imports() -> None:
    """Import, in a throwaway process, what a weekly run imports, so that the packages' files are
    in the page cache, as on a machine whose daily loads import them: the 104-week set-up's memory
    otherwise evicts them, and its run paid seconds more for Great Expectations' import alone."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import great_expectations, pipelines.orchestration.run, pipelines.report.scorecard, pipelines.model.build",
        ],
        cwd=REPO_ROOT,
        check=True,
    )


def warm_up_files(folder: Path) -> None:
    """Read every file under folder once, so that the kernel caches it."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with open(path, "rb") as f:
            while f.read(16 << 20):
                pass


def add_overhead(airflow: dict, weekly: dict | None) -> dict:
    """dag.test's total against the same steps outside Airflow (the weekly run's in-process time)."""
    same = [
        e for e in (weekly or {}).get("histories", []) if "run" in e and e["history_weeks"] == airflow["history_weeks"]
    ]
    if same:
        outside = same[0]["run"]["inner_seconds"]
        airflow.update(
            outside_airflow_seconds=outside,
            overhead_seconds=round(airflow["dag_test_total_seconds"] - outside, 3),
            overhead_ratio=ratio(airflow["dag_test_total_seconds"], outside),
        )
    return airflow


# ---- verdicts and report -------------------------------------------------------------------


def near(sizes: list[dict], target: int) -> dict | None:
    """The size measured at a target's scale (its call segments within 10 % of it), if any."""
    return next((s for s in sizes if abs(s["call_segments"] / target - 1) <= 0.1), None)


def targets(report: dict) -> list[dict]:
    """Each target of the issues with what was measured; met is None when not measured at its scale.
    A target's `key` names it across runs (its text changes with its bound)."""
    found = []

    def add(target: str, measured: str | None = None, met: bool | None = None, key: str | None = None) -> None:
        found.append({"key": key or target, "target": target, "measured": measured or "not measured", "met": met})

    sizes = report.get("sizes") or []
    largest = max(sizes, key=lambda s: s["call_segments"]) if sizes else None
    at_scale = largest is not None and largest["call_segments"] >= TARGET_ROWS
    where = f"at {largest['call_segments']:,} call segments" if largest else ""
    ratio_target = f"ingest + validate of 5M call segments within {MAX_INGEST_RATIO:g}x the raw DuckDB load"
    rss_target = f"peak RSS ingesting a 5M-row file at most {MAX_INGEST_RSS_MB} MB"
    flat_target = f"ingest peak RSS flat as the file grows (< {FLAT_RSS_GROWTH:.0%} more from 5M rows to twice as many)"
    if largest:
        r, rss = largest["ingest_vs_baseline"], largest["ingest"]["peak_rss_mb"]
        add(ratio_target, f"{r}x {where}", (r <= MAX_INGEST_RATIO) if at_scale else None, "ingest_ratio_5m")
        # more memory than allowed on a smaller file is a failure at 5M too
        add(
            rss_target,
            f"{rss} MB {where}",
            (rss <= MAX_INGEST_RSS_MB) if at_scale else (False if rss > MAX_INGEST_RSS_MB else None),
            "ingest_rss_5m",
        )
    else:
        add(ratio_target, key="ingest_ratio_5m")
        add(rss_target, key="ingest_rss_5m")
    flat = report.get("flat")
    if largest and flat:
        grow = flat["call_segments"] / largest["call_segments"]
        rss_growth = flat["ingest"]["peak_rss_mb"] / largest["ingest"]["peak_rss_mb"] - 1
        add(
            flat_target,
            f"{rss_growth:+.0%} from {largest['call_segments']:,} to {flat['call_segments']:,} rows "
            f"({largest['ingest']['peak_rss_mb']} -> {flat['ingest']['peak_rss_mb']} MB)",
            (rss_growth < FLAT_RSS_GROWTH) if at_scale and grow >= 1.9 else None,
            "ingest_rss_flat",
        )
    else:
        add(flat_target, key="ingest_rss_flat")
    week_file = near(sizes, TARGET_WEEK_CALLS)
    week_target = (
        f"ingest + validate of one week's files (200k call segments) within {MAX_WEEK_FILE_RATIO:g}x "
        "their raw DuckDB load"
    )
    if week_file:
        r = week_file["ingest_vs_baseline"]
        add(
            week_target,
            f"{r}x at {week_file['call_segments']:,} call segments ({week_file['ingest']['wall_seconds']} s "
            f"against {week_file['baseline']['wall_seconds']} s)",
            r <= MAX_WEEK_FILE_RATIO,
            "week_file_ingest_ratio",
        )
    else:
        add(week_target, key="week_file_ingest_ratio")
    for scale in PANDAS_SIZES:
        measured = near(sizes, scale)
        pandas_target = (
            f"metrics build at least {MIN_PANDAS_RATIO:g}x faster than the pandas reference at "
            f"{scale // 1_000_000}M call segments, same figures"
        )
        if measured:
            r = measured["pandas_vs_sql_metrics"]
            differing = sum(measured["pandas_reference"]["rows_differing_from_sql"].values())
            add(
                pandas_target,
                f"{r}x at {measured['call_segments']:,} call segments ({measured['pandas_reference']['wall_seconds']} s "
                f"against {measured['metrics']['wall_seconds']} s), {differing} rows differing",
                r >= MIN_PANDAS_RATIO and differing == 0,
                f"pandas_ratio_{scale}",
            )
        else:
            add(pandas_target, key=f"pandas_ratio_{scale}")
    weekly = report.get("weekly") or {}
    runs = [e for e in weekly.get("histories", []) if "run" in e]
    weekly_target = f"weekly run (200k call segments on 52 weeks) within {MAX_WEEKLY_SECONDS:g} s"
    growth_target = f"doubling the history grows the weekly run by at most {MAX_GROWTH:.0%}"
    if runs:
        first, last = runs[0], runs[-1]
        calls = first["new_week_rows"]["calls"]
        full_scale = calls >= 0.9 * TARGET_WEEK_CALLS and first["history_weeks"] == TARGET_HISTORY[0]
        seconds = first["run"]["wall_seconds"]
        smaller = calls <= TARGET_WEEK_CALLS and first["history_weeks"] <= TARGET_HISTORY[0]
        add(
            weekly_target,
            f"{seconds} s ({calls:,} call segments on {first['history_weeks']} weeks)",
            (seconds <= MAX_WEEKLY_SECONDS)
            if full_scale
            else (False if smaller and seconds > MAX_WEEKLY_SECONDS else None),
            "weekly_seconds",
        )
    else:
        add(weekly_target, key="weekly_seconds")
    if "growth" in weekly:
        add(
            growth_target,
            f"{weekly['growth']:+.0%} ({first['history_weeks']} -> {last['history_weeks']} weeks)",
            (weekly["growth"] <= MAX_GROWTH) if full_scale and last["history_weeks"] == TARGET_HISTORY[1] else None,
            "weekly_growth",
        )
    else:
        add(growth_target, key="weekly_growth")
    render = report.get("render")
    render_target = f"re-rendering {TARGET_RENDER_WEEKS} weeks of history within {MAX_RENDER_SECONDS:g} s"
    size_target = f"output per week at most {MAX_WEEK_MB:g} MB"
    if render:
        at_scale = render["weeks"] >= TARGET_RENDER_WEEKS and render["rows"]["calls"] >= 0.9 * TARGET_WEEK_CALLS * 52
        again = render["unchanged"]["wall_seconds"]
        forced = f"{render['forced']['wall_seconds']} s" if "forced" in render else "not measured"
        add(
            render_target,
            f"{again} s with no figure changed, forced {forced} ({render['weeks']} weeks, "
            f"{render['rows']['calls']:,} call segments)",
            (again <= MAX_RENDER_SECONDS) if at_scale else None,
            "render_again",
        )
        largest = render["first"]["mb_per_week_max"]  # every week on disk after the first run
        add(
            size_target,
            f"{largest} MB at most ({render['first']['files_per_week_max']} files)",
            largest <= MAX_WEEK_MB,
            "week_output_mb",
        )
    else:
        add(render_target, key="render_again")
        add(size_target, key="week_output_mb")
    airflow = weekly.get("airflow")
    if airflow:
        overhead = (
            f", {airflow['overhead_seconds']} s over the same run outside Airflow"
            if "overhead_seconds" in airflow
            else ""
        )
        add(
            "Airflow overhead of one weekly run (dag.test) measured",
            f"dag.test {airflow['dag_test_total_seconds']} s{overhead}",
            True,
            "airflow_overhead",
        )
    else:
        add("Airflow overhead of one weekly run (dag.test) measured", key="airflow_overhead")
    return found


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        f"Last measured {report['finished_at'][:16].replace('T', ' ')} UTC on {m['cores']} cores, "
        f"{m['memory_gb']} GB of memory ({m['cpu']}); Python {m['python']}, DuckDB {m['duckdb']}, "
        f"pandas {m['pandas']}. " + "; ".join(f"`{c}`" for c in dict.fromkeys(report["commands"].values())) + ".",
        "",
    ]
    state = report.get("machine_state")
    if state:
        lines += [
            f"Machine state: load average (1 min) {state['load_start']} at the start, {state['load_end']} at the "
            f"end, {state['load_min']} to {state['load_max']} as the phases started; /proc/loadavg at the start: "
            f"`{state['loadavg_start']}`. Each ratio's two sides ran alternately, {report.get('pair_repeats', 1)} "
            "time(s) each; each side's median run is shown.",
            "",
        ]
    if report.get("forked_phases"):
        lines += ["**Phases forked from one warmed-up process (`--fork-phases`): not comparable.**", ""]
    if report.get("sizes"):
        lines += [
            "| call segments (rows: cases, events, surveys) | MB | phase | wall s, median (every run) | peak RSS MB |",
            "|---|---|---|---|---|",
        ]
        for s in report["sizes"]:
            label = (
                f"{s['call_segments']:,} ({s['rows']['cases']:,}, {s['rows']['case_events']:,}, "
                f"{s['rows']['survey_responses']:,})"
            )
            for i, (name, key) in enumerate(
                (
                    ("raw DuckDB load (baseline)", "baseline"),
                    ("ingest + validate", "ingest"),
                    ("Great Expectations' check of the samples (metrics task)", "gx_check"),
                    ("metrics (build_models)", "metrics"),
                    ("scorecard (no PDF)", "scorecard"),
                    ("whole pipeline (run_all)", "pipeline"),
                    ("pandas reference (friction, handoffs)", "pandas_reference"),
                )
            ):
                if key not in s:  # a report from before the phase was measured
                    continue
                p = s[key]
                runs = p.get("runs_wall_seconds") or []
                shown = f"{p['wall_seconds']}" + (f" ({', '.join(map(str, runs))})" if len(runs) > 1 else "")
                lines.append(
                    f"| {label if i == 0 else ''} | {s['megabytes'] if i == 0 else ''} | {name} | "
                    f"{shown} | {p['peak_rss_mb']} |"
                )
        lines += [
            "",
            "| call segments | ingest ÷ baseline | pipeline ÷ baseline | ingest s: file scans, validation "
            "(compiled suite, sample kept), of which GX | pandas ÷ SQL metrics (process) | pandas compute ÷ "
            "build_models | rows differing pandas vs SQL | load average as the ratios' runs started | CPU time: "
            "ingest ÷ baseline, pandas ÷ SQL metrics | Great Expectations' check (metrics task): wall s, CPU s |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in report["sizes"]:
            diff = sum(s["pandas_reference"]["rows_differing_from_sql"].values())
            spent = s["ingest"].get("seconds_in", {})
            split = ", ".join(str(spent.get(k, "-")) for k in ("scan", "validate_rows", "validate_frame"))
            checked = s.get("gx_check")  # in ingest itself before it was a step of its own
            gx_check = f"{checked['wall_seconds']}, {checked['cpu_seconds']}" if checked else "in ingest"
            lines.append(
                f"| {s['call_segments']:,} | {s['ingest_vs_baseline']} | {s['pipeline_vs_baseline']} | "
                f"{split} | {s['pandas_vs_sql_metrics']} | {s['pandas_compute_vs_sql_metrics_inner']} | "
                f"{diff} | {_load_range(s)} | {s.get('ingest_vs_baseline_cpu', '-')}, "
                f"{s.get('pandas_vs_sql_metrics_cpu', '-')} | {gx_check} |"
            )
    if report.get("flat"):
        f = report["flat"]
        lines += [
            "",
            f"Ingest alone of a larger size, for the flat-memory target: {f['call_segments']:,} call segments "
            f"({f['megabytes']} MB), {f['ingest']['wall_seconds']} s, peak RSS {f['ingest']['peak_rss_mb']} MB.",
        ]
    weekly = report.get("weekly") or {}
    if weekly.get("histories"):
        lines += [
            "",
            f"Weekly run of {weekly['week']} (outside Airflow; metrics includes Great Expectations' check of "
            "the new loads and Data Docs, as the metrics task does):",
            "",
            "| history weeks (call segments) | new week: calls, cases, events, surveys | history set-up s | "
            "weekly run wall s, median (every run) | ingest s (file scans, validation) | metrics s | scorecard s | "
            "peak RSS MB |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for e in weekly["histories"]:
            n = e["new_week_rows"]
            run = e.get("run")
            steps = run["steps"] if run else {}
            spent = (run or {}).get("seconds_in", {})
            lines.append(
                f"| {e['history_weeks']} ({e['history_rows']['calls']:,}) | {n['calls']:,}, {n['cases']:,}, "
                f"{n['case_events']:,}, {n['survey_responses']:,} | {e['setup']['wall_seconds']} | "
                f"{_median_and_runs(e) if run else '-'} | {steps.get('ingest', '-')} "
                f"({spent.get('scan', '-')}, {spent.get('validate_rows', '-')}) | "
                f"{steps.get('metrics', '-')} | {steps.get('scorecard', '-')} | "
                f"{run['peak_rss_mb'] if run else '-'} |"
            )
        if "growth" in weekly:
            lines += ["", f"Growth of the weekly run (median runs) when the history doubles: {weekly['growth']:+.0%}."]
        if weekly.get("note"):
            lines += ["", f"Note: {weekly['note']}."]
    if weekly.get("airflow"):
        a = weekly["airflow"]
        dags = ", ".join(f"{k} {v} s" for k, v in a["dag_test_seconds"].items())
        lines += [
            "",
            f"Airflow, one weekly run on {a['history_weeks']} weeks of history: `airflow db migrate` "
            f"{a['steps']['db_migrate']} s (once per metadata DB), DagBag {a['steps']['dagbag']} s, dag.test: {dags}; "
            f"total {a['dag_test_total_seconds']} s"
            + (
                f" against {a['outside_airflow_seconds']} s for the same steps outside Airflow: overhead "
                f"{a['overhead_seconds']} s ({a['overhead_ratio']}x)."
                if "overhead_seconds" in a
                else "."
            ),
        ]
        if a.get("breakdown"):
            lines += [
                "",
                "| DAG | dag.test s | Esprit's functions s | rest of the task runs s | DAG run around the tasks s |",
                "|---|---|---|---|---|",
            ]
            lines += [
                f"| {dag_id} | {a['dag_test_seconds'][dag_id]} | {b['esprit_functions']} | {b['task_runs_besides']} | "
                f"{b['dag_run_besides']} |"
                for dag_id, b in a["breakdown"].items()
            ]
    render = report.get("render")
    if render:
        lines += [
            "",
            f"Rendering every week of {render['weeks']} weeks of history ({render['rows']['calls']:,} call "
            "segments; pages, investigation pages, index and exports, no PDF):",
            "",
            "| run | wall s | weeks rendered | files written | files per week, most | MB per week, median | "
            "MB per week, most | MB of scorecards |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for run in (run for run in ("first", "unchanged", "forced") if run in render):
            r = render[run]
            lines.append(
                f"| {run} | {r['wall_seconds']} | {r['weeks_rendered']} | {r['files_written']} | "
                f"{r['files_per_week_max']} | {r['mb_per_week_median']} | {r['mb_per_week_max']} | {r['mb_scorecards']} |"
            )
    lines += ["", *target_table(report)]
    return "\n".join(lines) + "\n"


def target_table(report: dict) -> list[str]:
    """Every target: what an earlier report measured, what this one did, the verdict."""
    lines = []
    before = report.get("before") or {}
    when = f" ({before['finished_at'][:10]})" if before.get("finished_at") else ""
    lines += [f"| target | before{when} | measured | met |", "|---|---|---|---|"]
    for t in report["targets"]:
        verdict = {True: "yes", False: "**no**", None: "not at the target's scale"}[t["met"]]
        verdict = "-" if t["measured"] == "not measured" else verdict
        earlier = (before.get("targets") or {}).get(t.get("key"), "not measured")
        lines.append(f"| {t['target']} | {earlier} | {t['measured']} | {verdict} |")
    return lines


def before_report(previous: dict | None) -> dict | None:
    """What the targets measured in an earlier report (its figures judged by this code's rules)."""
    if not previous or not previous.get("finished_at"):
        return None
    measured = {t["key"]: t["measured"] for t in targets(previous)}
    return {"finished_at": previous.get("finished_at"), "targets": measured}


def _load_range(size: dict) -> str:
    loads = [
        a
        for key in ("baseline", "ingest", "metrics", "pandas_reference")
        for a in size[key].get("runs_load_average", [])
    ]
    return f"{min(loads)} to {max(loads)}" if loads else "-"


def _median_and_runs(entry: dict) -> str:
    """The reported (median) run's wall time, with every run's when there were several."""
    runs = entry.get("runs_wall_seconds") or [entry["run"]["wall_seconds"]]
    shown = f"{entry['run']['wall_seconds']}"
    return shown if len(runs) == 1 else f"{shown} ({', '.join(str(r) for r in runs)})"


def update_doc(doc: Path, text: str) -> None:
    """Replace the generated region of the doc, between its markers (the prose around stays)."""
    current = doc.read_text(encoding="utf-8")
    start, end = current.index(DOC_BEGIN) + len(DOC_BEGIN), current.index(DOC_END)
    doc.write_text(current[:start] + "\n" + text + current[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,500000", help="call segments per size, comma-separated")
    parser.add_argument("--week-calls", type=int, default=TARGET_WEEK_CALLS, help="call segments in one week")
    parser.add_argument("--history-weeks", default="52,104", help="weeks of history under the weekly run")
    parser.add_argument("--sections", default="sizes,weekly,airflow,render")
    parser.add_argument(
        "--render-weeks",
        type=int,
        default=TARGET_RENDER_WEEKS,
        help="weeks of history (of --week-calls call segments each) the render section renders",
    )
    parser.add_argument(
        "--weekly-repeats",
        type=int,
        default=3,
        help="weekly runs per history length, each from the set-up's state; the median is reported",
    )
    parser.add_argument(
        "--flat-factor",
        type=float,
        default=2.0,
        help="with sizes: ingest alone a file this many times the largest size, for the flat-memory "
        "target (0: not measured)",
    )
    parser.add_argument(
        "--no-warm-up",
        dest="warm_up",
        action="store_false",
        help="skip the page-cache warm-up before each weekly run: quicker, for checking the benchmark "
        "itself (make test); its weekly timings are then not comparable",
    )
    parser.add_argument(
        "--fork-phases",
        action="store_true",
        help="fork every phase from one process that has imported the pipeline: quicker, for checking "
        "the benchmark itself (make test); its timings and memory are then not comparable",
    )
    parser.add_argument(
        "--pair-repeats",
        type=int,
        default=3,
        help="with sizes: runs of each ratio's two sides (raw load and ingest, build and pandas), alternated; "
        "the median of each side is reported",
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="a report whose targets are shown beside this run's (default: the report at --out as the run "
        "starts; with --merge, the one it was compared with)",
    )
    parser.add_argument("--seed-journeys", type=int, default=2000, help="journeys per week the generator simulates")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--doc", type=Path, help="markdown file whose generated region gets the tables")
    parser.add_argument("--work", type=Path, help="folder for the data (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument("--merge", action="store_true", help="keep the sections of --out this run does not measure")
    parser.add_argument("--report-only", action="store_true", help="measure nothing: write --doc from --out")
    args = parser.parse_args(argv)
    if args.report_only:
        report = json.loads(args.out.read_text(encoding="utf-8"))
        report["targets"] = targets(report)  # the verdicts follow this code's rules
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        if args.doc:
            update_doc(args.doc, markdown(report))
        return report
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    histories = [int(h) for h in args.history_weeks.split(",") if h.strip()]
    sections = set(args.sections.split(","))
    known_sections = {"sizes", "weekly", "airflow", "render"}
    if not sections <= known_sections:
        parser.error(f"unknown section(s): {sorted(sections - known_sections)}")

    from benchmarks.data import Replicator, make_seed

    work = Path(args.work or tempfile.mkdtemp(prefix="esprit-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    command = public_command(argv if argv is not None else sys.argv[1:])
    report = {"sizes": [], "weekly": None, "commands": {}}
    previous = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else None
    if args.merge and previous:  # sections run now replace theirs, the others stay
        report = previous
        if not isinstance(report.get("commands"), dict):  # an older report: which command made what is unknown
            report["commands"] = {}
    if args.before:
        report["before"] = before_report(json.loads(args.before.read_text(encoding="utf-8")))
    elif not (args.merge and report.get("before")):  # a run in parts keeps the report its first part followed
        report["before"] = before_report(previous)
    load_start = open("/proc/loadavg", encoding="utf-8").read().strip()
    if "sizes" in sections:
        report["sizes"], report["flat"] = [], None
    if "weekly" in sections:
        report["weekly"] = None
    if "render" in sections:
        report["render"] = None
    report.update(
        {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "commands": {**report["commands"], **{section: command for section in sections}},
        }
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)

    report["pair_repeats"] = args.pair_repeats

    def save() -> None:
        report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        report["machine_state"] = machine_state(report, load_start)
        report["targets"] = targets(report)
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")

    global SERVER
    report["forked_phases"] = args.fork_phases
    if args.fork_phases:
        SERVER = PhaseServer()
    try:
        t0 = time.perf_counter()
        make_seed(work / "seed", args.seed_journeys)
        rep = Replicator(work / "seed", work / "replicas.duckdb")
        width = rep.width_for(args.week_calls)
        per_week = width * rep.seed_calls_per_week()
        # a size below one week's volume is one week of fewer copies
        flat_size = round(max(sizes) * args.flat_factor) if "sizes" in sections and sizes and args.flat_factor else 0
        shape = (
            {
                s: (max(1, round(s / per_week)), min(width, max(1, round(s / rep.seed_calls_per_week()))))
                for s in [*sizes, *([flat_size] if flat_size else [])]
            }
            if "sizes" in sections
            else {}
        )
        needed = max(
            [
                *(w + 1 for w, _ in shape.values()),
                new_week_index(histories) + 1 if sections & {"weekly", "airflow"} else 0,
                args.render_weeks + 1 if "render" in sections else 0,
            ]
        )
        rep.build(needed, width)
        data = {
            "week_calls": args.week_calls,
            "seed_journeys_per_week": args.seed_journeys,
            "copies_per_week": width,
            "weeks_built": needed,
            "seconds": round(time.perf_counter() - t0, 3),
        }
        if "sizes" in sections:
            report["data"] = data
        if sections & {"weekly", "airflow", "render"}:
            report["weekly_data"] = data
        for size in sizes if "sizes" in sections else []:
            report["sizes"].append(bench_size(rep, size, *shape[size], work, args.pair_repeats))
            save()
        if flat_size:
            report["flat"] = bench_flat(rep, flat_size, *shape[flat_size], work)
            save()
        if sections & {"weekly", "airflow"}:
            earlier = report.get("weekly")

            def progress(measured: dict) -> None:
                if "weekly" in sections:
                    report["weekly"] = measured
                elif "airflow" in measured:  # Airflow alone: against the weekly run measured earlier
                    report["weekly"] = {
                        **(earlier or {"week": measured["week"], "histories": []}),
                        "airflow": add_overhead(measured["airflow"], earlier),
                    }
                save()

            progress(
                bench_weekly(
                    rep,
                    histories,
                    work,
                    "airflow" in sections,
                    "weekly" in sections,
                    progress,
                    args.weekly_repeats,
                    args.warm_up,
                )
            )
        if "render" in sections:
            report["render"] = bench_render(rep, args.render_weeks, work)
            save()
        rep.close()
    finally:
        if SERVER is not None:
            SERVER.close()
            SERVER = None
        save()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.doc:
        update_doc(args.doc, markdown(report))
    print(f"report: {args.out}")
    return report


if __name__ == "__main__":
    main()
