"""The multi-node deployment files: docker-compose.yml valid against the Compose Specification's
JSON schema, with the Celery topology of Airflow 3's official compose file built from the project's
image, health checks and an init service; secrets only from .env, which the init checks. (The
file's commands run for real, as an unprivileged user, in tests/test_scheduler.py.)"""

import json
import os
import secrets

import jsonschema
import pytest
import yaml

from pipelines.cli import main
from pipelines.config import load_settings
from pipelines.ingest.privacy import key_problem
from pipelines.orchestration.deployment import (
    FERNET_COMMAND,
    PLACEHOLDER,
    deployment_folders,
    env_problems,
    prepare_folders,
    read_env_file,
)
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
            # exporters write into a folder of the host; the warehouse is the containers' own
            assert {"${ESPRIT_LANDING_DIR:-./landing}:/data/landing", "warehouse:/data/warehouse"} <= set(
                service["volumes"]
            )
            assert service["init"] is True  # Chromium's children and the components' are reaped
    assert (REPO_ROOT / "Dockerfile").exists()


def test_every_component_has_a_health_check_and_starts_after_the_init(compose):
    """The other services wait for the init to succeed (.env checked, database migrated, folders
    handed over); the workers for the API server to answer, as in Airflow's official file."""
    services = compose["services"]
    init = services["airflow-init"]
    assert init["command"] == "esprit deploy init" and init["user"] == "0:0"
    for name, service in services.items():
        if name == "airflow-init":
            continue
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        if name.startswith("airflow-"):
            assert service["user"] == "${AIRFLOW_UID:-50000}:0"
            waits = service["depends_on"]
            assert waits["airflow-init"] == {"condition": "service_completed_successfully"}, name
            assert waits["postgres"] == waits["redis"] == {"condition": "service_healthy"}, name
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"] == {"condition": "service_healthy"}


def test_the_build_context_leaves_out_data_secrets_and_environments():
    ignored = {line for line in (REPO_ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"}
    assert {".git", ".venv", ".env", "landing", "warehouse", "out", "rejected"} <= ignored
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    copied = {source for line in dockerfile.splitlines() if line.startswith("COPY ") for source in line.split()[1:-1]}
    assert not copied & ignored  # nothing the image needs is left out


def test_secrets_come_from_env_and_the_example_holds_no_real_secret():
    text = (REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "${POSTGRES_PASSWORD}" in text and "${ESPRIT_PSEUDONYM_KEY}" in text
    example = read_env_file(REPO_ROOT / ".env.example")
    assert all(v == "" or v.startswith(PLACEHOLDER) for k, v in example.items() if "SECRET" in k or "KEY" in k)
    assert example["POSTGRES_PASSWORD"] == PLACEHOLDER
    # long and varied enough: only its being the placeholder is refused, not its length
    assert key_problem(example["ESPRIT_PSEUDONYM_KEY"]) is None
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().split()


def test_the_example_env_is_refused_until_every_secret_is_set(capsys):
    """As copied, .env.example stops the deployment at its init, naming every value to set and
    the commands that make a pseudonymisation key and a Fernet key."""
    assert main(["deploy", "check-env", "--env-file", str(REPO_ROOT / ".env.example")]) == 1
    said = capsys.readouterr().err
    for name in ("POSTGRES_PASSWORD", "AIRFLOW_API_SECRET_KEY", "AIRFLOW_JWT_SECRET", "ESPRIT_PSEUDONYM_KEY"):
        assert f"{name} is still the placeholder" in said
    assert "AIRFLOW_FERNET_KEY is not set: make one with " + FERNET_COMMAND in said


def good_env() -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        "AIRFLOW_UID": "50000",
        "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
        "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW_FERNET_KEY": Fernet.generate_key().decode(),
        "ESPRIT_PSEUDONYM_KEY": secrets.token_hex(32),
    }


def test_a_ready_env_passes_and_the_command_says_so(tmp_path, capsys):
    env = good_env()
    assert env_problems(env) == []
    path = tmp_path / ".env"
    path.write_text("".join(f'{k}="{v}"\n' for k, v in env.items()))
    assert main(["deploy", "check-env", "--env-file", str(path)]) == 0
    assert "ready for a deployment" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("ESPRIT_PSEUDONYM_KEY", "Sh0rt-key!", "shorter than 16 characters"),
        ("ESPRIT_PSEUDONYM_KEY", "abababababababababababab", "fewer than 8 different characters"),
        ("ESPRIT_PSEUDONYM_KEY", "esprit-demo-key-PUBLIC-not-a-secret", "public demo key"),
        ("ESPRIT_PSEUDONYM_KEY", "", "is not set"),
        # the old .env.example's hint: 43 characters of random base64, not a Fernet key
        ("AIRFLOW_FERNET_KEY", "7IxJ5OCHMqErch61ospdE8ynYOkVPvq16iizDYdf7a4", "not a valid Fernet key"),
        ("AIRFLOW_FERNET_KEY", "", "is not set"),
        ("AIRFLOW_JWT_SECRET", "", "is not set"),
        ("AIRFLOW_UID", "0", "other than root"),
        ("AIRFLOW_UID", "airflow", "other than root"),
    ],
)
def test_a_bad_value_is_named_with_what_to_do_and_never_quoted(name, value, said):
    env = {**good_env(), name: value}
    problems = env_problems(env)
    assert len(problems) == 1 and problems[0].startswith(name) and said in problems[0], problems
    if name == "AIRFLOW_FERNET_KEY":
        assert FERNET_COMMAND in problems[0]
    if value and name != "AIRFLOW_UID":
        assert value not in problems[0]


