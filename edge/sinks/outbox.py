"""A durable first-in-first-out queue of messages waiting for the broker, in SQLite.

Why SQLite: a field kit may be offline for days and lose power at any moment. WAL mode with
synchronous=FULL makes each append durable once `append` returns, and a crash mid-write leaves the file
consistent. Rows are deleted only after the broker acknowledged them, so every event is delivered at least
once; the event id is UNIQUE, so a retried write never queues the same event twice. The outbox has a cap:
beyond it the oldest rows are dropped, counted and logged (never silently).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

from edge.errors import SinkError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    t_added REAL NOT NULL
);
"""


class Outbox:
    """Append at the tail, read from the head, delete by sequence number once acknowledged.

    Thread-safe: the sink thread appends while the MQTT thread reads and deletes.
    """

    def __init__(self, path: Path, max_events: int = 1_000_000) -> None:
        self.path = Path(path)
        self.max_events = max_events
        self.dropped = 0  # rows removed by the cap before they were delivered (this process)
        self._lock = threading.Lock()
        self._last_drop_log = 0.0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self._migrate()
            self._count = self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise SinkError(
                f"cannot open the MQTT outbox {self.path}: {exc}; check the path and its permissions, "
                "or move the damaged file away (its undelivered events are lost)"
            ) from None
        except OSError as exc:
            raise SinkError(f"cannot create the MQTT outbox folder {self.path.parent}: {exc.strerror}") from None

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SinkError(
                f"MQTT outbox {self.path} has schema version {version}, newer than this edge ({SCHEMA_VERSION}); "
                "upgrade edge or move the file away"
            )
        self.db.executescript(SCHEMA)
        self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def __len__(self) -> int:
        return self._count

    def append(self, event_id: str, payload: str) -> bool:
        """Queue one message durably; False if that event id was already queued. Raises SinkError."""
        with self._lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                cursor = self.db.execute(
                    "INSERT OR IGNORE INTO outbox (event_id, payload, t_added) VALUES (?, ?, ?)",
                    (event_id, payload, time.time()),
                )
                added = cursor.rowcount == 1
                overflow = self._count + int(added) - self.max_events
                if overflow > 0:
                    self.db.execute(
                        "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)", (overflow,)
                    )
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise SinkError(f"cannot write the MQTT outbox {self.path}: {exc} (disk full?)") from None
            self._count += int(added) - max(overflow, 0)
            if overflow > 0:
                self._report_drop(overflow)
            return added

    def _rollback(self) -> None:
        try:
            self.db.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _report_drop(self, n: int) -> None:
        self.dropped += n
        now = time.monotonic()
        if self.dropped == n or now - self._last_drop_log > 60:
            self._last_drop_log = now
            log.warning(
                "MQTT outbox full (%d events): dropped the oldest undelivered events, %d so far; "
                "the broker has been unreachable too long or sinks.mqtt.outbox_max_events is too small",
                self.max_events,
                self.dropped,
            )

    def head(self, after_seq: int, limit: int) -> list[tuple[int, str, str]]:
        """Up to `limit` queued (seq, event_id, payload) with seq > after_seq, oldest first."""
        with self._lock:
            return self.db.execute(
                "SELECT seq, event_id, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
            ).fetchall()

    def delete(self, seqs: list[int]) -> None:
        """Remove acknowledged rows (already-dropped ones are ignored)."""
        if not seqs:
            return
        with self._lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                removed = 0
                for seq in seqs:
                    removed += self.db.execute("DELETE FROM outbox WHERE seq = ?", (seq,)).rowcount
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                # the rows stay queued and are sent again later: a duplicate, never a loss
                log.error("cannot delete delivered rows from the MQTT outbox %s: %s", self.path, exc)
                return
            self._count -= removed

    def oldest_age_s(self) -> float | None:
        with self._lock:
            row = self.db.execute("SELECT t_added FROM outbox ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else max(0.0, time.time() - row[0])

    def close(self) -> None:
        with self._lock:
            try:
                self.db.close()
            except sqlite3.Error as exc:
                log.error("closing the MQTT outbox %s failed: %s", self.path, exc)
