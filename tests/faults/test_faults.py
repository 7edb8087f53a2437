"""Fault injection against a real `edge run` process (see harness.py): signals, kill -9, broker outages,
disk full, a bad model on reload, a hung stage under the systemd watchdog."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from edge_process import MjpegCamera, integrity, write_tick_model
from mosquitto import Broker, Subscriber

EVENTS_TOPIC = "edge/faultbox/events"


def test_sigterm_exits_0_with_every_event_stored_and_delivered(tmp_path, edge_process):
    broker = Broker(tmp_path / "broker").start()
    subscriber = Subscriber(broker.port, "edge/faultbox/#")
    try:
        edge = edge_process(mqtt_url=broker.url).start()
        edge.wait_events(30)
        assert edge.stop() == 0
        produced = edge.produced()
        assert sorted(produced) == edge.stored_ids()  # every event the stages made is in the store, once
        # the outbox was flushed on the way out: the broker has every event, in order
        received = list(dict.fromkeys(json.loads(p)["id"] for p in subscriber.on(EVENTS_TOPIC)))
        assert received == produced
        assert subscriber.on("edge/faultbox/status")[-1] == b"offline"
        assert integrity(edge.state / "events.db") == "ok" and integrity(edge.state / "outbox.db") == "ok"
    finally:
        subscriber.close()
        broker.stop()


def test_kill_9_then_restart_keeps_the_store_intact(tmp_path, edge_process):
    edge = edge_process().start()
    edge.wait_events(25)
    edge.wait_for(lambda: len(edge.stored_ids()) >= 20, what="20 stored events")
    committed = set(edge.stored_ids())
    edge.kill()
    assert integrity(edge.state / "events.db") == "ok"
    assert committed <= set(edge.stored_ids())

    first_run = len(edge.produced())
    edge.start()  # same state dir, as systemd's Restart=on-failure would
    edge.wait_events(20)
    assert edge.stop() == 0
    final = edge.stored_ids()
    assert integrity(edge.state / "events.db") == "ok"
    assert committed <= set(final) and len(final) == len(set(final))
    assert set(edge.produced()[first_run:]) <= set(final)  # every event of the second run landed


def test_broker_killed_and_restarted_mid_run(tmp_path, edge_process):
    broker = Broker(tmp_path / "broker").start()
    subscriber = Subscriber(broker.port, "edge/faultbox/#")
    try:
        edge = edge_process(mqtt_url=broker.url).start()
        edge.wait_events(15)
        assert broker.wait_saved()  # the subscriber's session must survive the SIGKILL
        broker.kill()  # SIGKILL: no goodbye to anyone
        edge.wait_events(25)  # capture and the store go on while the broker is gone
        broker.start()
        edge.wait_events(15)
        assert edge.stop() == 0
        produced = edge.produced()
        assert subscriber.wait_for(lambda s: len({json.loads(p)["id"] for p in s.on(EVENTS_TOPIC)}) >= len(produced), 15)
        received = list(dict.fromkeys(json.loads(p)["id"] for p in subscriber.on(EVENTS_TOPIC)))
        assert received == produced  # at least once, de-duplicated by id: all of them, in order
        assert sorted(produced) == edge.stored_ids()
    finally:
        subscriber.close()
        broker.stop()


def _mount_tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    mount = shutil.which("mount")
    if mount is None:
        return False
    return subprocess.run([mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, check=False).returncode == 0


def _fill(folder: Path) -> Path:
    """Write zeros until the filesystem is full (unbuffered, so closing cannot raise ENOSPC again)."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def test_disk_full_is_reported_and_capture_goes_on(tmp_path, edge_process):
    """A real full filesystem (a small tmpfs) where we may mount one; otherwise injected ENOSPC errors."""
    disk = tmp_path / "disk"
    mounted = os.environ.get("EDGE_FAULTS_NO_MOUNT") != "1" and _mount_tmpfs(disk, "8m")
    flag = tmp_path / "disk-full"
    env = {} if mounted else {"FAULT_ENOSPC_FILE": str(flag)}
    try:
        edge = edge_process(state_dir=disk / "state", http=True, extra_env=env).start()
        port = edge.http_port()
        edge.wait_events(10)
        filler = _fill(disk) if mounted else flag
        flag.touch()
        edge.wait_for(lambda: "disk" in edge.log.lower() and "full" in edge.log.lower(), what="a disk-full error")
        frames_before = _frames_processed(port)
        time.sleep(1.5)
        assert _frames_processed(port) > frames_before + 10  # capture and the stage keep running
        filler.unlink(missing_ok=True)  # space comes back: the sinks retry and catch up, nothing was dropped
        flag.unlink(missing_ok=True)
        edge.wait_events(10)
        assert edge.stop() == 0
        assert integrity(edge.state / "events.db") == "ok"
        assert sorted(edge.produced()) == edge.stored_ids()
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True, check=False)


