"""The landing-folder trigger on real files, and the Redis Streams announcement trigger on the
local Redis, driven through Airflow's own shared-stream manager (the triggerer's ack mode)."""

import asyncio
import contextlib
import os
import time

import pytest

from pipelines.orchestration.landing_watch import LandingFolderTrigger, LandingScanner


def test_a_file_is_announced_once_it_stops_growing(tmp_path):
    scanner = LandingScanner(tmp_path)
    assert scanner.poll() == []
    (tmp_path / "calls_1.csv").write_text("a,b\n")
    assert scanner.poll() == []  # seen once: it may still be growing
    with open(tmp_path / "calls_1.csv", "a") as handle:
        handle.write("1,2\n")
    assert scanner.poll() == []  # it grew: wait again
    assert scanner.poll() == ["calls_1.csv"]
    assert scanner.poll() == []  # announced once


def test_temporary_and_hidden_names_wait_for_their_rename(tmp_path):
    scanner = LandingScanner(tmp_path)
    (tmp_path / "calls_2.csv.part").write_text("x\n")
    (tmp_path / ".calls_3.csv").write_text("x\n")
    scanner.poll()
    assert scanner.poll() == []
    (tmp_path / "calls_2.csv.part").rename(tmp_path / "calls_2.csv")
    scanner.poll()
    assert scanner.poll() == ["calls_2.csv"]


def test_files_present_at_start_are_announced_and_a_replaced_file_again(tmp_path):
    (tmp_path / "a.csv").write_text("1\n")
    (tmp_path / "b.csv").write_text("2\n")
    scanner = LandingScanner(tmp_path)
    scanner.poll()
    assert scanner.poll() == ["a.csv", "b.csv"]  # landed while the triggerer was down
    (tmp_path / "a.csv").write_text("1\n3\n")
    scanner.poll()
    assert scanner.poll() == ["a.csv"]
    (tmp_path / "b.csv").unlink()
    assert scanner.poll() == [] and "b.csv" not in scanner.announced


def test_missing_folder_is_no_error(tmp_path):
    assert LandingScanner(tmp_path / "not-yet").poll() == []


def test_trigger_fires_in_an_event_loop_and_serialises(tmp_path):
    trigger = LandingFolderTrigger(folder=str(tmp_path), source="calls", poll_seconds=0.05)
    classpath, kwargs = trigger.serialize()
    assert classpath == "pipelines.orchestration.landing_watch.LandingFolderTrigger"
    assert LandingFolderTrigger(**kwargs).folder == str(tmp_path)

    async def first_event():
        events = trigger.run()
        pending = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(0.2)
        assert not pending.done()  # nothing landed: nothing fires
        (tmp_path / "calls_9.csv").write_text("x\n")
        event = await asyncio.wait_for(pending, timeout=10)
        await events.aclose()
        return event

    event = asyncio.run(first_event())
    assert event.payload == {"folder": str(tmp_path), "source": "calls", "files": ["calls_9.csv"]}


def _redis_or_skip():
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail("Redis on 127.0.0.1:6379 is required in CI")
        pytest.skip("no Redis on 127.0.0.1:6379 (start it as the env notes say)")
    return client


REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def stream(monkeypatch):
    """A stream of its own on the local Redis (other suites may use the same server), removed after."""
    client = _redis_or_skip()
    monkeypatch.setenv("AIRFLOW_CONN_ESPRIT_REDIS", REDIS_URL)
    name = f"esprit-test:{os.getpid()}:{time.time_ns()}:calls"
    yield name
    client.delete(name, *client.scan_iter(match=f"{name}:claimed:*"))


