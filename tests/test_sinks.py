import errno
import io
import json
import sqlite3
import time

import pytest

from edge.errors import ConfigError
from edge.events import Event
from edge.sinks.base import Sink
from edge.sinks.console import ConsoleSink
from edge.sinks.jsonl import JsonlSink
from edge.sinks.runner import SinkRunner
from edge.sinks.snapshots import SnapshotSink
from edge.sinks.store import EventStore, parse_time


def ev(kind="ocr", **data):
    return Event(kind, "cam0", data or {"text": "SN-1", "confidence": 0.9})


def test_jsonl_rotates_by_size(tmp_path):
    sink = JsonlSink(tmp_path / "e.jsonl", max_bytes=1000, backups=2)
    ids = []
    for _ in range(40):
        e = ev()
        ids.append(e.id)
        sink.write(e)
    sink.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["e.jsonl", "e.jsonl.1", "e.jsonl.2"]
    assert all(p.stat().st_size <= 1000 for p in tmp_path.iterdir())
    last = [json.loads(line)["id"] for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert last[-1] == ids[-1]


def test_store_is_durable_unique_and_queryable(tmp_path):
    store = EventStore(tmp_path / "events.db")
    a, b = ev("ocr", text="LOT 2411"), ev("speech", transcript="pass")
    for e in (a, b, a):  # a retried write must not duplicate
        store.append(e)
    store.close()
    db = sqlite3.connect(tmp_path / "events.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    reader = EventStore(tmp_path / "events.db", readonly=True)
    assert reader.count() == 2
    assert [r["id"] for r in reader.query(kind="speech")] == [b.id]
    assert [r["id"] for r in reader.query(text="2411")] == [a.id]
    assert reader.query(since=time.time() + 60) == []


def test_store_prunes_oldest_beyond_cap_and_says_so(tmp_path, caplog):
    store = EventStore(tmp_path / "e.db", max_events=100)
    events = [ev() for _ in range(1000)]
    for e in events:
        store.append(e)
    assert store.count() == 100 and store.pruned == 900
    assert "removed the 900 oldest" in caplog.text
    assert store.query(limit=1)[0]["id"] == events[900].id


def test_parse_time():
    assert parse_time("10m", now=1000.0) == 400.0
    assert parse_time("1700000000") == 1700000000.0
    assert parse_time("2026-11-27T08:00:00") > 1.7e9
    with pytest.raises(ConfigError, match="10m"):
        parse_time("yesterday")


def test_snapshot_retention_by_count_and_bytes(tmp_path):
    sink = SnapshotSink(tmp_path, max_count=3, max_bytes=10_000)
    events = [Event("inspection", "cam0", {}, snapshot=b"\xff\xd8" + b"x" * 1000) for _ in range(5)]
    for e in events:
        sink.write(e)
    assert sorted(p.stem for p in tmp_path.glob("*.jpg")) == [e.id for e in events[2:]]
    big = SnapshotSink(tmp_path / "b", max_count=100, max_bytes=2500)
    for e in events:
        big.write(e)
    assert len(list((tmp_path / "b").glob("*.jpg"))) == 2
    assert sink.path_for(events[-1].id) is not None
    assert sink.path_for("../../etc/passwd") is None


def test_snapshot_disk_full_removes_oldest_and_retries(tmp_path, monkeypatch):
    sink = SnapshotSink(tmp_path, max_count=100)
    for _ in range(10):
        sink.write(Event("inspection", "c", {}, snapshot=b"j" * 10))
    real = SnapshotSink._write_file
    calls = {"n": 0}

    def full_once(path, data):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(SnapshotSink, "_write_file", staticmethod(full_once))
    sink.write(Event("inspection", "c", {}, snapshot=b"j" * 10))
    assert sink.removed >= 1 and len(list(tmp_path.glob("*.jpg"))) == 10


class Flaky(Sink):
    name = "flaky"

    def __init__(self, failures):
        self.failures = failures
        self.written = []

    def write(self, event):
        if self.failures > 0:
            self.failures -= 1
            raise OSError("broker away")
        self.written.append(event.id)


def test_runner_retries_failed_writes_in_order(caplog):
    sink = Flaky(failures=3)
    runner = SinkRunner(sink, max_backoff_s=0.05)
    runner.start()
    events = [ev() for _ in range(5)]
    for e in events:
        runner.offer(e)
    assert runner.stop(timeout=10)
    assert sink.written == [e.id for e in events]
    assert runner.failures == 3 and "broker away" in caplog.text


def test_slow_sink_does_not_block_offer():
    class Slow(Sink):
        name = "slow"

        def write(self, event):
            time.sleep(0.05)

    runner = SinkRunner(Slow(), queue_size=10)
    runner.start()
    start = time.perf_counter()
    for _ in range(100):
        runner.offer(ev())
    assert time.perf_counter() - start < 0.2
    runner.stop(timeout=0.2)
    assert runner.queue.dropped > 0  # counted, and logged


def test_console_line_is_readable():
    out = io.StringIO()
    ConsoleSink(out).write(Event("inspection", "cam0", {"verdict": "ok", "probabilities": {"ok": 0.97}, "codes": {"serial": "SN-1", "serial_ok": True}}))
    line = out.getvalue()
    assert "inspection" in line and "verdict=ok" in line and "serial='SN-1'" in line and "serial_ok" not in line


def test_full_store_is_a_sink_error_that_says_so(tmp_path):
    from edge.errors import SinkError

    store = EventStore(tmp_path / "e.db")
    store.db.execute("PRAGMA max_page_count = 8")  # SQLite reports this exactly like a full disk
    with pytest.raises(SinkError, match="disk is full"):
        for _ in range(200):
            store.append(Event("ocr", "cam0", {"text": "x" * 2000}))
    store.db.execute("PRAGMA max_page_count = 1000000")
    store.append(ev())  # recovers once there is room again
