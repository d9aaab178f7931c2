"""Run the metric tests against every mutant of the SQL models (`make mutate`).

The test data is generated and ingested once into a template (the fixtures' prebuilt homes,
tests/conftest.py). Each mutant then runs in a process forked from a server that has already
imported pytest, DuckDB and the pipeline: it gets a copy of sql/ with its one model replaced,
and pytest runs the metric tests (METRIC_TESTS) with ESPRIT_TEST_PREBUILT and
ESPRIT_TEST_SQL_DIR set, so that their fixtures copy the template and build the models from
the mutated folder. The first failing test kills the mutant (-x).

Results are kept per model in results.json beside this file, so that a run of a few models
(--models) updates their rows only; docs/mutation.md is written from it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

from tests.mutation.generate import Mutant, mutants, regenerate, token_mutants

REPO_ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = REPO_ROOT / "sql"
RESULTS = Path(__file__).with_name("results.json")
EQUIVALENT = Path(__file__).with_name("equivalent.yaml")
REPORT = REPO_ROOT / "docs" / "mutation.md"
# the golden tests first: their warehouses are small, so most mutants fail sooner (-x)
METRIC_TESTS = ["tests/test_golden.py", "tests/test_metrics_ground_truth.py"]
# It renders GX's data docs from the validation results of the load: no model is read, so no
# SQL mutant can change its outcome, and it is the slowest of the metric tests.
NOT_MODEL_TESTS = [
    "tests/test_metrics_ground_truth.py::test_data_docs_render_only_new_results_and_drop_those_no_longer_kept"
]
# imported once by the fork server, not by each mutant's process
PRELOAD = [
    "duckdb",
    "pandas",
    "pytest",
    "yaml",
    "pipelines.config",
    "pipelines.model.build",
    "pipelines.orchestration.run",
    "pipelines.ingest.load",
    "pipelines.ingest.privacy",
    "pipelines.ingest.profiles",
    "pipelines.warehouse",
    "tests.truth",
    "tests.mutation.run",
]
KILLED = ("killed", "build_error", "timeout")


# ---- the template: the fixtures' data, ingested once --------------------------------------------


def build_template(template: Path) -> None:
    """generated/, pipeline/ (+ pipeline_result.json), golden/, golden_dst/, golden_edges/,
    golden_continuity/, golden_spans/ as tests/conftest.py and tests/test_golden.py would make them, models not
    built."""
    from pipelines.config import load_settings
    from pipelines.generate import generate
    from pipelines.orchestration.run import run_all
    from tests.conftest import DATA_SEED, DATA_WEEKS, JOURNEYS_PER_WEEK, copy_landing
    from tests.test_golden import (
        load_golden,
        load_golden_continuity,
        load_golden_dst,
        load_golden_edges,
        load_golden_spans,
    )

    generate(template / "generated", weeks=DATA_WEEKS, seed=DATA_SEED, journeys_per_week=JOURNEYS_PER_WEEK)
    settings = load_settings(base_dir=template / "pipeline")
    copy_landing(template / "generated", settings.landing)
    result = run_all(settings)
    (template / "pipeline_result.json").write_text(json.dumps(result, default=str), encoding="utf-8")
    load_golden(load_settings(base_dir=template / "golden"))
    load_golden_dst(load_settings(base_dir=template / "golden_dst"))
    load_golden_edges(load_settings(base_dir=template / "golden_edges"))
    load_golden_continuity(load_settings(base_dir=template / "golden_continuity"))
    load_golden_spans(load_settings(base_dir=template / "golden_spans"))


def sql_folder(target: Path, replaced: dict[str, str]) -> Path:
    """A copy of sql/ with the models in replaced ({model: SQL}) rewritten."""
    shutil.copytree(SQL_DIR, target)
    for model, sql in replaced.items():
        (path,) = target.glob(f"*/{model}.sql")
        path.write_text(sql, encoding="utf-8")
    return target


def _model_tables() -> list[str]:
    return sorted(p.stem for p in SQL_DIR.glob("*/*.sql"))


# the weekly tables' bookkeeping, which differs from build to build whatever the SQL
BUILD_COLUMNS = {"build_id", "computed_at"}


def _differ(con, table: str) -> bool:
    """a.table and b.table hold different rows (as multisets, bookkeeping columns left out)."""
    columns = ", ".join(f'"{r[0]}"' for r in con.execute(f"DESCRIBE a.{table}").fetchall() if r[0] not in BUILD_COLUMNS)
    return bool(
        con.execute(
            f"SELECT (SELECT count(*) FROM (SELECT {columns} FROM a.{table} EXCEPT ALL SELECT {columns} FROM b.{table})) "
            f"+ (SELECT count(*) FROM (SELECT {columns} FROM b.{table} EXCEPT ALL SELECT {columns} FROM a.{table}))"
        ).fetchone()[0]
    )


def round_trips(template: Path, work: Path, models: list[str]) -> dict[str, str]:
    """For each model, whether sqlglot's regenerated SQL builds every model table with the same
    rows (as a multiset) as the hand-written SQL on the test data: 'ast' where it does, else
    'token' (with the first table that differs)."""
    import duckdb

    from pipelines.config import load_settings
    from pipelines.model.build import build_models

    def build(name: str, sql_dir: Path) -> Path:
        home = work / name
        shutil.copytree(template / "pipeline", home)
        settings = load_settings(base_dir=home)
        build_models(settings, sql_dir=sql_dir, full=True)
        return settings.warehouse

    reference = build("reference", SQL_DIR)
    levels = {}
    for model in models:
        original = next(SQL_DIR.glob(f"*/{model}.sql")).read_text(encoding="utf-8")
        try:
            regenerated = build(
                f"roundtrip-{model}", sql_folder(work / f"sql-roundtrip-{model}", {model: regenerate(original)})
            )
        except Exception as exc:  # noqa: BLE001 - a model sqlglot cannot write back is mutated as text
            levels[model] = f"token (regenerated SQL does not build: {str(exc).splitlines()[0][:120]})"
            continue
        con = duckdb.connect()
        con.execute(f"ATTACH '{reference}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{regenerated}' AS b (READ_ONLY)")
        differs = [t for t in _model_tables() if _differ(con, t)]
        con.close()
        levels[model] = "ast" if not differs else f"token (regenerated SQL changes {differs[0]})"
        shutil.rmtree(regenerated.parent.parent)
    return levels


# ---- one mutant, in a forked process --------------------------------------------------------------


class _Recorder:
    """Each failed test or collection, with the exception pytest reports."""

    def __init__(self) -> None:
        self.failures: list[dict] = []
        self.passed = 0

    def _record(self, report) -> None:
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(report.longrepr)[-400:]
        self.failures.append(
            {"test": report.nodeid, "when": getattr(report, "when", "collect"), "message": message[:400]}
        )

    def pytest_runtest_logreport(self, report) -> None:
        if report.failed:
            self._record(report)
        elif report.when == "call" and report.passed:
            self.passed += 1

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self._record(report)


def _cap_memory(gib: float) -> None:
    """At most gib GiB of address space more than the process has now: a mutant that drops a join
    key can make a join of every row with every row, and the machine is shared. DuckDB then
    fails the build with an out-of-memory error (a kill, as a build error)."""
    import resource

    with open("/proc/self/status", encoding="ascii") as status:
        size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    limit = size + int(gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _run_tests(sql_dir: str, template: str, work: str, result_path: str, memory_gib: float = 0) -> None:
    """The child: the metric tests against sql_dir's models; writes its verdict to result_path."""
    import pytest

    if memory_gib:
        _cap_memory(memory_gib)

    os.environ["ESPRIT_TEST_PREBUILT"] = template
    os.environ["ESPRIT_TEST_SQL_DIR"] = sql_dir
    tempfile.tempdir = work  # conftest's and pytest's temporary folders go with the mutant's
    log = open(Path(work) / "pytest.log", "w", encoding="utf-8")  # noqa: SIM115 - open until exit
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    os.chdir(REPO_ROOT)
    recorder = _Recorder()
    args = [
        *METRIC_TESTS,
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-W",
        "ignore::DeprecationWarning",
        "--basetemp",
        str(Path(work) / "pytest"),
    ]
    for test in NOT_MODEL_TESTS:
        args += ["--deselect", test]
    code = int(pytest.main(args, plugins=[recorder]))
    first = recorder.failures[0] if recorder.failures else None
    if code == 0:
        status = "survived"
    elif code == 1 and first is not None:
        build = first["message"].startswith("RuntimeError: model ") and " failed: " in first["message"]
        status = "build_error" if build else "killed"
    else:
        status = "error"  # pytest could not run the tests: neither a kill nor a survival
    Path(result_path).write_text(
        json.dumps({"status": status, "exit_code": code, "first_failure": first, "passed": recorder.passed}),
        encoding="utf-8",
    )
    log.flush()


