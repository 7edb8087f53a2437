"""sd_notify without libsystemd: one datagram to the socket systemd names in $NOTIFY_SOCKET.

Why not a dependency: the protocol is a few `KEY=value` lines on an AF_UNIX datagram socket, and boxes
should not need python-systemd (and its C build) to be a good Type=notify service. Outside systemd
(no $NOTIFY_SOCKET) every call is a cheap no-op that returns False.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger(__name__)


def _socket_address(raw: str) -> str | bytes:
    """'@name' is a Linux abstract socket, spelled with a leading NUL byte on the wire."""
    if raw.startswith("@"):
        return b"\0" + raw[1:].encode()
    return raw


def notify(
    ready: bool = False,
    status: str | None = None,
    watchdog: bool = False,
    stopping: bool = False,
    reloading: bool = False,
) -> bool:
    """Send one notification; True when it reached systemd's socket."""
    lines = []
    if reloading:
        # systemd >= 253 wants the monotonic time with RELOADING=1; older versions ignore it
        lines += ["RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}"]
    if ready:
        lines.append("READY=1")
    if stopping:
        lines.append("STOPPING=1")
    if watchdog:
        lines.append("WATCHDOG=1")
    if status is not None:
        lines.append("STATUS=" + " ".join(status.splitlines()))  # one line: newlines would end the field
    return send("\n".join(lines))


def send(message: str) -> bool:
    """Send a raw notification (`KEY=value` lines) to $NOTIFY_SOCKET."""
    raw = os.environ.get("NOTIFY_SOCKET")
    if not raw or not message:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(_socket_address(raw))
            sock.sendall(message.encode("utf-8", "replace"))
        return True
    except OSError as exc:
        log.warning("cannot notify systemd at %s: %s", raw, exc)
        return False


def watchdog_interval() -> float | None:
    """Seconds within which systemd expects a WATCHDOG=1 ping, or None when the watchdog is off for us.

    systemd sets WATCHDOG_USEC (and WATCHDOG_PID, the process it means) when the unit has WatchdogSec=.
    """
    try:
        usec = int(os.environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return None
    return usec / 1e6 if usec > 0 else None
