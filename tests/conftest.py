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
# golden_edges/)
# rather than once per mutant. Neither is set in a normal run.
PREBUILT_ENV, SQL_DIR_ENV = "ESPRIT_TEST_PREBUILT", "ESPRIT_TEST_SQL_DIR"


# The files that take longest, longest first; every other file after them, in their own order.
# `make test` runs the suite in two processes (pytest-xdist, whole files to a process, in this
# order): the long files start at once, on both cores, and the short ones fill in around them.
LONGEST_FIRST = ("test_scheduler.py", "test_bench.py", "test_crash.py", "test_end_to_end.py")


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


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Path:
    """A seeded landing folder with its ground truth (do not modify: copy it first)."""
    from pipelines.generate import generate

    if prebuilt("generated") is not None:
        return prebuilt("generated")
    landing = tmp_path_factory.mktemp("generated") / "landing"
    generate(landing, weeks=DATA_WEEKS, seed=DATA_SEED, journeys_per_week=JOURNEYS_PER_WEEK)
    return landing


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

    from pipelines.config import load_settings
    from pipelines.model.build import SQL_DIR, build_models
    from pipelines.orchestration.run import run_all

    home = tmp_path_factory.mktemp("pipeline")
    settings = load_settings(base_dir=home)
    if copy_prebuilt("pipeline", home):
        result = json.loads(prebuilt("pipeline_result.json").read_text(encoding="utf-8"))
    else:
        copy_landing(generated, settings.landing)
        result = run_all(settings)
    if prebuilt("pipeline") is not None or models_sql_dir() != SQL_DIR:  # the models of the SQL under test
        build_models(settings, sql_dir=models_sql_dir(), full=True)
    return settings, result