class Pool:
    """At most `workers` mutants at a time, each in a process forked from a preloaded server,
    killed after `timeout` seconds."""

    def __init__(self, workers: int, timeout: float, memory_gib: float = 0) -> None:
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(PRELOAD)
        self.workers, self.timeout, self.memory_gib = workers, timeout, memory_gib

    def run(self, jobs: list[tuple[str, Path, Path]], template: Path, on_done) -> None:
        """jobs: (key, sql folder, work folder); on_done(key, verdict, seconds) as each ends."""
        pending, active = list(jobs), {}
        while pending or active:
            while pending and len(active) < self.workers:
                key, sql_dir, work = pending.pop(0)
                result = work / "result.json"
                proc = self.context.Process(
                    target=_run_tests,
                    args=(str(sql_dir), str(template), str(work), str(result), self.memory_gib),
                    daemon=True,
                )
                proc.start()
                active[key] = (proc, time.monotonic(), result)
            time.sleep(0.05)
            for key, (proc, started, result) in list(active.items()):
                elapsed = time.monotonic() - started
                timed_out = proc.is_alive() and elapsed >= self.timeout
                if proc.is_alive() and not timed_out:
                    continue
                if timed_out:
                    proc.kill()
                proc.join()
                if timed_out:
                    verdict = {"status": "timeout", "first_failure": None}
                elif result.exists():
                    verdict = json.loads(result.read_text(encoding="utf-8"))
                else:
                    verdict = {"status": "error", "first_failure": {"message": f"worker exit code {proc.exitcode}"}}
                del active[key]
                on_done(key, verdict, round(elapsed, 2))