def test_a_fernet_key_being_rotated_may_be_two_keys():
    env = good_env()
    env["AIRFLOW_FERNET_KEY"] += "," + good_env()["AIRFLOW_FERNET_KEY"]
    assert env_problems(env) == []
    env["AIRFLOW_FERNET_KEY"] += ",not-a-key"
    assert "not a valid Fernet key" in env_problems(env)[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="handing folders to another user needs root")
def test_the_init_hands_the_folders_to_the_containers_user_group_writable(tmp_path):
    """Any AIRFLOW_UID, known to /etc/passwd or not, owns what the containers write; group 0 may
    write it too; rejected/ (raw exports) stays owner-only; exporters' files keep their owner."""
    settings = load_settings(base_dir=tmp_path / "data")
    (settings.landing / "calls").mkdir(parents=True)
    (settings.landing / "calls" / "export.csv").write_text("x\n")
    (settings.out / "scorecards").mkdir(parents=True)
    (settings.out / "scorecards" / "old.html").write_text("made by another user\n")
    folders = deployment_folders(settings, tmp_path / "airflow", tmp_path / "airflow" / "logs")
    assert prepare_folders(folders, 54321) > 0
    for source in settings.sources:
        folder = (settings.landing / source).stat()
        assert (folder.st_uid, folder.st_gid) == (54321, 0) and folder.st_mode & 0o070 == 0o070
    for path in (settings.warehouse.parent, settings.out / "scorecards" / "old.html", tmp_path / "airflow" / "logs"):
        assert (path.stat().st_uid, path.stat().st_gid) == (54321, 0) and path.stat().st_mode & 0o060 == 0o060, path
    assert (settings.rejected.stat().st_uid, settings.rejected.stat().st_mode & 0o777) == (54321, 0o700)
    assert (settings.landing / "calls" / "export.csv").stat().st_uid == 0
    assert prepare_folders(folders, 54321) == 0  # run again (every `docker compose up`): nothing to change


def test_make_airflow_port_reaches_the_api_and_the_tasks(tmp_path):
    """Another Airflow on 8080 must not receive this one's task traffic: PORT sets both the API
    server's port and the execution API URL the tasks call; task slots follow the cores."""
    import subprocess

    from pipelines.orchestration.local_airflow import standalone_environment

    dry = subprocess.run(["make", "-n", "airflow", "PORT=8093"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert "esprit airflow --home . --port 8093" in dry.stdout, dry.stdout + dry.stderr
    env = standalone_environment(tmp_path, 8093)
    assert env["AIRFLOW__API__PORT"] == "8093"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://localhost:8093/execution/"
    assert env["AIRFLOW__CORE__PARALLELISM"] == str(max(2, os.cpu_count()))
    assert env["AIRFLOW_HOME"] == str(tmp_path / ".airflow")


def test_an_init_without_root_says_to_run_it_as_root(tmp_path, monkeypatch):
    folders = deployment_folders(load_settings(base_dir=tmp_path), tmp_path / "airflow", tmp_path / "logs")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # whoever runs the suite: the init's view of a user
    with pytest.raises(PermissionError, match="run the init as root"):
        prepare_folders(folders, 50000)
    assert not (tmp_path / "airflow").exists()  # refused before anything was made


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
