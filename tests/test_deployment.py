"""The multi-node deployment files (first version; the orchestration work runs them for real)."""

import yaml

from tests.conftest import REPO_ROOT


def test_compose_has_the_celery_topology_built_from_the_project_image():
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
            "airflow-triggerer", "airflow-worker", "airflow-init"} <= set(services)
    for name, service in services.items():
        if name.startswith("airflow-"):
            assert service["build"] == "." and service["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
            assert service["environment"]["ESPRIT_WAREHOUSE"].startswith("/data/")
    assert (REPO_ROOT / "Dockerfile").exists()


def test_secrets_come_from_env_and_the_example_holds_no_real_secret():
    text = (REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "${POSTGRES_PASSWORD}" in text
    example = dict(line.split("=", 1) for line in (REPO_ROOT / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert example["POSTGRES_PASSWORD"] == "change-me"
    assert {v for k, v in example.items() if "SECRET" in k or "KEY" in k} <= {"change-me", ""}
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().split()