# ---- the run ----------------------------------------------------------------------------------


def load_equivalent() -> dict[str, str]:
    entries = yaml.safe_load(EQUIVALENT.read_text(encoding="utf-8")) or []
    return {e["id"]: e["reason"] for e in entries}


def load_results() -> dict:
    return json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {"models": {}, "runs": []}


def all_models() -> list[str]:
    from pipelines.model.build import discover

    return [m.name for m in discover(SQL_DIR)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", help="comma-separated model names (default: every model in sql/)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--timeout",
        type=float,
        default=120,
        help="seconds before a mutant's run is stopped (an unmutated run takes about 10 s on 2 busy cores)",
    )
    parser.add_argument("--memory-gib", type=float, default=3, help="address space a mutant's run may add (GiB)")
    parser.add_argument("--list", action="store_true", help="print the mutants and stop")
    parser.add_argument("--report-only", action="store_true", help="rewrite docs/mutation.md from results.json")
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="run only the mutants results.json lists as survived and not equivalent (after a new test); "
        "keep the other verdicts",
    )
    args = parser.parse_args(argv)
    known = all_models()
    models = [m.strip() for m in args.models.split(",")] if args.models else known
    unknown = sorted(set(models) - set(known))
    if unknown:
        parser.error(f"unknown models: {', '.join(unknown)}")
    if args.report_only:
        write_report(load_results(), load_equivalent())
        return 0
    sources = {m: next(SQL_DIR.glob(f"*/{m}.sql")).read_text(encoding="utf-8") for m in models}
    if args.list:
        for model in models:
            for m in mutants(model, sources[model]):
                print(f"{m.id}  line {m.line}: {m.before} -> {m.after}")
        return 0

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="esprit-mutate-"))
    try:
        print(f"building the template (generated data, ingested once); {args.workers} workers", flush=True)
        template = work / "template"
        build_template(template)
        levels = round_trips(template, work / "roundtrip", models)
        generated: dict[str, list[Mutant]] = {}
        previous, equivalent = load_results()["models"], load_equivalent()
        for model in models:
            generated[model] = (mutants if levels[model] == "ast" else token_mutants)(model, sources[model])
            if args.survivors:  # neither killed nor declared equivalent
                alive = {
                    m["id"] for m in previous.get(model, {}).get("mutants", []) if classify(m, equivalent) == "survived"
                }
                generated[model] = [m for m in generated[model] if m.id in alive]
            print(f"{model}: {len(generated[model])} mutants ({levels[model]})", flush=True)
        pool = Pool(args.workers, args.timeout, args.memory_gib)
        # the gate means something only if the tests pass on the SQL the mutants are made from
        baseline = {m: regenerate(sources[m]) for m in models if levels[m] == "ast"}
        (work / "baseline").mkdir()
        verdicts: dict[str, dict] = {}
        pool.run(
            [("baseline", sql_folder(work / "baseline" / "sql", baseline), work / "baseline")],
            template,
            lambda key, verdict, seconds: verdicts.__setitem__(key, verdict),
        )
        print(f"baseline: {verdicts['baseline'].get('passed')} metric tests pass on the unmutated models", flush=True)
        if verdicts["baseline"]["status"] != "survived" or not verdicts["baseline"].get("passed"):
            print(f"the metric tests fail on the unmutated models: {verdicts['baseline']}", file=sys.stderr)
            return 2
        total = sum(len(v) for v in generated.values())
        by_key = {m.id: m for ms in generated.values() for m in ms}
        outcome: dict[str, dict] = {}

        def done(key: str, verdict: dict, seconds: float) -> None:
            outcome[key] = {**verdict, "seconds": seconds}
            shutil.rmtree(work / "mutants" / key.replace(":", "_"), ignore_errors=True)
            print(
                f"[{len(outcome)}/{total}] {verdict['status']:<11} {key}  {by_key[key].before} -> {by_key[key].after}",
                flush=True,
            )

        jobs = []
        for mutant in by_key.values():
            folder = work / "mutants" / mutant.id.replace(":", "_")
            folder.mkdir(parents=True)
            jobs.append((mutant.id, sql_folder(folder / "sql", {mutant.model: mutant.sql}), folder))
        pool.run(jobs, template, done)
        minutes = round((time.monotonic() - started) / 60, 1)
        results = load_results()
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        for model in models:
            verdicts = [
                {
                    **{k: v for k, v in m.as_dict().items() if k not in ("sql", "model")},
                    "status": outcome[m.id]["status"],
                    "seconds": outcome[m.id]["seconds"],
                    "first_failure": (outcome[m.id].get("first_failure") or {}).get("test"),
                }
                for m in generated[model]
            ]
            if args.survivors:  # the model's other verdicts stand; the rechecked ones say when
                rechecked = {v["id"]: {**v, "rechecked": stamp} for v in verdicts}
                entry = results["models"].get(model)
                if entry is not None:
                    entry["mutants"] = [rechecked.get(m["id"], m) for m in entry["mutants"]]
                continue
            results["models"][model] = {
                "level": levels[model],
                "run": stamp,
                "workers": args.workers,
                "mutants": verdicts,
            }
        run = {"at": stamp, "models": models, "mutants": total, "workers": args.workers, "minutes": minutes}
        results["runs"].append({**run, "survivors_only": True} if args.survivors else run)
        RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        write_report(results, load_equivalent())
        print(f"{total} mutants in {minutes} min with {args.workers} workers; report: docs/mutation.md")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---- the report -------------------------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("`", "'").replace("|", "\\|")


