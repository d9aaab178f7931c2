"""Shared fixtures. Airflow reads its configuration once, at first import: point it at a
throw-away home (SQLite metadata, the project's DAGs) before any test imports it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="esprit-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "GX_ANALYTICS_ENABLED": "false",
    }
)
# A test key for pseudonyms (never the public demo key, which is refused outside demo mode).
os.environ["ESPRIT_PSEUDONYM_KEY"] = "esprit-test-key-0123456789abcdef"
os.environ.pop("ESPRIT_DEMO", None)
for _key in ("ESPRIT_CONFIG", "ESPRIT_HOME", "ESPRIT_LANDING", "ESPRIT_WAREHOUSE", "ESPRIT_OUT", "ESPRIT_REJECTED"):
    os.environ.pop(_key, None)

# A small data set: enough weeks for week-on-week changes, small enough to stay quick.
DATA_WEEKS, DATA_SEED, JOURNEYS_PER_WEEK = 3, 11, 200

# The mutation gate (tests/mutation, `make mutate`) runs the metric tests against models built
# from a mutated SQL folder, ESPRIT_TEST_SQL_DIR, over data generated and ingested once into
# ESPRIT_TEST_PREBUILT (generated/, pipeline/ and its pipeline_result.json, golden/, golden_dst/,
# golden_edges/, golden_spans/)
# rather than once per mutant. Neither is set in a normal run.
PREBUILT_ENV, SQL_DIR_ENV = "ESPRIT_TEST_PREBUILT", "ESPRIT_TEST_SQL_DIR"


# The files that take longest, longest first; every other file after them, in their own order.
# `make test` runs the suite in two processes (pytest-xdist, whole files to a process, in this
# order): the long files start at once, on both cores, and the short ones fill in around them.
LONGEST_FIRST = (
    "test_scheduler.py",
    "test_bench.py",
    "test_crash.py",
    "test_end_to_end.py",
    # then by their time in the last fresh-clone run (docs/performance.md), so that the files
    # handed out last are short ones and the two processes end close together
    "test_dags.py",
    "test_reliability.py",
    "test_hostile_names.py",
    "test_packaging.py",
    "test_fuzz.py",
    "test_triggerer_restart.py",
    "test_field_truth.py",
    "test_models.py",
    "test_ingest.py",
    "test_scorecard_browser.py",
    "test_deliveries.py",
)


def pytest_collection_modifyitems(items) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's tests keep their order


def models_sql_dir() -> Path:
    """The SQL folder the metric tests build their models from."""
    return Path(os.environ.get(SQL_DIR_ENV) or REPO_ROOT / "sql")


def prebuilt(name: str) -> Path | None:
    """The prebuilt copy of a fixture's folder, when the mutation gate made one."""
    root = os.environ.get(PREBUILT_ENV)
    return Path(root) / name if root else None


def copy_prebuilt(name: str, home: Path) -> bool:
    """Copy the prebuilt home `name` into home; False when there is none (a normal run)."""
    import shutil

    source = prebuilt(name)
    if source is None:
        return False
    shutil.copytree(source, home, dirs_exist_ok=True)
    return True


def built_once(tmp_path_factory, name: str, build) -> Path:
    """A folder that build(folder) fills once for the whole run: under pytest-xdist (make test)
    the first process to need it builds it, under a lock, and the others wait for it rather than
    build it again. Callers that write into it copy it first."""
    import fcntl
    import shutil

    if os.environ.get("PYTEST_XDIST_WORKER") is None:  # one process: nothing to share
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    folder = tmp_path_factory.getbasetemp().parent / f"shared-{name}"  # the run's, not the worker's
    with open(folder.with_name(f"{folder.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Path:
    """A seeded landing folder with its ground truth (do not modify: copy it first)."""
    from pipelines.generate import generate

    if prebuilt("generated") is not None:
        return prebuilt("generated")

    def build(folder: Path) -> None:
        generate(folder / "landing", weeks=DATA_WEEKS, seed=DATA_SEED, journeys_per_week=JOURNEYS_PER_WEEK)

    return built_once(tmp_path_factory, "generated", build) / "landing"


@pytest.fixture
def settings(tmp_path):
    """Settings whose every path is inside this test's temporary folder."""
    from pipelines.config import load_settings

    return load_settings(base_dir=tmp_path)


def copy_landing(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target


@pytest.fixture(scope="session")
def pipeline_run(generated, tmp_path_factory):
    """The generated data through the whole pipeline without Airflow: (settings, result)."""
    import json
    import shutil

    from pipelines.config import load_settings
    from pipelines.model.build import SQL_DIR, build_models
    from pipelines.orchestration.run import run_all

    home = tmp_path_factory.mktemp("pipeline")
    settings = load_settings(base_dir=home)
    if copy_prebuilt("pipeline", home):
        result = json.loads(prebuilt("pipeline_result.json").read_text(encoding="utf-8"))
    else:

        def build(folder: Path) -> None:
            built = load_settings(base_dir=folder / "home")
            copy_landing(generated, built.landing)
            (folder / "result.json").write_text(json.dumps(run_all(built)), encoding="utf-8")

        # built once for the run (a pipeline run with its PDFs); each process works in its own copy
        shared = built_once(tmp_path_factory, "pipeline", build)
        shutil.copytree(shared / "home", home, dirs_exist_ok=True)
        # the paths the result names (pages, folders) are those of this process's copy
        text = (shared / "result.json").read_text(encoding="utf-8")
        result = json.loads(text.replace(json.dumps(str(shared / "home"))[1:-1], json.dumps(str(home))[1:-1]))
    if prebuilt("pipeline") is not None or models_sql_dir() != SQL_DIR:  # the models of the SQL under test
        build_models(settings, sql_dir=models_sql_dir(), full=True)
    return settings, result
