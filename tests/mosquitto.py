"""Test helper: a real Mosquitto broker on a free loopback port, plus a subscriber that records messages.

The broker gets a test-only config in a temporary folder (loopback only, anonymous or a
password file) and can be stopped and started again on the same port to simulate an outage. When the
`mosquitto` binary (or mosquitto_passwd, openssl for the password and TLS tests) is missing the tests are
skipped, unless EDGE_REQUIRE_MOSQUITTO=1 (CI), where that is a failure.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion


def skip_or_fail(message: str) -> None:
    """A missing broker-side tool skips the test, except under EDGE_REQUIRE_MOSQUITTO=1 (CI), where it fails."""
    if os.environ.get("EDGE_REQUIRE_MOSQUITTO") == "1":
        pytest.fail(message)
    pytest.skip(message)


def require_tool(name: str, hint: str) -> str:
    """Path of a command the broker tests need (mosquitto_passwd, openssl)."""
    path = shutil.which(name)
    if path is None:
        skip_or_fail(f"{name} is not installed ({hint})")
    return path


def require_mosquitto() -> str:
    binary = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
    )
    if binary is None:
        skip_or_fail("mosquitto is not installed (apt-get install mosquitto)")
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


class Broker:
    """One mosquitto process; stop()/start() keep the port so clients can reconnect."""

    def __init__(self, workdir: Path, port: int | None = None, extra_config: str = "") -> None:
        self.binary = require_mosquitto()
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.config = self.workdir / "mosquitto.conf"
        self.log = self.workdir / "mosquitto.log"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"user {getpass.getuser()}\n"  # as root mosquitto would otherwise drop to the `mosquitto` user
            # sessions survive a broker restart (saved every second and on SIGTERM), so a subscriber misses nothing
            f"persistence true\npersistence_location {self.workdir}/\nautosave_interval 1\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            f"{extra_config if extra_config else 'allow_anonymous true'}\n"
        )
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Broker:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.config)], stdout=log, stderr=log)
        if not wait_for_port(self.port):
            self.stop()
            raise RuntimeError(f"mosquitto did not start on port {self.port}: {self.log.read_text()[-2000:]}")
        return self

    def wait_saved(self, timeout: float = 5.0) -> bool:
        """Wait until the broker has written its state once (so sessions survive even a SIGKILL)."""
        db = self.workdir / "mosquitto.db"
        end = time.monotonic() + timeout
        while time.monotonic() < end and not db.exists():
            time.sleep(0.05)
        return db.exists()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


class Subscriber:
    """Collects (topic, payload, retain) of everything published under `topic` (QoS 1), across restarts."""

    def __init__(self, port: int, topic: str) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        # a persistent session: the broker queues QoS 1 messages for us while we are reconnecting
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"test-sub-{os.getpid()}-{time.monotonic_ns()}",
            clean_session=False,
        )
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(topic, qos=1)
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not self._subscribed.wait(5):
            raise RuntimeError("test subscriber could not subscribe")

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload, bool(message.retain)))

    def on(self, topic: str) -> list[bytes]:
        with self._lock:
            return [payload for t, payload, _ in self.messages if t == topic]

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate(self):
                return True
            time.sleep(0.02)
        return predicate(self)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
