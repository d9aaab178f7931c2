"""Which files wait in a source's landing folder, which profile reads each, names made from file
names, and the rejected folder (owner only: it keeps raw exports) with its retention."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from fnmatch import fnmatch
from pathlib import Path

from pipelines.config import Settings
from pipelines.ingest.profiles import Profile, load_profile
from pipelines.ingest.results import FileRejected


def profile_for(settings: Settings, source: str, path: Path) -> Profile | None:
    for rule in settings.sources.get(source, []):
        if fnmatch(path.name.lower(), rule["match"].lower()):
            return load_profile(rule["profile"])
    return None


def refused_entry(settings: Settings, path: Path) -> FileRejected | None:
    """Why a landing entry is never read, or None for a regular file: a symbolic link that leads
    out of the landing folder (or nowhere), a FIFO (reading it would wait for a writer), a device
    or a socket. A file named outside the landing folder (esprit ingest PATH) may be a link."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        landing = settings.landing.resolve()
        in_landing = path.parent.resolve() == landing or landing in path.parent.resolve().parents
        target = path.resolve()
        try:
            info = target.stat()
        except OSError:
            return FileRejected("landing_link", "a symbolic link that leads to no file")
        if in_landing and landing not in target.parents:
            return FileRejected(
                "landing_link",
                "a symbolic link to a file outside the landing folder is never "
                "read: put the export itself in the folder",
            )
    if not stat.S_ISREG(info.st_mode):
        kind = (
            "a FIFO (named pipe)"
            if stat.S_ISFIFO(info.st_mode)
            else "a device"
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
            else "a socket"
            if stat.S_ISSOCK(info.st_mode)
            else "not a file"
        )
        return FileRejected("regular_file", f"{kind}, not a regular file: never read; export to a file")
    return None


def landing_files(settings: Settings, source: str) -> list[Path]:
    if source not in settings.sources:
        raise ValueError(f"unknown source '{source}' (expected one of {sorted(settings.sources)})")
    folder = settings.landing / source
    if not folder.is_dir():
        return []
    # links, FIFOs and devices are listed too: ingest refuses them, saying why (refused_entry)
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and not p.is_dir())


def cut_name(name: str, max_bytes: int) -> str:
    """A file name short enough to build another name from (255 bytes is the usual limit)."""
    if len(name.encode("utf-8", "surrogateescape")) <= max_bytes:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    head = name.encode("utf-8", "surrogateescape")[: max_bytes - 14].decode("utf-8", "ignore")
    return f"{head}~{digest}"


def rejected_folder(settings: Settings, source: str) -> Path:
    """rejected/<source>/, created readable by its owner only: the files set aside there are raw
    exports, personal data included."""
    for folder in (settings.rejected, settings.rejected / source):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)  # mkdir's mode is cut by the umask, and the folder may be older
    return settings.rejected / source


def write_private(path: Path, text: str) -> None:
    """A text file readable by its owner only (a report beside a rejected file)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with open(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def keep_private(path: Path) -> None:
    """A file just set aside: owner only, and dated now, so that its retention counts from today."""
    if not path.is_symlink():
        os.chmod(path, 0o600)
    os.utime(path, follow_symlinks=False)


def purge_rejected(settings: Settings, source: str | None = None, now: float | None = None) -> list[str]:
    """Delete what rejected/ (or rejected/<source>/) holds older than ingest.rejected_retention_days
    (dated when it was set aside): the rejected files and their reports. Returns their names as
    <source>/<name> (shown names), sorted; nothing when the retention is null."""
    days = settings.ingest.get("rejected_retention_days")
    if days is None or not settings.rejected.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - days * 86400
    folders = [settings.rejected / source] if source else sorted(settings.rejected.iterdir())
    removed = []
    for folder in (f for f in folders if f.is_dir() and not f.is_symlink()):
        for entry in sorted(folder.iterdir()):
            info = entry.lstat()
            if not stat.S_ISDIR(info.st_mode) and info.st_mtime < cutoff:
                entry.unlink()
                removed.append(f"{folder.name}/{entry.name}")
    return removed
