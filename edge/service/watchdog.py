"""Watchdog pings that mean something: WATCHDOG=1 only while the pipeline is making progress.

A thread that pinged unconditionally would keep a service with a frozen camera or a hung stage alive
forever. Instead, every half watchdog interval we ask the app whether every source and stage made
progress (`check`); only then do we ping. When we withhold the ping, we log why, and systemd restarts
the service after WatchdogSec=. STATUS= is refreshed on every turn, so `systemctl status edge` shows fps
and the last event (or the reason for being unhealthy).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from edge.service.notify import notify, watchdog_interval

log = logging.getLogger(__name__)

STATUS_ONLY_PERIOD_S = 10.0  # without a systemd watchdog, still refresh STATUS= this often


class Watchdog:
    def __init__(
        self,
        check: Callable[[], tuple[bool, str]],
        status_text: Callable[[], str],
        period_s: float | None = None,
    ) -> None:
        self.check = check
        self.status_text = status_text
        interval = watchdog_interval()
        self.enabled = interval is not None  # False: systemd does not watch us; only STATUS= is sent
        self.period_s = period_s if period_s is not None else (interval / 2 if interval else STATUS_ONLY_PERIOD_S)
        self.pings = 0
        self.withheld = 0
        self.last_reason: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.period_s + 1)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.tick()

    def tick(self) -> bool:
        """One turn: check health, ping if healthy, refresh STATUS=. Returns whether it was healthy."""
        healthy, reason = self._safe_check()
        text = self._safe_status()
        if healthy:
            if self.last_reason is not None:
                log.warning("pipeline healthy again; watchdog pings resume")
            self.last_reason = None
            self.pings += 1
            notify(watchdog=self.enabled, status=text)
        else:
            self.withheld += 1
            if reason != self.last_reason:
                log.error(
                    "withholding the watchdog ping: %s%s", reason,
                    " (systemd restarts edge if this lasts WatchdogSec)" if self.enabled else "",
                )
            self.last_reason = reason
            notify(status=f"UNHEALTHY: {reason} | {text}")
        return healthy

    def _safe_check(self) -> tuple[bool, str]:
        try:
            healthy, reason = self.check()
            return bool(healthy), str(reason)
        except Exception as exc:  # noqa: BLE001 (a failing check is a failing service, never a dead watchdog thread)
            return False, f"health check raised {exc.__class__.__name__}: {exc}"

    def _safe_status(self) -> str:
        try:
            return str(self.status_text())
        except Exception as exc:  # noqa: BLE001 (status text is best effort)
            return f"(status unavailable: {exc.__class__.__name__})"