class Triggerer:
    """What Airflow's triggerer does with an event trigger in ack mode (`TriggerRunner.run_trigger`
    and the supervisor's persist confirmations), with `persist(event)` standing for the metadata
    database: a seq is confirmed only for events persisted."""

    def __init__(self, trigger, trigger_id: int = 1):
        from airflow.triggers.shared_stream import SharedStreamManager

        self.trigger, self.trigger_id = trigger, trigger_id
        self.manager = SharedStreamManager()  # the triggerer's default ack timeout
        self.key = trigger.shared_stream_key()
        self.task = None

    def start(self, persist) -> None:
        async def consume():
            stream = self.manager.subscribe(trigger_id=self.trigger_id, trigger=self.trigger, key=self.key)
            async for event in self.trigger.filter_shared_stream(stream):
                seq = self.manager.bind_pending_event(trigger_id=self.trigger_id, key=self.key)
                if persist(event):
                    self.manager.confirm_persisted([seq])

        self.task = asyncio.ensure_future(consume())

    async def stop(self) -> None:
        """A triggerer stopping: its trigger cancelled, its shared streams stopped."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.manager.unsubscribe(self.trigger_id, self.key)


async def until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_a_burst_of_announcements_survives_a_triggerer_restart(tmp_path, stream):
    """100 announcements at once, the triggerer stopped after 40 were persisted and 5 more read but
    not persisted: every file gets exactly one persisted event, nothing stays pending, and the
    landing-folder watcher then announces none of them again (they were the stream's)."""
    from pipelines.orchestration.announcements import AnnouncementStreamTrigger

    client = _redis_or_skip()
    names = [f"calls_{n:03d}.csv" for n in range(100)]
    for name in names:
        (tmp_path / name).write_text(f"{name}\n")

    def trigger():
        return AnnouncementStreamTrigger(
            stream=stream, source="calls", folder=str(tmp_path), redis_conn_id="esprit_redis", retry_seconds=1
        )

    persisted: list[str] = []
    read_not_persisted: list[str] = []

    def first_life(event) -> bool:
        if len(persisted) < 40:
            persisted.extend(event.payload["files"])
            return True
        read_not_persisted.extend(event.payload["files"])  # the crash comes before Airflow stores them
        return False

    def second_life(event) -> bool:
        persisted.extend(event.payload["files"])
        return True

    def pending() -> int:
        return client.xpending(stream, "esprit")["pending"]

    async def scenario():
        first = Triggerer(trigger())
        first.start(first_life)
        await asyncio.sleep(0.3)  # the group exists and the trigger reads
        burst = client.pipeline(transaction=False)  # as fast as Redis takes them
        for name in names:
            burst.xadd(stream, {"file": name})
        await asyncio.to_thread(burst.execute)
        await until(lambda: len(read_not_persisted) >= 5)
        await first.stop()
        assert pending() >= 5  # read but not persisted: not acknowledged
        second = Triggerer(trigger())
        second.start(second_life)
        await until(lambda: len(persisted) >= 100 and pending() == 0)
        await second.stop()

    asyncio.run(scenario())
    assert sorted(persisted) == names  # each exactly once: none lost, none twice
    assert set(read_not_persisted) <= set(persisted)
    assert pending() == 0

    folder = LandingFolderTrigger(
        folder=str(tmp_path),
        source="calls",
        poll_seconds=0.05,
        announcement_stream=stream,
        redis_conn_id="esprit_redis",
    )
    (tmp_path / "calls_late.csv").write_text("never announced\n")

    async def folder_event():
        events = folder.run()
        event = await asyncio.wait_for(events.__anext__(), timeout=10)
        await events.aclose()
        return event

    assert asyncio.run(folder_event()).payload["files"] == ["calls_late.csv"]


def test_an_arrival_the_folder_watcher_announced_fires_no_stream_event(tmp_path, stream):
    """The folder watcher saw calls_a.csv first: its announcement on the stream is acknowledged
    without an event. A malformed entry is refused and acknowledged; calls_b.csv fires."""
    from pipelines.orchestration.announcements import AnnouncementStreamTrigger, announce, claim_arrival, redis_client

    client = _redis_or_skip()
    for name in ("calls_a.csv", "calls_b.csv"):
        (tmp_path / name).write_text("x\n")
    fired = []

    async def scenario():
        redis = await redis_client("esprit_redis")
        assert await claim_arrival(redis, stream, tmp_path, "calls_a.csv", "folder")
        redis.close()
        for name in ("calls_a.csv", "../secrets", "calls_b.csv"):
            await asyncio.to_thread(announce, REDIS_URL, stream, name)
        triggerer = Triggerer(
            AnnouncementStreamTrigger(stream=stream, source="calls", folder=str(tmp_path), redis_conn_id="esprit_redis")
        )
        triggerer.start(lambda event: fired.append(event.payload["files"]) or True)
        await until(lambda: fired and client.xpending(stream, "esprit")["pending"] == 0)
        await triggerer.stop()

    asyncio.run(scenario())
    assert fired == [["calls_b.csv"]]
    assert client.xpending(stream, "esprit")["pending"] == 0


def test_esprit_announce_lands_the_file_then_adds_its_entry(tmp_path, stream, monkeypatch, capsys):
    from pipelines.cli import main

    client = _redis_or_skip()
    channel, source = stream.rsplit(":", 1)
    (tmp_path / "esprit.yaml").write_text(f"paths: {{landing: {tmp_path / 'landing'}}}\n")
    monkeypatch.setenv("ESPRIT_CONFIG", str(tmp_path / "esprit.yaml"))
    monkeypatch.setenv("ESPRIT_REDIS_CHANNEL", channel)
    export = tmp_path / "calls_2026-W47.csv"
    export.write_text("a,b\n1,2\n")
    assert main(["announce", source, str(export)]) == 0
    assert (tmp_path / "landing" / "calls" / export.name).read_text() == "a,b\n1,2\n"
    assert not list((tmp_path / "landing" / "calls").glob(".*"))  # no partial copy left behind
    ((entry_id, fields),) = client.xrange(stream)
    assert fields == {b"file": b"calls_2026-W47.csv"} and entry_id.decode() in capsys.readouterr().out
    monkeypatch.delenv("AIRFLOW_CONN_ESPRIT_REDIS")
    assert main(["announce", source, str(export)]) == 2  # no Redis named: says how to name one
    assert "ESPRIT_REDIS_URL" in capsys.readouterr().err
