"""Shared fixtures. Airflow reads its configuration once, at first import: point it at a
throw-away home (SQLite metadata, the project's DAGs) before any test imports it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="esprit-airflow-"))
os.environ.update({
    "AIRFLOW_HOME": str(_AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
    "GX_ANALYTICS_ENABLED": "false",
})
# A test key for pseudonyms (never the public demo key, which is refused outside demo mode).
os.environ["ESPRIT_PSEUDONYM_KEY"] = "esprit-test-key-0123456789abcdef"
os.environ.pop("ESPRIT_DEMO", None)
for _key in ("ESPRIT_CONFIG", "ESPRIT_HOME", "ESPRIT_LANDING", "ESPRIT_WAREHOUSE", "ESPRIT_OUT", "ESPRIT_REJECTED"):
    os.environ.pop(_key, None)

# A small data set: enough weeks for week-on-week changes, small enough to stay quick.
DATA_WEEKS, DATA_SEED, JOURNEYS_PER_WEEK = 3, 11, 200


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Path:
    """A seeded landing folder with its ground truth (do not modify: copy it first)."""
    from pipelines.generate import generate

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
    from pipelines.config import load_settings
    from pipelines.run import run_all

    home = tmp_path_factory.mktemp("pipeline")
    settings = load_settings(base_dir=home)
    copy_landing(generated, settings.landing)
    return settings, run_all(settings)
