"""Durable file announcements on Redis Streams: an exporter says "this file has landed", and the
source's ingest starts once Airflow has stored that as an Asset event; nothing said is lost.

An exporter (or `esprit announce SOURCE FILE`) adds an entry `{"file": <name>}` to the stream
`<orchestration.redis_channel>:<source>`. `AnnouncementStreamTrigger`, an event trigger of the
source's landing Asset, reads the stream through the consumer group `esprit` and fires one event
per entry. It runs in Airflow's *ack mode* of shared streams (`airflow.triggers.shared_stream`):
an entry is acknowledged (XACK) only once the triggerer has confirmed that the event it gave
was persisted, i.e. the Asset event exists. An entry read but never acknowledged — the
triggerer stopped or crashed, or Airflow did not store the event — stays in the group's pending
list and is read again, at the next start or `retry_seconds` later. Entries announced while no
triggerer runs wait in the stream. Delivery is at least once: an entry whose Asset event was
stored just before a crash, and not yet acknowledged, fires again (a second announcement of a
loaded file is a run that skips it: ingest knows files by content hash).

One run per arrival, whichever watcher sees it first: the stream watcher and the landing-folder
watcher both *claim* an arrival (the file's name, size and modification time) in Redis with
SET NX before firing; the one that finds the other's claim stays silent. A watcher fires again
for its own claim (a redelivered entry, a triggerer restart) but never for the other's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

ANNOUNCEMENT_FIELD = "file"
CONSUMER_GROUP = "esprit"
# One consumer name for every triggerer: a trigger runs on one triggerer at a time, and the one
# that takes it over (or the same one restarted) reads what its predecessor left pending.
CONSUMER = "airflow-triggerer"
CLAIM_SECONDS = 7 * 24 * 3600  # how long an arrival stays claimed: far longer than both watchers take
STREAM_MAXLEN = 100_000  # XADD trims older entries (approximately) beyond this many

log = logging.getLogger(__name__)


def announcement_stream(channel: str, source: str) -> str:
    return f"{channel}:{source}"


def announced_name(fields: dict[str, str] | None) -> str | None:
    """The file an entry announces: a plain file name (no folder, nothing hidden), else None."""
    name = (fields or {}).get(ANNOUNCEMENT_FIELD, "")
    if not name or name != os.path.basename(name) or name in (".", "..") or "\\" in name or "\0" in name:
        return None
    return name


def arrival_key(stream: str, folder: str | Path, name: str) -> str | None:
    """The claim key of the file as it is now (name, size, modification time); None when it is absent."""
    try:
        stat = os.stat(Path(folder) / name)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return f"{stream}:claimed:{name}:{stat.st_size}:{stat.st_mtime_ns}"


def _claim(client, key: str, claimant: str) -> bool:
    return bool(client.set(key, claimant, nx=True, ex=CLAIM_SECONDS)) or client.get(key) == claimant


async def claim_arrival(client, stream: str, folder: str | Path, name: str, claimant: str) -> bool:
    """Whether `claimant` is the watcher that announces this arrival: the first to claim it, or
    the one that did. A file absent from the folder cannot be compared: it is announced."""
    key = arrival_key(stream, folder, name)
    return True if key is None else await asyncio.to_thread(_claim, client, key, claimant)


async def redis_client(conn_id: str):
    """A Redis client for the Airflow connection `conn_id` (its database from the URL's path or the
    `db` extra). Synchronous, called through `asyncio.to_thread`: redis-py's asyncio client can
    swallow a cancellation that arrives during a command (its timeouts take it for their own),
    and a trigger that ignores its cancellation keeps the triggerer from stopping."""
    import redis
    from airflow.sdk.bases.hook import BaseHook

    connection = await BaseHook.aget_connection(conn_id)
    return redis.Redis.from_url(connection.get_uri(), decode_responses=True, socket_connect_timeout=10)


def ensure_group(client, stream: str, group: str = CONSUMER_GROUP) -> None:
    """The consumer group from the stream's first entry, the stream created if missing: entries
    added before the first triggerer ever ran are read too."""
    import redis

    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.exceptions.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


try:
    from airflow.triggers.base import BaseEventTrigger, TriggerEvent
    from airflow.triggers.shared_stream import AdvanceItem, SharedStreamProducer, reject_shared_stream_event
except ImportError:  # pipelines stays importable without Airflow; the trigger needs it
    BaseEventTrigger = SharedStreamProducer = object  # type: ignore[assignment,misc]
    TriggerEvent = AdvanceItem = reject_shared_stream_event = None  # type: ignore[assignment,misc]


class AnnouncementProducer(SharedStreamProducer):  # type: ignore[misc,valid-type]
    """Reads the stream through the consumer group; acknowledges what Airflow persisted."""

    def __init__(self, stream: str, redis_conn_id: str, group: str = CONSUMER_GROUP, retry_seconds: float = 30.0, **_):
        self.stream, self.conn_id, self.group, self.retry_seconds = stream, redis_conn_id, group, retry_seconds
        self.client = None
        self.in_flight: set[str] = set()  # read and not yet resolved: never handed out twice at once

    async def open_stream(self) -> AsyncIterator[tuple[Any, Any]]:
        self.client = await redis_client(self.conn_id)
        await asyncio.to_thread(ensure_group, self.client, self.stream, self.group)
        next_retry = 0.0
        while True:
            if time.monotonic() >= next_retry:
                async for item in self._pending():
                    yield item
                next_retry = time.monotonic() + self.retry_seconds
            reply = await asyncio.to_thread(
                self.client.xreadgroup, self.group, CONSUMER, {self.stream: ">"}, count=100, block=1000
            )
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    self.in_flight.add(entry_id)
                    yield (entry_id, fields), entry_id

    async def _pending(self) -> AsyncIterator[tuple[Any, Any]]:
        """Entries delivered before and never acknowledged: left by a stopped triggerer, or whose
        event Airflow did not confirm."""
        start = "0"
        while True:
            reply = await asyncio.to_thread(
                self.client.xreadgroup, self.group, CONSUMER, {self.stream: start}, count=100
            )
            entries = reply[0][1] if reply else []
            if not entries:
                return
            for entry_id, fields in entries:
                start = entry_id
                if entry_id in self.in_flight:
                    continue
                if not fields:  # trimmed or deleted since: nothing left to announce
                    await asyncio.to_thread(self.client.xack, self.stream, self.group, entry_id)
                    continue
                self.in_flight.add(entry_id)
                yield (entry_id, fields), entry_id

    async def advance(self, batch: Sequence[AdvanceItem]) -> None:
        """XACK the entries whose events were persisted (or that were refused as malformed); the
        others (timed out, or read while no trigger listened) stay pending, to be read again."""
        done = []
        for item in batch:
            self.in_flight.discard(item.broker_payload)
            if item.outcome.is_clean or item.outcome.rejected:
                done.append(item.broker_payload)
        if done:
            await asyncio.to_thread(self.client.xack, self.stream, self.group, *done)

    async def aclose(self) -> None:
        if self.client is not None:
            self.client.close()


class AnnouncementStreamTrigger(BaseEventTrigger):  # type: ignore[misc,valid-type]
    """Fires {"source", "files": [name], "stream", "entry"} per announcement of the stream."""

    def __init__(
        self, stream: str, source: str, folder: str, redis_conn_id: str, group: str = CONSUMER_GROUP, retry_seconds=30.0
    ):
        super().__init__()
        self.stream, self.source, self.folder = stream, source, folder
        self.redis_conn_id, self.group, self.retry_seconds = redis_conn_id, group, retry_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "stream": self.stream,
                "source": self.source,
                "folder": self.folder,
                "redis_conn_id": self.redis_conn_id,
                "group": self.group,
                "retry_seconds": self.retry_seconds,
            },
        )

    def shared_stream_key(self):
        return ("esprit-announcements", self.redis_conn_id, self.stream, self.group)

    @classmethod
    def create_shared_stream_producer(cls, kwargs: dict[str, Any]) -> AnnouncementProducer:
        return AnnouncementProducer(**kwargs)

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
        from pipelines.console import shown_name

        client = await redis_client(self.redis_conn_id)
        try:
            async for entry_id, fields in shared_stream:
                name = announced_name(fields)
                if name is None:  # refused for good: acknowledged, never read again
                    self.log.warning("entry %s of %s names no plain file name; ignored", entry_id, self.stream)
                    reject_shared_stream_event()
                    continue
                if not await claim_arrival(client, self.stream, self.folder, name, f"stream:{entry_id}"):
                    self.log.info("%s was already announced (landing-folder watcher)", shown_name(name))
                    continue
                self.log.info("%s announced on %s (entry %s)", shown_name(name), self.stream, entry_id)
                yield TriggerEvent({"source": self.source, "files": [name], "stream": self.stream, "entry": entry_id})
        finally:
            client.close()

    async def run(self) -> AsyncIterator[Any]:
        raise NotImplementedError("runs as a shared stream in ack mode (Airflow 3.3's triggerer)")
        yield  # pragma: no cover


def announce(redis_url: str, stream: str, name: str) -> str:
    """Add the announcement of `name` to the stream; returns the entry's id."""
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True, socket_connect_timeout=5)
    try:
        return client.xadd(stream, {ANNOUNCEMENT_FIELD: name}, maxlen=STREAM_MAXLEN, approximate=True)
    finally:
        client.close()


def redis_url(conn_id: str, given: str | None = None) -> str:
    """Where `esprit announce` finds Redis: `--redis`, else ESPRIT_REDIS_URL, else the URL of the
    Airflow connection as an environment variable (AIRFLOW_CONN_ESPRIT_REDIS)."""
    found = given or os.environ.get("ESPRIT_REDIS_URL") or os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if not found or not found.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(
            f"no Redis to announce on: give --redis redis://host:6379/1, or set ESPRIT_REDIS_URL or "
            f"AIRFLOW_CONN_{conn_id.upper()} to a redis:// URL"
        )
    return found


def place_in_landing(path: Path, folder: Path) -> str:
    """The file's name in the landing folder: a file already there stays; another is copied in
    under a name no watcher reads (`.<name>.part`), then renamed, so it is never read half-written."""
    import shutil

    path = path.resolve()
    if not path.is_file():
        raise FileNotFoundError(f"{path.name}: no such file")
    if path.parent == folder.resolve():
        return path.name
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{path.name}.part"
    shutil.copyfile(path, partial)
    os.replace(partial, folder / path.name)
    return path.name
