"""The compose deployment's init (the `airflow-init` service of docker-compose.yml, `esprit deploy
init`): the `.env` checked before anything starts, the shared folders created and handed to the
containers' user, the metadata database migrated and the warehouse pool created.

The init runs as root; every other container runs as `AIRFLOW_UID` with group 0, the convention
of Airflow's official image: folders belong to `AIRFLOW_UID:0` and are group-writable, so a
container started with another `AIRFLOW_UID` later still writes them once the init has run again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipelines.config import Settings
from pipelines.ingest.privacy import KEY_ENV, key_problem

PLACEHOLDER = "change-me"  # how .env.example marks a value to replace
SECRET_COMMAND = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
FERNET_COMMAND = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
# the secrets of .env besides the pseudonymisation key and the Fernet key
SECRETS = ("POSTGRES_PASSWORD", "AIRFLOW_API_SECRET_KEY", "AIRFLOW_JWT_SECRET")
FERNET_ENV = "AIRFLOW_FERNET_KEY"
UID_ENV = "AIRFLOW_UID"


def env_problems(env: Mapping[str, str]) -> list[str]:
    """What is wrong with a deployment's `.env` (its variables in `env`), one line each naming the
    variable and how to make a good value; never a value itself."""
    problems = []
    for name in SECRETS:
        value = env.get(name, "")
        if not value or value.startswith(PLACEHOLDER):
            state = "not set" if not value else "still the placeholder of .env.example"
            problems.append(f"{name} is {state}: set a secret, e.g. {SECRET_COMMAND}")
    key = env.get(KEY_ENV, "")
    if key.startswith(PLACEHOLDER):
        problems.append(f"{KEY_ENV} is still the placeholder of .env.example: set a random secret")
    else:  # the demo key is refused: a deployment is never a demo
        problems.extend(filter(None, [key_problem(key, demo=False)]))
    problems.extend(filter(None, [fernet_problem(env.get(FERNET_ENV, ""))]))
    uid = env.get(UID_ENV, "50000")
    if not uid.isdigit() or int(uid) == 0:
        # root would own every file, and Chromium refuses to run as root with its sandbox
        problems.append(f"{UID_ENV} must be the number of a user other than root (50000, or id -u), not {uid!r}")
    return problems


def fernet_problem(value: str) -> str | None:
    """Airflow encrypts connections and variables with this key (several, comma-separated, while
    rotating): each must be 32 url-safe base64-encoded bytes, which a random string is not."""
    from cryptography.fernet import Fernet

    if not value:
        return f"{FERNET_ENV} is not set: make one with {FERNET_COMMAND}"
    try:
        for part in value.split(","):
            Fernet(part.strip().encode())
    except ValueError:  # binascii.Error is one
        return (
            f"{FERNET_ENV} is not a valid Fernet key (32 url-safe base64-encoded bytes): make one with {FERNET_COMMAND}"
        )
    return None


def read_env_file(path: Path) -> dict[str, str]:
    """A `.env` file as Docker Compose reads it (python-dotenv's syntax: KEY=value, quotes, comments)."""
    from dotenv import dotenv_values

    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: copy .env.example to .env and set its values")
    return {k: v or "" for k, v in dotenv_values(path).items()}


@dataclass(frozen=True)
class Folder:
    path: Path
    private: bool = False  # owner only (raw exports: rejected/), else group 0 may write too
    own_files: bool = True  # False: only the folders are handed over (landing files are exporters')


def deployment_folders(settings: Settings, airflow_home: Path, log_folder: Path) -> list[Folder]:
    """Every folder the containers write: Airflow's home and logs, landing/<source>/ for each
    source, the warehouse's folder, the outputs, rejected/ (owner-only: raw exports)."""
    folders = [Folder(airflow_home), Folder(log_folder), Folder(settings.landing, own_files=False)]
    folders += [Folder(settings.landing / source, own_files=False) for source in settings.sources]
    folders += [Folder(settings.warehouse.parent), Folder(settings.out), Folder(settings.rejected, private=True)]
    return folders


def prepare_folders(folders: list[Folder], uid: int, gid: int = 0) -> int:
    """Create each folder and hand it, with what it holds, to `uid:gid`: group-writable (setgid,
    so new files stay in the group), or owner-only for a private one. Returns how many paths
    changed hands. Only root gives folders away: run by `uid` itself (a rehearsal without root),
    they stay its own, with the same modes."""
    root = os.geteuid() == 0
    if not root and uid != os.geteuid():
        raise PermissionError(f"only root can hand the folders to user {uid}: run the init as root (user 0:0)")
    changed = 0
    for folder in folders:
        folder.path.mkdir(parents=True, exist_ok=True)
        for path, is_dir in _tree(folder):
            stat = path.lstat()
            if root and (stat.st_uid, stat.st_gid) != (uid, gid):
                os.chown(path, uid, gid, follow_symlinks=False)
                changed += 1
            if path.is_symlink():
                continue
            if folder.private:
                mode = 0o700 if is_dir else 0o600
            else:
                mode = (stat.st_mode & 0o777) | (0o2770 if is_dir else 0o660)
            os.chmod(path, mode)
    return changed


def _tree(folder: Folder):
    yield folder.path, True
    for root, dirs, files in os.walk(folder.path):
        for name in dirs:
            yield Path(root) / name, True
        if folder.own_files:
            for name in files:
                yield Path(root) / name, False


def init_deployment(env: Mapping[str, str], settings: Settings, say=print) -> None:
    """The init service: refuse a bad `.env` (ValueError listing every problem), migrate the
    metadata database and create the pool, then create and hand over the folders (last, so that
    what the migration wrote in Airflow's home is handed over too)."""
    from pipelines.orchestration.local_airflow import set_up_airflow

    problems = env_problems(env)
    if problems:
        raise ValueError(".env is not ready for a deployment:\n  " + "\n  ".join(problems))
    say(".env checked: secrets set, pseudonymisation key and Fernet key valid")
    pool = settings.orchestration["warehouse_pool"]
    set_up_airflow(dict(env), pool)
    say(f"metadata database migrated; pool {pool} has 1 slot")
    airflow_home = Path(env.get("AIRFLOW_HOME", "/opt/airflow"))
    logs = Path(env.get("AIRFLOW__LOGGING__BASE_LOG_FOLDER") or airflow_home / "logs")
    uid = int(env.get(UID_ENV, "50000"))
    folders = deployment_folders(settings, airflow_home, logs)
    changed = prepare_folders(folders, uid)
    say(f"{len(folders)} folders ready for user {uid}, group 0 ({changed} paths changed owner)")
