"""The landing-folder trigger on real files, and the Redis announcement trigger on the local Redis."""

import asyncio
import json
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


def test_a_file_announced_on_redis_fires_the_message_queue_trigger(monkeypatch):
    client = _redis_or_skip()
    monkeypatch.setenv("AIRFLOW_CONN_ESPRIT_REDIS", "redis://127.0.0.1:6379/0")
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger

    channel = f"esprit-test:landing:calls:{time.time_ns()}"
    trigger = MessageQueueTrigger(
        scheme="redis+pubsub", channels=[channel], redis_conn_id="esprit_redis", poll_interval=0.1
    )

    async def first_event():
        events = trigger.run()
        pending = asyncio.ensure_future(events.__anext__())
        for _ in range(50):  # publish until the trigger has subscribed
            await asyncio.sleep(0.1)
            if client.publish(channel, json.dumps({"file": "calls_2026-W47.csv"})):
                break
        event = await asyncio.wait_for(pending, timeout=10)
        await events.aclose()
        return event

    event = asyncio.run(first_event())
    assert "calls_2026-W47.csv" in json.dumps(event.payload, default=str)
