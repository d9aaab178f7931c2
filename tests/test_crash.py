"""Crash safety: the pipeline killed with SIGKILL at many points across ingest, metrics and
scorecard leaves a consistent warehouse and no partial output; rerunning completes and gives the
uninterrupted run's warehouse, exports and scorecard figures.

A child Python process (`CHILD`, below) imports the pipeline once, then forks one run of
`run_all` per request; the forked run counts the statements it sends to DuckDB, the files it
writes and the renames that publish them, phase by phase, and kills itself with SIGKILL at the
requested one. Real DuckDB, real Great Expectations; nothing is mocked. Figures in
docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from pipelines.config import load_settings
from pipelines.model.build import discover
from tests.conftest import REPO_ROOT, copy_landing
from tests.test_reliability import CANONICAL_TABLES, export_hashes, scorecard_figures, warehouse_hashes

PHASES = ("ingest", "metrics", "scorecard")

# The child. Each request (a JSON line on stdin) is {"home", "kill": [phase, n, when, kind] or null,
# "counts": path}; the answer (a JSON line) is how the forked run ended. Events are statements
# ("sql"), file writes ("write") and renames ("rename"); the kill falls on the phase's n-th event
# (of that kind, when `kind` is not null), in the ingest on [file, n]: the n-th event of the file's
# transaction (file 0: before the first), the files counted in the order the run takes them, loaded
# or skipped: "before" the event, "after" it, or "mid" (a write: half the text written, then the kill).
CHILD = r"""
import json, os, signal, sys
from pathlib import Path

import functools

import pipelines.warehouse
import pipelines.orchestration.run
from pipelines.config import load_settings
from pipelines.ingest import validation
from pipelines.contracts import CONTRACTS

for table in CONTRACTS:  # Great Expectations' start-up, paid once before forking
    validation._batch_definition(table)
    validation._suite(table)


