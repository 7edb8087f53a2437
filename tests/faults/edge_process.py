"""Helpers for fault injection: a tiny model + manifest, a folder of frames, and a running `edge run`."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import onnx
import yaml
from onnx import TensorProto, helper

from edge.runtime import sha256_of, update_manifest_entry

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))  # tests/mosquitto.py


def write_tick_model(models: Path, version: str, add: float = 1.0) -> None:
    """y = x + add, with metadata; listed in the manifest under 'tick' (int8 and fp32 point at it)."""
    models.mkdir(parents=True, exist_ok=True)
    node = helper.make_node("Add", ["x", "b"], ["y"])
    bias = helper.make_tensor("b", TensorProto.FLOAT, [1, 1], [add])
    graph = helper.make_graph(
        [node], "tick", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])], initializer=[bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"version": version})
    path = models / f"tick-v{version}.onnx"
    onnx.save(model, path)
    spec = {"file": path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size}
    update_manifest_entry(models, "tick", {"version": version, "files": {"int8": spec, "fp32": spec}})


def write_frames(folder: Path, n: int = 20) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        cv2.imwrite(str(folder / f"f{i:03d}.png"), rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))


class EdgeProcess:
    """`edge run` (through tests/faults/harness.py) in a subprocess, with its log in a file."""

    def __init__(self, tmp: Path, mqtt_url: str | None = None, http: bool = False, extra_env: dict | None = None,
                 state_dir: Path | None = None, fps: float = 25.0, camera: dict | None = None) -> None:
        self.tmp = tmp
        self.state = state_dir or tmp / "state"
        self.ledger = tmp / "ledger.txt"
        self.models = tmp / "models"
        if not (self.models / "manifest.yaml").exists():
            write_tick_model(self.models, "1")
        if not (tmp / "frames").exists():
            write_frames(tmp / "frames")
        config = {
            "device_id": "faultbox",
            "state_dir": str(self.state),
            "camera": camera or {"source": str(tmp / "frames"), "fps": fps, "realtime": True, "loop": True,
                                 "queue_size": 50},
            "microphone": {"enabled": False},
            "models": {"dir": str(self.models)},
            "sinks": {
                "console": {"enabled": False},
                "http": {"enabled": http, "port": 0},
                "mqtt": {"enabled": bool(mqtt_url), "url": mqtt_url or "mqtt://127.0.0.1:1"},
            },
        }
        self.config = tmp / "config.yaml"
        self.config.write_text(yaml.safe_dump(config))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("EDGE_", "NOTIFY_SOCKET", "WATCHDOG_"))}
        self.env.update(PYTHONPATH=str(REPO), FAULT_LEDGER=str(self.ledger), **(extra_env or {}))
        self.log_path = tmp / f"edge-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> EdgeProcess:
        self.log_path = self.tmp / f"edge-{time.monotonic_ns()}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(HERE / "harness.py"), "run", "-c", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.tmp,
            )
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def produced(self) -> list[str]:
        return self.ledger.read_text().split() if self.ledger.exists() else []

    def wait_for(self, predicate, timeout: float = 20.0, what: str = "condition") -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"edge exited early ({self.proc.returncode}) waiting for {what}:\n{self.log[-3000:]}")
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}:\n{self.log[-3000:]}")

    def wait_events(self, n: int, timeout: float = 20.0) -> None:
        start = len(self.produced())
        self.wait_for(lambda: len(self.produced()) >= start + n, timeout, f"{n} more events")

    def http_port(self) -> int:
        self.wait_for(lambda: "HTTP endpoint on" in self.log, what="the HTTP endpoint")
        return int(re.search(r"HTTP endpoint on http://127\.0\.0\.1:(\d+)", self.log).group(1))

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 40.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"edge did not exit {timeout} s after SIGTERM:\n{self.log[-3000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stored_ids(self) -> list[str]:
        db = sqlite3.connect(f"file:{self.state / 'events.db'}?mode=ro", uri=True)
        try:
            return [row[0] for row in db.execute("SELECT id FROM events ORDER BY id")]
        finally:
            db.close()


def integrity(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


class MjpegCamera:
    """A network camera on loopback: an HTTP MJPEG stream that can vanish (sockets closed) and come back."""

    def __init__(self, fps: float = 25.0) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        image = np.random.default_rng(2).integers(0, 255, (48, 64, 3), dtype=np.uint8)
        self.jpeg = cv2.imencode(".jpg", image)[1].tobytes()
        self.fps = fps
        self.port: int | None = None
        self._server: ThreadingHTTPServer | None = None
        self._connections: set = set()
        self._lock = threading.Lock()
        camera = self

        class Stream(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with camera._lock:
                    camera._connections.add(self.connection)
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                part = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(camera.jpeg)
                try:
                    while True:
                        self.wfile.write(part + camera.jpeg + b"\r\n")
                        time.sleep(1 / camera.fps)
                except OSError:
                    pass

            def log_message(self, *args) -> None:
                pass

        self._handler = Stream
        self._server_class = ThreadingHTTPServer
        self._threading = threading

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def start(self) -> MjpegCamera:
        self._server = self._server_class(("127.0.0.1", self.port or 0), self._handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """The camera vanishes: no new connections, and the open stream is cut."""
        import socket as socket_module

        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for connection in self._connections:
                try:
                    connection.shutdown(socket_module.SHUT_RDWR)
                except OSError:
                    pass
            self._connections.clear()
