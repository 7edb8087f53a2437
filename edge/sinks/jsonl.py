"""Events as JSON lines, rotated by size (events.jsonl, events.jsonl.1, ...)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from edge.errors import SinkError
from edge.events import Event
from edge.sinks.base import Sink


class JsonlSink(Sink):
    name = "jsonl"

    def __init__(self, path: Path, max_bytes: int = 10_000_000, backups: int = 5) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
        except OSError as exc:
            raise SinkError(f"cannot open {self.path} for events ({exc.strerror}); fix sinks.jsonl.path or permissions") from None

    def write(self, event: Event) -> None:
        line = json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False) + "\n"
        if self._fh.tell() + len(line) > self.max_bytes and self._fh.tell() > 0:
            self._rotate()
        self._fh.write(line)
        self._fh.flush()

    def _rotate(self) -> None:
        self._fh.close()
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
        else:
            for i in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{i}")
                if older.exists():
                    os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._fh = open(self.path, "a", encoding="utf-8")

    def close(self) -> None:
        self._fh.close()
