"""The HTTP endpoint wired to the real Application: replayed frames -> a stage -> store/snapshots -> HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import yaml

import edge.app
from edge.app import Application
from edge.config import parse_config
from edge.events import Event
from edge.pipeline.stage import Stage

N_FRAMES = 12


class SnapStage(Stage):
    """One event with a JPEG snapshot per frame."""

    name = "snap"
    consumes = ("frame",)
    drop_when_full = False

    def process(self, frame):
        ok, jpeg = cv2.imencode(".jpg", frame.image)
        yield Event(kind="snap", source_id=frame.source_id, frame_id=frame.frame_id,
                    data={"mean": float(frame.image.mean())}, snapshot=jpeg.tobytes())


def fetch(port: int, path: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def test_endpoints_on_the_real_app(tmp_path, monkeypatch):
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(1)
    for i in range(N_FRAMES):
        cv2.imwrite(str(frames / f"{i:02d}.png"), rng.integers(0, 255, (32, 48, 3), dtype=np.uint8))
    config = parse_config(yaml.safe_dump({
        "device_id": "httpbox", "state_dir": str(tmp_path / "state"),
        "camera": {"source": str(frames), "realtime": False, "queue_size": 100},
        "microphone": {"enabled": False},
        "sinks": {"console": {"enabled": False}, "http": {"enabled": True, "port": 0}},
    }), env={})
    monkeypatch.setattr(edge.app, "build_stages", lambda cfg, manifest, optional=False: [SnapStage()])
    app = Application(config)
    app.start()
    try:
        port = app.http.port
        end = time.monotonic() + 20
        while time.monotonic() < end and app.store.count() < N_FRAMES:
            time.sleep(0.05)
        assert app.store.count() == N_FRAMES

        status, ctype, body = fetch(port, "/healthz")
        health = json.loads(body)
        assert status in (200, 503) and ctype == "application/json"
        assert "snap" in health["stages"] and "sqlite" in health["sinks"]

        status, _, body = fetch(port, "/metrics")
        text = body.decode()
        assert status == 200
        assert 'edge_sink_status_written{sink="sqlite"}' in text  # sink status gauges from the collector
        assert 'edge_stage_latency_seconds_count{stage="snap"}' in text  # registered by the pipeline
        families = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
        assert len(families) == len(set(families)), "a metric family is exported twice (invalid for Prometheus)"

        status, _, body = fetch(port, "/events?kind=snap&limit=5")
        events = json.loads(body)["events"]
        assert status == 200 and len(events) == 5 and all(e["has_snapshot"] for e in events)

        status, ctype, jpeg = fetch(port, f"/snapshots/{events[0]['id']}.jpg")
        assert status == 200 and ctype == "image/jpeg" and jpeg[:2] == b"\xff\xd8"
        assert fetch(port, "/snapshots/../events.db")[0] == 400
    finally:
        app.shutdown()
    assert app.http is None or app.http._server is None
