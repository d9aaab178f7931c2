"""Which files wait in a source's landing folder, which profile reads each, and names made from
file names."""

from __future__ import annotations

import hashlib
from fnmatch import fnmatch
from pathlib import Path

from pipelines.config import Settings
from pipelines.ingest.profiles import Profile, load_profile


def profile_for(settings: Settings, source: str, path: Path) -> Profile | None:
    for rule in settings.sources.get(source, []):
        if fnmatch(path.name.lower(), rule["match"].lower()):
            return load_profile(rule["profile"])
    return None



def landing_files(settings: Settings, source: str) -> list[Path]:
    if source not in settings.sources:
        raise ValueError(f"unknown source '{source}' (expected one of {sorted(settings.sources)})")
    folder = settings.landing / source
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))



def cut_name(name: str, max_bytes: int) -> str:
    """A file name short enough to build another name from (255 bytes is the usual limit)."""
    if len(name.encode("utf-8", "surrogateescape")) <= max_bytes:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    head = name.encode("utf-8", "surrogateescape")[:max_bytes - 14].decode("utf-8", "ignore")
    return f"{head}~{digest}"
