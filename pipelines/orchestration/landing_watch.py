"""Watch a landing folder from Airflow's triggerer: the arrival of a file starts its source's ingest.

`LandingFolderTrigger` is an event trigger for an Asset's `AssetWatcher`: it runs in the
triggerer (no worker slot, no DAG run while nothing lands) and fires when files in the folder
are new or changed and have stopped growing. Files present when the triggerer starts are
announced once: anything that landed while it was down still gets loaded (a file already
loaded is recognised by its content hash, so a repeated announcement costs nothing).

This module imports Airflow; `LandingScanner`, the part that decides what to announce, does not
need it and is what the unit tests drive.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

Signature = tuple[int, int]  # (size, mtime_ns)


class LandingScanner:
    """Remembers what it announced; `poll()` returns the files ready to announce now.

    A file is ready when it is new or changed since it was announced and its size and
    modification time did not change between two polls (an exporter still writing it would
    otherwise be loaded half-written). Hidden files and `*.part`/`*.tmp` are ignored: exporters
    that write under a temporary name and rename at the end are announced at the rename.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.announced: dict[str, Signature] = {}
        self.waiting: dict[str, Signature] = {}

    def snapshot(self) -> dict[str, Signature]:
        files = {}
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return {}
        for entry in entries:
            if entry.name.startswith(".") or entry.name.endswith((".part", ".tmp")) or not entry.is_file():
                continue
            try:
                stat = entry.stat()
            except FileNotFoundError:  # moved away between listing and stat
                continue
            files[entry.name] = (stat.st_size, stat.st_mtime_ns)
        return files

    def poll(self) -> list[str]:
        current = self.snapshot()
        changed = {name: sig for name, sig in current.items() if self.announced.get(name) != sig}
        ready = sorted(name for name, sig in changed.items() if self.waiting.get(name) == sig)
        self.waiting = {name: sig for name, sig in changed.items() if name not in ready}
        for name in ready:
            self.announced[name] = current[name]
        for gone in set(self.announced) - set(current):  # a file moved away may come back
            del self.announced[gone]
        return ready


try:
    from airflow.triggers.base import BaseEventTrigger, TriggerEvent
except ImportError:  # pipelines stays importable without Airflow; the trigger needs it
    BaseEventTrigger = object  # type: ignore[assignment,misc]
    TriggerEvent = None  # type: ignore[assignment]


class LandingFolderTrigger(BaseEventTrigger):  # type: ignore[misc,valid-type]
    """Fires one event per poll in which files became ready: {"folder", "source", "files"}.

    With an announcement stream (`announcements.py`), a file announced there is left to the stream's
    watcher: each arrival is claimed in Redis by the first watcher to see it."""

    def __init__(
        self,
        folder: str,
        source: str,
        poll_seconds: float = 5.0,
        announcement_stream: str = "",
        redis_conn_id: str = "",
    ):
        super().__init__()
        self.folder = folder
        self.source = source
        self.poll_seconds = poll_seconds
        self.announcement_stream = announcement_stream
        self.redis_conn_id = redis_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        found = {"folder": self.folder, "source": self.source, "poll_seconds": self.poll_seconds}
        if self.announcement_stream:
            found.update(announcement_stream=self.announcement_stream, redis_conn_id=self.redis_conn_id)
        return f"{type(self).__module__}.{type(self).__qualname__}", found

    async def unclaimed(self, client, names: list[str]) -> list[str]:
        """The files no announcement claimed; all of them when Redis cannot be reached (a second
        announcement costs a run that skips the file, a lost one a file never loaded)."""
        from pipelines.orchestration.announcements import claim_arrival

        try:
            return [n for n in names if await claim_arrival(client, self.announcement_stream, self.folder, n, "folder")]
        except Exception as error:  # any Redis failure: announce rather than lose
            self.log.warning("cannot check announcements on Redis (%s): announcing every file", error)
            return names

    async def run(self) -> AsyncIterator[Any]:
        scanner = LandingScanner(self.folder)
        client = None
        if self.announcement_stream:
            from pipelines.orchestration.announcements import redis_client

            client = await redis_client(self.redis_conn_id)
        try:
            while True:
                ready = await asyncio.to_thread(scanner.poll)
                if ready and client is not None:
                    ready = await self.unclaimed(client, ready)
                if ready:
                    from pipelines.console import shown_name  # a line break in a name cannot forge a log line

                    self.log.info(
                        "%d file(s) landed in %s: %s",
                        len(ready),
                        self.folder,
                        ", ".join(shown_name(name) for name in ready[:20]),
                    )
                    yield TriggerEvent({"folder": self.folder, "source": self.source, "files": ready})
                await asyncio.sleep(self.poll_seconds)
        finally:
            if client is not None:
                client.close()
