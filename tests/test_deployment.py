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
