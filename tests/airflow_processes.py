"""Real Airflow components as child processes, for the scheduler tests: `airflow standalone` on
SQLite, or the multi-node topology (api-server, scheduler, dag-processor, triggerer and a Celery
worker) on the machine's PostgreSQL and Redis. Everything started is stopped, process group and all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pipelines.orchestration.local_airflow import airflow_environment, set_up_airflow

VENV_BIN = Path(sys.executable).parent
FAST = {  # a test cannot wait for production intervals
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    # parsed once as the processor starts: the DAG files do not change during a test, and each
    # parse is a process that imports them: re-parsing every 5 s only spent CPU
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC": "2",
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    # two cores: one API worker, one parsing process, few task slots
    "AIRFLOW__API__WORKERS": "1",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__CORE__PARALLELISM": "4",
}


def _hidden_from_others() -> bool:
    """Whether a user other than the owner cannot reach the interpreter or the checkout."""
    paths = (Path(sys.executable).resolve(), Path(__file__).resolve())
    return any(not folder.stat().st_mode & 0o001 for path in paths for folder in path.parents)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AirflowProcesses:
    """`user`: (uid, gid) the components run as (root only); `set_up`: False when something else
    (the compose deployment's init) migrates the database and creates the pool."""

    def __init__(
        self,
        home: Path,
        esprit_home: Path,
        extra_env: dict[str, str] | None = None,
        user: tuple[int, int] | None = None,
        set_up: bool = True,
    ):
        self.home = home
        self.user, self.set_up = user, set_up
        self.port = free_port()
        self.env = airflow_environment(home, esprit_home)
        self.env.update(FAST)
        self.env.update(
            {
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
                "ESPRIT_PSEUDONYM_KEY": os.environ["ESPRIT_PSEUDONYM_KEY"],
            }
        )
        self.env.update(extra_env or {})
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def full_env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        return {**base, **self.env, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}

    def start(self, *commands: list[str]) -> None:
        """Each command is `esprit ...`, `airflow ...`, `env ...` (as it is), or an airflow
        subcommand (`scheduler`)."""
        if self.set_up:
            set_up_airflow(self.env)
        for command in commands:
            log = self.home / f"{'-'.join(command[:2])}.log"
            self.logs.append(log)
            handle = open(log, "w")
            program = (
                [str(VENV_BIN / command[0]), *command[1:]]
                if command[0] in ("esprit", "airflow")
                else command
                if command[0] == "env"
                else [str(VENV_BIN / "airflow"), *command]
            )
            self.processes.append(
                subprocess.Popen(
                    self.as_user(program),
                    env=self.full_env(),
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def as_user(self, program: list[str]) -> list[str]:
        """`program` run as `self.user`, with no supplementary group (util-linux's setpriv)."""
        if self.user is None:
            return program
        uid, gid = self.user
        # The one privilege kept, when needed: reading and searching any folder, for an interpreter
        # installed where only root may look (in root's home). Writes are checked as for any user.
        keep = ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"] if _hidden_from_others() else []
        return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *keep, "--", *program]

    def check_alive(self) -> None:
        for process, log in zip(self.processes, self.logs):
            if process.poll() is not None:
                raise RuntimeError(f"{log.name} exited with {process.returncode}:\n{self.tail(log)}")

    def tail(self, log: Path, chars: int = 4000) -> str:
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""

    def all_logs(self, chars: int = 3000) -> str:
        return "\n".join(f"--- {log.name}\n{self.tail(log, chars)}" for log in self.logs)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes:
            try:
                process.wait(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        for process in self.processes:  # children the components forked (executors, task runners)
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
