"""docker-compose.yml rehearsed without a container engine (none runs where the suite runs): each
service's command, run as the service's `user`, with the environment Compose would give it (the
`.env`, then the service's `environment`, interpolated as Compose does), all on one machine.

Only what a container alone provides is mapped: the services' host names to 127.0.0.1 (the
machine's PostgreSQL and Redis; the Celery broker on Redis database `broker_db`), the container
paths (/data, /opt/airflow, the image's DAGs) to a temporary tree, and the ports each container
has to itself (the API server's, the scheduler's health server's) to free ones."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
# Compose's interpolation: $$ is a literal $; ${NAME}, ${NAME:-default} (unset or empty), ${NAME-default}
_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?)-([^}]*))?\}")


def interpolate(text: str, variables: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, empty_too, default = match.groups()
        if name in variables and not (empty_too and variables[name] == ""):
            return variables[name]
        if default is not None:
            return default
        raise KeyError(f"docker-compose.yml uses ${{{name}}}, which .env does not set")

    return _VARIABLE.sub(value, text)


@dataclass
class Rehearsal:
    root: Path  # stands for the containers' filesystem: root/data is /data, root/airflow /opt/airflow
    variables: dict[str, str]  # the .env
    api_port: int
    health_port: int
    broker_db: int
    services: dict = field(default_factory=lambda: yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"])

    def mapped(self, text: str) -> str:
        text = interpolate(str(text), self.variables)
        for container, here in (
            ("http://airflow-apiserver:8080/", f"http://127.0.0.1:{self.api_port}/"),
            ("http://localhost:8080/", f"http://127.0.0.1:{self.api_port}/"),
            ("http://localhost:8974/", f"http://127.0.0.1:{self.health_port}/"),
            ("@postgres/", "@127.0.0.1:5432/"),
            ("redis://redis:6379/0", f"redis://127.0.0.1:6379/{self.broker_db}"),
            ("redis://redis:6379/", "redis://127.0.0.1:6379/"),
            ("/opt/esprit/dags", str(REPO_ROOT / "dags")),
            ("/opt/airflow", str(self.root / "airflow")),
            ("/data", str(self.root / "data")),
        ):
            text = text.replace(container, here)
        return text

    def environment(self, name: str) -> dict[str, str]:
        """The image's ENV, then env_file (.env), then `environment` over them, as a container
        gets them; the ports each container would have to itself."""
        env = {k: self.mapped(v) for k, v in image_environment().items() if k != "PATH"}  # PATH: the venv's
        env.update(self.variables)
        env.update({k: self.mapped(v) for k, v in self.services[name]["environment"].items()})
        env.update(
            {
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(self.health_port),
            }
        )
        return env

    def command(self, name: str) -> list[str]:
        return shlex.split(self.mapped(self.services[name]["command"]))

    def command_beside(self, name: str, common: dict[str, str]) -> list[str]:
        """The service's command, run by env(1) with what its environment changes in `common`'s."""
        env = self.environment(name)
        changes = [f"--unset={k}" for k in common if k not in env]
        changes += [f"{k}={v}" for k, v in env.items() if common.get(k) != v]
        return ["env", *changes, *self.command(name)] if changes else self.command(name)

    def user(self, name: str) -> tuple[int, int]:
        uid, gid = self.mapped(self.services[name]["user"]).split(":")
        return int(uid), int(gid)

    def healthcheck(self, name: str) -> list[str]:
        kind, *test = self.services[name]["healthcheck"]["test"]
        test = [self.mapped(part) for part in test]
        return test if kind == "CMD" else ["sh", "-c", " ".join(test)]


def image_environment() -> dict[str, str]:
    """The Dockerfile's ENV instructions (KEY=value forms, continued lines joined)."""
    text = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    env = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(item.split("=", 1) for item in shlex.split(line[4:]))
    return env
