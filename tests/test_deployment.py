"""The multi-node deployment files: docker-compose.yml valid against the Compose Specification's
JSON schema, with the Celery topology of Airflow 3's official compose file built from the project's
image; secrets only from .env. (The same topology runs for real in tests/test_scheduler.py.)"""

import json

import jsonschema
import pytest
import yaml

from tests.conftest import REPO_ROOT

SCHEMA = json.loads((REPO_ROOT / "tests" / "fixtures" / "compose-spec.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_file_is_valid_against_the_compose_spec_schema(compose):
    errors = sorted(jsonschema.Draft7Validator(SCHEMA).iter_errors(compose), key=str)
    assert errors == [], [e.message for e in errors[:5]]


def test_the_schema_check_catches_a_broken_file(compose):
    broken = json.loads(json.dumps(compose))
    broken["services"]["airflow-worker"]["depends_on"] = 42
    broken["servicez"] = {}
    assert len(list(jsonschema.Draft7Validator(SCHEMA).iter_errors(broken))) >= 2


def test_compose_has_the_celery_topology_built_from_the_project_image(compose):
    services = compose["services"]
    assert {
        "postgres",
        "redis",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
        "airflow-init",
    } <= set(services)
    for name, service in services.items():
        if name.startswith("airflow-"):
            assert service["build"] == "." and service["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
            assert service["environment"]["ESPRIT_WAREHOUSE"].startswith("/data/")
            assert {"landing:/data/landing", "warehouse:/data/warehouse"} <= set(service["volumes"])
    assert services["airflow-init"]["command"].startswith("esprit airflow-setup")  # migrate + the pool
    assert (REPO_ROOT / "Dockerfile").exists()


def test_secrets_come_from_env_and_the_example_holds_no_real_secret():
    text = (REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "${POSTGRES_PASSWORD}" in text and "${ESPRIT_PSEUDONYM_KEY}" in text
    example = dict(
        line.split("=", 1)
        for line in (REPO_ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert example["POSTGRES_PASSWORD"] == "change-me"
    assert {v for k, v in example.items() if "SECRET" in k or "KEY" in k} <= {"change-me", ""}
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().split()


def test_make_airflow_port_reaches_the_api_and_the_tasks(tmp_path):
    """Another Airflow on 8080 must not receive this one's task traffic: PORT sets both the API
    server's port and the execution API URL the tasks call; task slots follow the cores."""
    import os
    import subprocess

    from pipelines.orchestration.local_airflow import standalone_environment

    dry = subprocess.run(["make", "-n", "airflow", "PORT=8093"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert "esprit airflow --home . --port 8093" in dry.stdout, dry.stdout + dry.stderr
    env = standalone_environment(tmp_path, 8093)
    assert env["AIRFLOW__API__PORT"] == "8093"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://localhost:8093/execution/"
    assert env["AIRFLOW__CORE__PARALLELISM"] == str(max(2, os.cpu_count()))
    assert env["AIRFLOW_HOME"] == str(tmp_path / ".airflow")


def test_a_start_holds_the_running_dags_and_keeps_the_operators_pauses(tmp_path):
    """`esprit airflow` pauses Esprit's running DAGs until the API answers and notes them with the
    DAGs not created yet; a DAG the operator paused is not noted, so it stays paused."""
    import json
    import os
    import subprocess
    import sys

    from pipelines.orchestration.local_airflow import HELD_FILE, airflow_environment, set_up_airflow

    env = airflow_environment(tmp_path / ".airflow", tmp_path)
    set_up_airflow(env)  # a copy of the migrated template
    script = """
import os
from pathlib import Path
from airflow.models.dag import DagModel
from airflow.models.dagbundle import DagBundleModel
from airflow.utils.session import create_session
from pipelines.orchestration.local_airflow import hold_dags
with create_session() as session:
    session.add(DagBundleModel(name="dags-folder"))
    session.flush()
    session.add(DagModel(dag_id="esprit_metrics", bundle_name="dags-folder", is_paused=True))
    session.add(DagModel(dag_id="esprit_scorecard", bundle_name="dags-folder", is_paused=False))
home = Path(os.environ["AIRFLOW_HOME"])
print(hold_dags(home, ["esprit_ingest_calls", "esprit_metrics", "esprit_scorecard"]))
with create_session() as session:
    print(sorted((m.dag_id, m.is_paused) for m in session.query(DagModel)))
"""
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, **env}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    noted, states = done.stdout.strip().splitlines()[-2:]
    assert noted == "['esprit_ingest_calls', 'esprit_scorecard']"
    assert states == "[('esprit_metrics', True), ('esprit_scorecard', True)]"  # held until the API answers
    assert json.loads((tmp_path / ".airflow" / HELD_FILE).read_text()) == ["esprit_ingest_calls", "esprit_scorecard"]
