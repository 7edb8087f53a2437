"""JPEG snapshots of the frames events refer to, with retention by count and bytes (oldest first)."""

from __future__ import annotations

import errno
import logging
import os
import re
from collections import OrderedDict
from pathlib import Path

from edge.errors import SinkError
from edge.events import Event
from edge.sinks.base import Sink

log = logging.getLogger(__name__)
EVENT_ID = re.compile(r"^[0-9a-f]{32}$")


class SnapshotSink(Sink):
    name = "snapshots"

    def __init__(self, directory: Path, max_count: int = 2000, max_bytes: int = 500_000_000) -> None:
        self.dir = Path(directory)
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.removed = 0
        self.disk_full_events = 0
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"cannot create snapshot folder {self.dir} ({exc.strerror}); fix sinks.snapshots.dir") from None
        # ids sort by time, so sorted names are oldest first
        self._files: OrderedDict[str, int] = OrderedDict(
            (p.name, p.stat().st_size) for p in sorted(self.dir.glob("*.jpg"))
        )
        self._bytes = sum(self._files.values())

    def path_for(self, event_id: str) -> Path | None:
        """The snapshot of an event, or None; ids are validated so no path can escape the folder."""
        if not EVENT_ID.match(event_id):
            return None
        path = self.dir / f"{event_id}.jpg"
        return path if path.is_file() else None

    def write(self, event: Event) -> None:
        if event.snapshot is None:
            return
        name = f"{event.id}.jpg"
        try:
            self._write_file(self.dir / name, event.snapshot)
        except OSError as exc:
            if exc.errno != errno.ENOSPC or not self._files:
                raise
            self.disk_full_events += 1
            if self.disk_full_events in (1, 10, 100) or self.disk_full_events % 1000 == 0:
                log.error(
                    "disk full writing snapshot %s (%d times so far): removing the oldest snapshots to make room",
                    name, self.disk_full_events,
                )
            self._remove_oldest(max(1, len(self._files) // 10))
            self._write_file(self.dir / name, event.snapshot)
        self._files[name] = len(event.snapshot)
        self._bytes += len(event.snapshot)
        self._enforce_limits()

    @staticmethod
    def _write_file(path: Path, data: bytes) -> None:
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)

    def _enforce_limits(self) -> None:
        excess = 0
        while len(self._files) - excess > self.max_count:
            excess += 1
        self._remove_oldest(excess)
        while self._bytes > self.max_bytes and len(self._files) > 1:
            self._remove_oldest(1)

    def _remove_oldest(self, n: int) -> None:
        for _ in range(min(n, len(self._files))):
            name, size = self._files.popitem(last=False)
            (self.dir / name).unlink(missing_ok=True)
            self._bytes -= size
            self.removed += 1

    def status(self) -> dict:
        return {
            "files": len(self._files), "bytes": self._bytes, "removed_by_retention": self.removed,
            "disk_full_events": self.disk_full_events,
        }
