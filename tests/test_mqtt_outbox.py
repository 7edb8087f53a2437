"""The durable outbox behind the MQTT sink: order, durability across reopening, de-duplication, the cap."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from edge.errors import SinkError
from edge.sinks.outbox import Outbox


def test_order_and_reopen(tmp_path):
    path = tmp_path / "outbox.db"
    box = Outbox(path)
    for i in range(5):
        assert box.append(f"id{i}", f"payload{i}")
    assert not box.append("id2", "again")  # a retried write never queues an event twice
    box.close()

    box = Outbox(path)
    rows = box.head(0, 10)
    assert [r[1] for r in rows] == [f"id{i}" for i in range(5)] and len(box) == 5
    box.delete([rows[0][0], rows[1][0]])
    box.close()

    box = Outbox(path)
    assert [r[1] for r in box.head(0, 10)] == ["id2", "id3", "id4"] and len(box) == 3
    box.append("id5", "payload5")
    assert box.head(0, 10)[-1][0] > rows[-1][0]  # sequence numbers only grow
    assert box.head(rows[3][0], 10)[0][1] == "id4"
    assert box.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    box.close()


def test_cap_drops_oldest_and_says_so(tmp_path, caplog):
    box = Outbox(tmp_path / "outbox.db", max_events=100)
    with caplog.at_level(logging.WARNING, logger="edge.sinks.outbox"):
        for i in range(105):
            box.append(f"id{i:03d}", "x")
    assert len(box) == 100 and box.dropped == 5
    assert box.head(0, 1)[0][1] == "id005"
    assert "outbox full" in caplog.text and "dropped" in caplog.text
    box.close()


def test_unwritable_and_corrupt_files_are_clear_errors(tmp_path):
    bad = tmp_path / "outbox.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(SinkError, match="cannot open the MQTT outbox"):
        Outbox(bad)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SinkError, match="cannot create the MQTT outbox folder"):
        Outbox(blocker / "sub" / "outbox.db")


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "outbox.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(SinkError, match="newer than this edge"):
        Outbox(path)
