"""sd_notify and the watchdog against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import logging
import os
import socket
import time

import pytest

from edge.service.notify import notify, watchdog_interval
from edge.service.watchdog import Watchdog


class FakeSystemd:
    """Receives notifications like systemd does: datagrams on an AF_UNIX socket."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.05)

    def messages(self) -> list[dict[str, str]]:
        out = []
        while True:
            try:
                data = self.sock.recv(4096)
            except (TimeoutError, BlockingIOError):
                return out
            out.append(dict(line.split("=", 1) for line in data.decode().splitlines()))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def systemd(tmp_path, monkeypatch):
    path = tmp_path / "notify.sock"
    fake = FakeSystemd(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield fake
    fake.close()


def test_each_notification(systemd):
    assert notify(ready=True, status="capturing: 12.0 fps")
    assert notify(watchdog=True)
    assert notify(reloading=True, status="reloading models")
    assert notify(stopping=True)
    got = systemd.messages()
    assert got[0] == {"READY": "1", "STATUS": "capturing: 12.0 fps"}
    assert got[1] == {"WATCHDOG": "1"}
    assert got[2]["RELOADING"] == "1" and got[2]["STATUS"] == "reloading models"
    assert int(got[2]["MONOTONIC_USEC"]) > 0
    assert got[3] == {"STOPPING": "1"}


def test_status_stays_one_line(systemd):
    notify(status="line one\nline two")
    assert systemd.messages() == [{"STATUS": "line one line two"}]


def test_abstract_socket(monkeypatch):
    name = f"edge-test-{os.getpid()}-{time.monotonic_ns()}"
    fake = FakeSystemd(b"\0" + name.encode())
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    try:
        assert notify(ready=True)
        assert fake.messages() == [{"READY": "1"}]
    finally:
        fake.close()


def test_without_systemd_it_is_a_no_op(monkeypatch, tmp_path, caplog):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify(ready=True) is False
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    with caplog.at_level(logging.WARNING):
        assert notify(ready=True) is False  # a vanished socket is logged, never raised
    assert "cannot notify systemd" in caplog.text


def test_watchdog_interval(monkeypatch):
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_PID")
    for bad in ("0", "-5", "abc", ""):
        monkeypatch.setenv("WATCHDOG_USEC", bad)
        assert watchdog_interval() is None


def test_watchdog_pings_only_while_healthy(systemd, monkeypatch, caplog):
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # 0.2 s -> a check every 0.1 s
    state = {"healthy": True}
    dog = Watchdog(lambda: (state["healthy"], "" if state["healthy"] else "stage ocr made no progress for 12 s"),
                   lambda: "12.0 fps, last event 1 s ago")
    assert dog.enabled and dog.period_s == pytest.approx(0.1)
    with caplog.at_level(logging.ERROR, logger="edge.service.watchdog"):
        assert dog.tick()
        state["healthy"] = False
        assert not dog.tick()
        assert not dog.tick()
        state["healthy"] = True
        assert dog.tick()
    got = systemd.messages()
    assert [("WATCHDOG" in m) for m in got] == [True, False, False, True]
    assert got[0]["STATUS"] == "12.0 fps, last event 1 s ago"
    assert got[1]["STATUS"].startswith("UNHEALTHY: stage ocr made no progress")
    assert caplog.text.count("withholding the watchdog ping: stage ocr made no progress") == 1  # once per reason
    assert dog.pings == 2 and dog.withheld == 2


def test_watchdog_thread_and_failing_check(systemd, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "100000")
    calls = []

    def check():
        calls.append(time.monotonic())
        if len(calls) > 3:
            raise RuntimeError("camera object gone")
        return True, ""

    dog = Watchdog(check, lambda: 1 / 0)
    dog.start()
    time.sleep(0.5)
    dog.stop()
    got = systemd.messages()
    pings = [m for m in got if "WATCHDOG" in m]
    assert len(pings) == 3  # the raising check stops the pings instead of killing the thread
    assert any("health check raised RuntimeError: camera object gone" in m.get("STATUS", "") for m in got)
    assert all("status unavailable" in m["STATUS"] for m in got)
    assert not dog._thread.is_alive()
