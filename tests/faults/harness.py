"""Runs the real `edge` CLI (`edge run ...`) with one synthetic model stage, for fault-injection tests.

Everything is the production path (config, sources, pipeline, sinks, MQTT, HTTP, signals, sd_notify,
reload) except the model stages: instead of OCR/speech/fusion, `TickStage` runs a tiny ONNX model listed
in a manifest (so sha256 checks, loading and reload-time verification are real) and emits one event per
frame, with a JPEG snapshot. Before emitting, it appends the event id to a ledger file, so a test knows
exactly which events the process produced and can check that each one reached the store or the broker.

Knobs (environment): FAULT_LEDGER (ledger path), FAULT_HANG_FILE (while this file exists the stage
blocks, as a hung model would), FAULT_HANG_AFTER_S (how soon the app calls a busy stage hung; the
production default is 30 s), FAULT_ENOSPC_FILE (while this file exists, the store, JSON-lines and
snapshot sinks fail as on a full disk: for machines where the test cannot mount a small tmpfs).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import errno
import sqlite3

import cv2
import numpy as np

import edge.app
from edge.cli import main
from edge.events import Event
from edge.pipeline.stage import Stage
from edge.runtime import ModelSession


class TickStage(Stage):
    name = "tick"
    consumes = ("frame",)
    drop_when_full = False  # every frame becomes an event, so the tests can count them

    def __init__(self, session: ModelSession, ledger: Path | None, hang_file: Path | None) -> None:
        self.session = session
        self.version = session.metadata.get("version", "?")
        self.ledger = open(ledger, "a") if ledger else None  # noqa: SIM115 (open for the stage's life)
        self.hang_file = hang_file

    def process(self, frame):
        while self.hang_file is not None and self.hang_file.exists():
            time.sleep(0.05)
        (value,) = self.session.run({"x": np.array([[float(frame.image.mean())]], dtype=np.float32)})
        ok, jpeg = cv2.imencode(".jpg", frame.image)
        event = Event(
            kind="tick", source_id=frame.source_id, frame_id=frame.frame_id,
            data={"value": float(value.ravel()[0]), "model_version": self.version},
            snapshot=jpeg.tobytes() if ok else None,
        )
        if self.ledger is not None:
            self.ledger.write(event.id + "\n")
            self.ledger.flush()
        yield event

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()


def build_stages(config, manifest, optional: bool = False) -> list[Stage]:
    session = ModelSession.from_manifest(manifest, "tick", config.runtime.precision, providers=["cpu"])
    ledger = os.environ.get("FAULT_LEDGER")
    hang = os.environ.get("FAULT_HANG_FILE")
    return [TickStage(session, Path(ledger) if ledger else None, Path(hang) if hang else None)]


def inject_disk_full(flag: Path) -> None:
    """Make the file-writing sinks fail the way a full disk makes them fail, while `flag` exists."""
    from edge.sinks.jsonl import JsonlSink
    from edge.sinks.snapshots import SnapshotSink
    from edge.sinks.store import EventStore

    def failing(original, make_error):
        def wrapper(*args, **kwargs):
            if flag.exists():
                raise make_error()
            return original(*args, **kwargs)
        return wrapper

    def enospc() -> OSError:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    EventStore.append = failing(EventStore.append, lambda: sqlite3.OperationalError("database or disk is full"))
    JsonlSink.write = failing(JsonlSink.write, enospc)
    SnapshotSink._write_file = staticmethod(failing(SnapshotSink._write_file, enospc))


if __name__ == "__main__":
    if os.environ.get("FAULT_ENOSPC_FILE"):
        inject_disk_full(Path(os.environ["FAULT_ENOSPC_FILE"]))
    edge.app.build_stages = build_stages
    if os.environ.get("FAULT_HANG_AFTER_S"):
        hang_after = float(os.environ["FAULT_HANG_AFTER_S"])
        edge.app.Application.stage_timeout_s = lambda self: hang_after
    sys.exit(main(sys.argv[1:]))
