"""The local event store: SQLite in WAL mode with durable commits, so events survive power loss.

Schema versioned with PRAGMA user_version. Ids are unique (INSERT OR IGNORE), so a retried write never
duplicates an event. `edge events` and the HTTP endpoint read it with `query`.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
from datetime import datetime
from pathlib import Path

from edge.errors import ConfigError, SinkError
from edge.events import Event
from edge.sinks.base import Sink

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    t_wall REAL NOT NULL,
    t_mono REAL,
    kind TEXT NOT NULL,
    source_id TEXT,
    frame_id INTEGER,
    data TEXT NOT NULL,
    has_snapshot INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_t_wall ON events (t_wall);
CREATE INDEX IF NOT EXISTS events_kind ON events (kind, t_wall);
"""
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(text: str | float | None, now: float | None = None) -> float | None:
    """'10m' / '2h' / '1d' ago, an ISO date-time, or seconds since the epoch."""
    if text is None or text == "":
        return None
    if isinstance(text, (int, float)):
        return float(text)
    text = text.strip()
    match = _RELATIVE.match(text)
    if match:
        return (now or time.time()) - float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ConfigError(
            f"cannot read time {text!r}: use e.g. 10m, 2h, 1d, 2026-11-27T08:00 or seconds since the epoch"
        ) from None


class EventStore:
    def __init__(self, path: Path, max_events: int = 1_000_000, readonly: bool = False) -> None:
        self.path = Path(path)
        self.max_events = max_events
        self.pruned = 0
        self._lock = threading.Lock()
        try:
            if readonly:
                if not self.path.is_file():
                    raise SinkError(f"no event store at {self.path}; run `edge run` first or pass the right state dir")
                self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self._migrate()
        except sqlite3.Error as exc:
            raise SinkError(f"cannot open event store {self.path}: {exc}; check the path, permissions and free space") from None
        except OSError as exc:
            raise SinkError(f"cannot create {self.path.parent} ({exc.strerror}); set state_dir or EDGE_STATE_DIR") from None
        self.db.row_factory = sqlite3.Row

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SinkError(
                f"event store {self.path} has schema {version}, newer than this edge ({SCHEMA_VERSION}); upgrade edge"
            )
        self.db.executescript(SCHEMA)
        self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def append(self, event: Event) -> None:
        row = event.to_dict()
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute(
                    "INSERT OR IGNORE INTO events (id, t_wall, t_mono, kind, source_id, frame_id, data, has_snapshot)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        row["id"], row["t_wall"], row["t_mono"], row["kind"], row["source_id"],
                        row.get("frame_id"), json.dumps(row["data"], separators=(",", ":")), int(row["has_snapshot"]),
                    ),
                )
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                hint = "the disk is full: free space" if "full" in str(exc) else "check the disk and permissions"
                raise SinkError(f"event store {self.path} cannot write event {event.id} ({exc}); {hint}") from None
        if self.max_events and (self._inserted_since_prune() % 1000 == 0):
            self._prune()

    _inserts = 0

    def _inserted_since_prune(self) -> int:
        self._inserts += 1
        return self._inserts

    def _prune(self) -> None:
        """Keep at most max_events: the oldest go first, and the loss is logged, never silent."""
        with self._lock:
            count = self.db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            excess = count - self.max_events
            if excess > 0:
                self.db.execute(
                    "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY t_wall LIMIT ?)", (excess,)
                )
                self.pruned += excess
                log.warning("event store over its cap of %d events: removed the %d oldest", self.max_events, excess)

    def query(
        self,
        since: float | None = None,
        until: float | None = None,
        kind: str | None = None,
        text: str | None = None,
        limit: int = 1000,
    ) -> list[dict]:
        sql, args = "SELECT * FROM events WHERE 1=1", []
        if since is not None:
            sql += " AND t_wall >= ?"
            args.append(since)
        if until is not None:
            sql += " AND t_wall < ?"
            args.append(until)
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        if text:
            sql += " AND data LIKE ?"
            args.append(f"%{text}%")
        sql += " ORDER BY t_wall, id LIMIT ?"
        args.append(int(limit))
        with self._lock:
            rows = self.db.execute(sql, args).fetchall()
        return [self._row_to_dict(r) for r in rows]

    @staticmethod
    def _row_to_dict(row: sqlite3.Row) -> dict:
        out = {
            "id": row["id"],
            "kind": row["kind"],
            "source_id": row["source_id"],
            "t_wall": row["t_wall"],
            "t_mono": row["t_mono"],
            "data": json.loads(row["data"]),
            "has_snapshot": bool(row["has_snapshot"]),
        }
        if row["frame_id"] is not None:
            out["frame_id"] = row["frame_id"]
        return out

    def count(self) -> int:
        with self._lock:
            return self.db.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self.db.close()


class SqliteSink(Sink):
    name = "sqlite"

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def write(self, event: Event) -> None:
        self.store.append(event)

    def status(self) -> dict:
        return {"pruned": self.store.pruned}