def run(home, kill, counts_path):
    counts = {"ingest": 0, "check": 0, "metrics": 0, "scorecard": 0, "other": 0, "ingest files": [0]}
    state = {"phase": "other"}

    def event(kind, do, *args):
        phase = state["phase"]
        counts[phase] += 1
        counts[phase + " " + kind] = counts.get(phase + " " + kind, 0) + 1
        if phase == "ingest":  # ingest events are also numbered within each file's transaction
            if kind == "sql" and str(args[0]).startswith("BEGIN"):
                counts["ingest files"].append(0)
            counts["ingest files"][-1] += 1
        if kill is not None and kill[0] == "ingest" == phase and kill[3] is None:
            aimed = kill[1] == [len(counts["ingest files"]) - 1, counts["ingest files"][-1]]
        else:
            aimed = (kill is not None and kill[0] == phase and kill[3] in (None, kind)
                     and kill[1] == counts[phase if kill[3] is None else phase + " " + kind])
        if aimed and kill[2] == "mid" and kind == "write":
            do(args[0], args[1][: len(args[1]) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        if aimed and kill[2] != "after":
            os.kill(os.getpid(), signal.SIGKILL)
        done = do(*args)
        if aimed:
            os.kill(os.getpid(), signal.SIGKILL)
        return done

    class CountedConnection:
        def __init__(self, con):
            self._con = con

        def execute(self, *args, **kwargs):
            return event("sql", lambda *a: self._con.execute(*a, **kwargs), *args)

        def executemany(self, *args, **kwargs):
            return event("sql", lambda *a: self._con.executemany(*a, **kwargs), *args)

        def __getattr__(self, name):
            return getattr(self._con, name)

    real_connect = pipelines.warehouse.connect

    def counted_connect(*args, **kwargs):
        return CountedConnection(real_connect(*args, **kwargs))

    for module in list(sys.modules.values()):
        if (module.__name__ or "").startswith("pipelines") and getattr(module, "connect", None) is real_connect:
            module.connect = counted_connect

    real_write_text, real_replace = Path.write_text, os.replace
    Path.write_text = lambda self, text, *a, **k: event("write", lambda p, t: real_write_text(p, t, *a, **k),
                                                        self, text)
    os.replace = lambda src, dst, *a, **k: event("rename", lambda s, d: real_replace(s, d, *a, **k), src, dst)

    def phased(phase, function):
        def wrapped(*args, **kwargs):
            state["phase"] = phase
            try:
                return function(*args, **kwargs)
            finally:
                state["phase"] = "other"
        return wrapped

    pipelines.orchestration.run.ingest_source = phased("ingest", pipelines.orchestration.run.ingest_source)
    pipelines.orchestration.run.check_loads = phased("check", pipelines.orchestration.run.check_loads)
    pipelines.orchestration.run.build_models = phased("metrics", pipelines.orchestration.run.build_models)
    # every run renders every week (a week rendered before a kill would otherwise be skipped by the next
    # run, which then ends before the later kill points): each kill point falls where it was placed
    pipelines.orchestration.run.render_weeks = phased(
        "scorecard", functools.partial(pipelines.orchestration.run.render_weeks, force=True)
    )
    pipelines.orchestration.run.run_all(load_settings(base_dir=Path(home)))
    Path(counts_path).write_text(json.dumps(counts))


for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            run(request["home"], request["kill"], request["counts"])
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    ended = {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"exit": os.WEXITSTATUS(status)}
    print(json.dumps(ended), flush=True)
"""


class Child:
    """The child process: `run(home, kill)` forks one pipeline run and says how it ended."""

    def __init__(self, folder: Path):
        self.folder = folder
        # No PDF: each print starts a Chromium, most of this test's CPU, and no check below reads a PDF
        # (printing is tested in tests/test_scorecard.py and tests/test_scorecard_locale.py).
        config = folder / "crash.yaml"
        config.write_text("scorecard: {pdf: false}\n", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD],
            cwd=REPO_ROOT,
            env={**os.environ, "ESPRIT_CONFIG": str(config)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, home: Path, kill: tuple[str, int, str, str | None] | None) -> tuple[dict, dict | None]:
        counts = self.folder / "counts.json"
        counts.unlink(missing_ok=True)
        self.process.stdin.write(json.dumps({"home": str(home), "kill": kill, "counts": str(counts)}) + "\n")
        self.process.stdin.flush()
        ended = json.loads(self.process.stdout.readline())
        return ended, (json.loads(counts.read_text()) if counts.exists() else None)

    def close(self) -> None:
        self.process.stdin.close()  # the child's loop ends with its input
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


# ---- what must hold after any kill -----------------------------------------------------------------


def warehouse_problems(warehouse: Path, models: list[str]) -> list[str]:
    """Rows of loads the audit does not record as loaded, audit counts not matching the rows, models
    half built. Empty: consistent."""
    if not warehouse.exists():
        return []
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()
        }
        if "load_audit" not in tables:
            return [] if not tables & set(models) else [f"models without an audit: {sorted(tables & set(models))}"]
        problems = []
        audit = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT load_id, file_name, status, rows_read, rows_loaded, rows_quarantined, rows_duplicate, "
                "derived_rows FROM load_audit"
            ).fetchall()
        }
        names = [a[0] for a in audit.values()]
        problems += [f"{n} in the audit {names.count(n)} times" for n in set(names) if names.count(n) > 1]
        for _load_id, (name, status, read, loaded, quarantined, duplicate, _derived) in audit.items():
            if status != "loaded":
                problems.append(f"{name}: status {status}")
            if read != loaded + quarantined + duplicate:
                problems.append(f"{name}: read {read} != {loaded} + {quarantined} + {duplicate}")
        counted = {
            t: dict(con.execute(f"SELECT load_id, count(*) FROM {t} GROUP BY load_id").fetchall())
            for t in CANONICAL_TABLES + ("quarantine", "validation_results")
        }
        for table, per_load in counted.items():
            problems += [
                f"{n} rows of {table} from load {i}, which the audit does not hold"
                for i, n in per_load.items()
                if i not in audit
            ]
        for load_id, (name, _, _, loaded, quarantined, _, derived) in audit.items():
            rows = sum(counted[t].get(load_id, 0) for t in CANONICAL_TABLES)
            if rows != loaded + derived:
                problems.append(f"{name}: {rows} rows in the tables, audit says {loaded} + {derived} derived")
            if counted["quarantine"].get(load_id, 0) != quarantined:
                problems.append(f"{name}: {counted['quarantine'].get(load_id, 0)} quarantined, audit {quarantined}")
            if not counted["validation_results"].get(load_id):
                problems.append(f"{name}: no validation results")
        builds = con.execute("SELECT count(*) FROM model_builds").fetchone()[0] if "model_builds" in tables else 0
        present = [m for m in models if m in tables]
        if present and (not builds or len(present) != len(models)):
            problems.append(f"{len(present)} of {len(models)} models present after {builds} committed builds")
        return problems
    finally:
        con.close()


def loaded_files(warehouse: Path) -> int:
    if not warehouse.exists():
        return 0
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM load_audit WHERE status = 'loaded'").fetchone()[0]
    except duckdb.CatalogException:
        return 0
    finally:
        con.close()


def partial_outputs(out: Path) -> list[str]:
    """Output files (not the hidden names they are written under) that are not whole."""
    found = []
    con = duckdb.connect()
    try:
        for path in sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")):
            try:
                if path.suffix == ".html" and not path.read_text(encoding="utf-8").rstrip().endswith("</html>"):
                    found.append(f"{path.relative_to(out)}: no </html> at the end")
                elif path.suffix == ".json":
                    json.loads(path.read_text(encoding="utf-8"))
                elif path.suffix == ".parquet":
                    con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchall()
                elif path.suffix == ".csv":
                    con.execute("SELECT count(*) FROM read_csv(?, strict_mode = true)", [str(path)]).fetchall()
            except (ValueError, duckdb.Error) as exc:
                found.append(f"{path.relative_to(out)}: {str(exc)[:200]}")
    finally:
        con.close()
    return found


def kill_points(counts: dict, per_phase: int) -> list[tuple]:
    """`per_phase` points spread over each phase's events of an uninterrupted run, alternately before
    and after an event; in the scorecard, every third one in the middle of the write it falls on
    (before it if it is not a write). Metrics and scorecard are redone whole by every run. The
    ingest resumes where the previous run stopped: its points are placed by file and event within
    the file, which the resumed run reaches after skipping the files already loaded."""
    points = []
    for phase in PHASES:
        step = counts[phase] / (per_phase + 1)
        for i in range(1, per_phase + 1):
            when = "mid" if phase == "scorecard" and i % 3 == 0 else ("before", "after")[i % 2]
            at = max(1, round(step * i))
            if phase == "ingest":
                file = 0
                while at > counts["ingest files"][file]:
                    at -= counts["ingest files"][file]
                    file += 1
                at = [file, at]
            points.append((phase, at, when, None))
    return points


def test_killed_anywhere_the_warehouse_stays_consistent_and_a_rerun_gives_the_uninterrupted_result(generated, tmp_path):
    child = Child(tmp_path)
    try:
        reference = load_settings(base_dir=tmp_path / "reference")
        copy_landing(generated, reference.landing)
        ended, counts = child.run(reference.landing.parent, None)
        assert ended == {"exit": 0} and all(counts[p] > 50 for p in PHASES), (ended, counts)

        settings = load_settings(base_dir=tmp_path / "crashed")
        copy_landing(generated, settings.landing)
        models = [m.name for m in discover()]
        fired, files_loaded, left_partial = [], set(), 0
        for point in kill_points(counts, per_phase=8):
            ended, _ = child.run(settings.landing.parent, point)
            if ended == {"signal": 9}:
                fired.append(point)
            else:
                assert ended == {"exit": 0}, (point, ended)
            assert warehouse_problems(settings.warehouse, models) == [], point
            assert partial_outputs(settings.out) == [], point
            files_loaded.add(loaded_files(settings.warehouse))
            left_partial += bool(list(settings.out.rglob(".*.partial")))
        print(
            f"\nevents of an uninterrupted run: {counts}; {len(fired)} kills: {fired}; files loaded after the "
            f"kills: {sorted(files_loaded)}; kills leaving a .partial file: {left_partial}"
        )
        assert len(fired) >= 20 and {p[0] for p in fired} == set(PHASES), fired
        # the kills did interrupt work: loads half way, files being written
        assert len(files_loaded - {0, len(list(generated.glob("[!g]*/*")))}) >= 3 and left_partial >= 2, (
            files_loaded,
            left_partial,
        )

        ended, _ = child.run(settings.landing.parent, None)
        assert ended == {"exit": 0}
    finally:
        child.close()
    assert warehouse_problems(settings.warehouse, models) == []
    assert partial_outputs(settings.out) == []
    assert not list(settings.out.rglob(".*.partial"))  # the rerun published what the kills left half done
    mine, theirs = warehouse_hashes(settings.warehouse), warehouse_hashes(reference.warehouse)
    assert mine.keys() == theirs.keys() and {t: h for t, h in mine.items() if h != theirs[t]} == {}
    assert export_hashes(settings.out / "exports") == export_hashes(reference.out / "exports")
    assert scorecard_figures(settings.scorecards_dir) == scorecard_figures(reference.scorecards_dir)


def test_a_kill_while_a_validation_result_is_written_leaves_no_partial_file(generated, tmp_path):
    """The first file Great Expectations' check of the loads writes is its result
    (out/validation_results/): killed half-way through it, only the hidden name it is written under
    holds half a JSON."""
    settings = load_settings(base_dir=tmp_path / "home")
    copy_landing(generated, settings.landing)
    child = Child(tmp_path)
    try:
        ended, _ = child.run(settings.landing.parent, ("check", 1, "mid", "write"))
    finally:
        child.close()
    assert ended == {"signal": 9}
    assert list((settings.out / "validation_results").glob(".*.partial"))  # the write the kill fell on
    assert partial_outputs(settings.out) == []