def _frames_processed(port: int) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("edge_events_total") and 'kind="tick"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_corrupt_model_on_reload_keeps_the_old_one(tmp_path, edge_process):
    edge = edge_process().start()
    edge.wait_events(10)
    model = edge.models / "tick-v1.onnx"
    model.write_bytes(model.read_bytes()[:40])  # a half-copied file
    edge.signal(signal.SIGHUP)
    edge.wait_for(lambda: "reload refused" in edge.log, what="the refused reload")
    assert "sha256" in edge.log.split("reload refused", 1)[1].splitlines()[0]
    edge.wait_events(10)  # the old model is still running

    write_tick_model(edge.models, "2", add=2.0)  # a good new release: verified, loaded, swapped in
    edge.signal(signal.SIGHUP)
    edge.wait_for(lambda: "reloaded:" in edge.log, what="the reload")
    edge.wait_events(10)
    assert edge.stop() == 0
    assert sorted(edge.produced()) == edge.stored_ids()  # nothing lost across either reload
    db = sqlite3.connect(edge.state / "events.db")
    versions = [json.loads(row[0])["model_version"] for row in db.execute("SELECT data FROM events ORDER BY id")]
    db.close()
    assert versions[0] == "1" and versions[-1] == "2"


class NotifySocket:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.received: list[tuple[float, dict]] = []

    def poll(self) -> list[tuple[float, dict]]:
        while True:
            try:
                data = self.sock.recv(4096).decode()
            except (TimeoutError, BlockingIOError):
                return self.received
            self.received.append((time.monotonic(), dict(l.split("=", 1) for l in data.splitlines())))


def test_hung_stage_stops_the_watchdog_pings(tmp_path, edge_process):
    notify = NotifySocket(tmp_path / "notify.sock")
    hang = tmp_path / "hang"
    edge = edge_process(extra_env={
        "NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "600000", "FAULT_HANG_FILE": str(hang),
        "FAULT_HANG_AFTER_S": "1",
    }).start()
    edge.wait_for(lambda: any("READY" in m for _, m in notify.poll()), what="READY=1")
    edge.wait_for(lambda: sum("WATCHDOG" in m for _, m in notify.poll()) >= 3, what="watchdog pings")
    hang.touch()  # the model stage blocks from its next frame on
    edge.wait_for(lambda: any(m.get("STATUS", "").startswith("UNHEALTHY") for _, m in notify.poll()), 10,
                  "an UNHEALTHY status")
    stalled_at = time.monotonic()
    time.sleep(1.5)  # 5 watchdog periods: systemd (WatchdogSec) would restart us now
    pings_while_hung = [t for t, m in notify.poll() if "WATCHDOG" in m and t > stalled_at]
    assert pings_while_hung == []
    assert "withholding the watchdog ping" in edge.log
    hang.unlink()  # it recovers: pings resume
    edge.wait_for(lambda: any("WATCHDOG" in m and t > stalled_at for t, m in notify.poll()), 10, "pings to resume")
    assert edge.stop() == 0
    assert any("STOPPING" in m for _, m in notify.poll())


def _health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_network_camera_vanishes_and_returns(tmp_path, edge_process):
    camera = MjpegCamera().start()
    try:
        edge = edge_process(http=True, camera={
            "source": camera.url, "id": "ipcam", "stall_timeout_s": 1.0, "reconnect_initial_s": 0.2,
            "reconnect_max_s": 1.0, "queue_size": 50,
        }).start()
        port = edge.http_port()
        edge.wait_events(10)
        assert _health(port)[0] == 200
        camera.stop()  # unplugged / network gone
        edge.wait_for(lambda: _health(port)[0] == 503, 15, "/healthz to report the lost camera")
        health = _health(port)[1]
        assert health["sources"] and "ipcam" in json.dumps(health["reasons"])
        assert edge.proc.poll() is None  # no crash, it keeps trying
        camera.start()  # back on the same address
        edge.wait_events(10, timeout=30)  # reconnected: frames and events flow again
        edge.wait_for(lambda: _health(port)[0] == 200, 15, "/healthz to recover")
        assert edge.stop() == 0
        assert sorted(edge.produced()) == edge.stored_ids()
        assert "reconnect" in edge.log.lower()
    finally:
        camera.stop()