def classify(mutant: dict, equivalent: dict[str, str]) -> str:
    if mutant["status"] == "survived" and mutant["id"] in equivalent:
        return "equivalent"
    return mutant["status"]


def write_report(results: dict, equivalent: dict[str, str]) -> None:
    from tests.mutation.generate import OPERATORS

    lines = [
        "# Mutation gate for the SQL models",
        "",
        "`make mutate` (`python -m tests.mutation`, code in `tests/mutation/`) makes mutants of every model in",
        "`sql/` with sqlglot's DuckDB dialect, builds each into a copy of a warehouse loaded once with the test",
        "data, and runs the metric tests against it: `tests/test_metrics_ground_truth.py` (generator ground",
        "truth) and `tests/test_golden.py` (hand-worked cases), the same tests `make test` runs, through their",
        "fixtures (`ESPRIT_TEST_PREBUILT`, `ESPRIT_TEST_SQL_DIR`); only the data-docs rendering test, which",
        "reads no model, is left out. A mutant is *killed* when a test fails, *killed (build error)* when its",
        "SQL does not build, *timeout* (counted as killed) when its run exceeds the limit, *equivalent* when it",
        "survived and `tests/mutation/equivalent.yaml` says in one line why no test can tell it apart.",
        "Kill rate = killed (all three kinds) / (mutants - equivalent); the target is at least 95 %.",
        "It is not part of `make test`. Options: `make mutate MUTATE_ARGS='--models handoffs --workers 2'`;",
        "`--survivors` reruns only a model's survivors (after a new test) and keeps its other verdicts: the",
        "row's run is then that of its last full run, and the rechecked mutants say when in results.json.",
        "",
        "Operators: " + "; ".join(f"`{k}` {v}" for k, v in OPERATORS.items()) + ".",
        "Mutant ids are model:CTE:operator:hash of the mutated text (and its rank among identical texts",
        "of that CTE), so they stay the same from run to run and when other lines move.",
        "",
        "The Python metric helpers (`pipelines/report/stats.py`) have their own gate, mutmut, the last step",
        "of `make mutate` (`make mutate-python` alone; configured in `pyproject.toml`; `mutmut results` lists",
        "its survivors): its latest result and why its survivors are equivalent are in `docs/metrics.md`",
        "(*How the metrics are tested*).",
        "",
        "## Per model",
        "",
        "| model | mutated as | mutants | killed | build errors | timeouts | survived | equivalent | kill rate | run |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    totals = dict.fromkeys(("mutants", "killed", "build_error", "timeout", "survived", "equivalent", "error"), 0)
    survivors, equivalents, stale = [], [], []
    models = results["models"]
    for model in sorted(models, key=lambda m: all_models().index(m) if m in all_models() else 99):
        entry = models[model]
        counts = dict.fromkeys(totals, 0)
        for mutant in entry["mutants"]:
            status = classify(mutant, equivalent)
            counts[status] += 1
            counts["mutants"] += 1
            one = f"`{_md(mutant['id'])}` line {mutant['line']}: `{_md(mutant['before'])}` -> `{_md(mutant['after'])}`"
            if status == "survived":
                survivors.append(f"- {one}")
            elif status == "equivalent":
                equivalents.append(f"- {one}: {equivalent[mutant['id']]}")
            elif mutant["id"] in equivalent:
                stale.append(f"- `{_md(mutant['id'])}` is declared equivalent but was {status}")
        for key in totals:
            totals[key] += counts[key]
        lines.append(_row(model, entry["level"].split(" ")[0], counts, f"{entry['run']}, {entry['workers']} workers"))
    lines.append(_row("**all**", "", totals, ""))
    missing = [m for m in all_models() if m not in models]
    lines += ["", "Not run yet: " + (", ".join(f"`{m}`" for m in missing) if missing else "none") + "."]
    token = [f"`{m}` ({models[m]['level']})" for m in models if models[m]["level"] != "ast"]
    lines += [
        "",
        "sqlglot regenerates every model run so far with the same rows in every model table (checked at each run)"
        if not token
        else "Mutated at the token level: " + ", ".join(token) + ".",
    ]
    lines += [
        "",
        "## Survivors",
        "",
        *(survivors or ["None."]),
        "",
        "## Equivalent mutants",
        "",
        *(equivalents or ["None declared."]),
    ]
    # a declared id that its model, as last run, no longer produces: that SQL changed since
    produced = {m["id"] for entry in models.values() for m in entry["mutants"]}
    stale += [
        f"- `{_md(i)}` is declared equivalent but its model no longer has that mutant"
        for i in equivalent
        if i.split(":")[0] in models and i not in produced
    ]
    if stale:
        lines += ["", "Stale declarations (remove them from equivalent.yaml):", "", *stale]
    if totals["error"]:
        lines += ["", f"{totals['error']} mutants could not be run (pytest error): see results.json."]
    lines += [
        "",
        "## Runs",
        "",
        "| when (UTC) | models | mutants | workers | minutes |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for run in results["runs"]:
        names = f"all {len(run['models'])}" if set(run["models"]) == set(all_models()) else ", ".join(run["models"])
        if run.get("survivors_only"):
            names += " (survivors only)"
        lines.append(f"| {run['at']} | {names} | {run['mutants']} | {run['workers']} | {run['minutes']} |")
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _row(model: str, level: str, c: dict, run: str) -> str:
    live = c["mutants"] - c["equivalent"]
    killed = c["killed"] + c["build_error"] + c["timeout"]
    rate = f"{100 * killed / live:.1f} %" if live else "-"
    return (
        f"| {model} | {level} | {c['mutants']} | {c['killed']} | {c['build_error']} | {c['timeout']} | "
        f"{c['survived']} | {c['equivalent']} | {rate} | {run} |"
    )
