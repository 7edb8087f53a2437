"""Gives each sink its own thread and queue, with retry on failure.

A failing sink (disk full, broker gone, file locked) is reported, waits with backoff and retries the same
event, so nothing is dropped silently. Only when its queue overflows are events dropped, and those are
counted and logged (the SQLite store and the MQTT outbox are the durable copies).
"""

from __future__ import annotations

import logging
import threading
import time

from edge.events import Event
from edge.pipeline.queues import DropOldestQueue, Empty
from edge.sinks.base import Sink

log = logging.getLogger(__name__)


class SinkRunner:
    def __init__(self, sink: Sink, queue_size: int = 10_000, max_backoff_s: float = 10.0) -> None:
        self.sink = sink
        self.name = sink.name
        self.queue: DropOldestQueue[Event] = DropOldestQueue(queue_size)
        self.max_backoff_s = max_backoff_s
        self.written = 0
        self.failures = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._give_up_at: float | None = None
        self._thread = threading.Thread(target=self._loop, name=f"sink-{self.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def offer(self, event: Event) -> None:
        if not self.queue.put(event):
            dropped = self.queue.dropped
            if dropped in (1, 10, 100) or dropped % 1000 == 0:
                log.error("sink %s is %d events behind; dropped %d (oldest first)", self.name, len(self.queue), dropped)

    def _loop(self) -> None:
        while True:
            try:
                event = self.queue.get(timeout=0.1)
            except Empty:
                if self._stop.is_set():
                    return
                continue
            try:
                self._write_with_retry(event)
            finally:
                self.queue.task_done()

    def _write_with_retry(self, event: Event) -> None:
        backoff = 0.2
        while True:
            try:
                self.sink.write(event)
                self.written += 1
                if self.last_error is not None:
                    log.warning("sink %s recovered after %d failed writes", self.name, self.failures)
                    self.last_error = None
                return
            except Exception as exc:  # any failure: report, back off, retry the same event
                self.failures += 1
                message = f"{exc.__class__.__name__}: {exc}"
                if message != self.last_error:
                    log.error("sink %s failed to write event %s: %s (retrying)", self.name, event.id, message)
                self.last_error = message
                if self._stop.is_set() and self._give_up_at is not None and time.monotonic() > self._give_up_at:
                    log.error("sink %s gave up on event %s at shutdown: %s", self.name, event.id, message)
                    return
                time.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)

    def begin_stop(self, timeout: float) -> None:
        """Start giving up on failing writes after `timeout`; lets several runners drain in parallel."""
        self._give_up_at = time.monotonic() + timeout

    def stop(self, timeout: float = 10.0) -> bool:
        """Write what is queued (retrying failures until `timeout`), then close the sink."""
        if self._give_up_at is None:
            self.begin_stop(timeout)
        timeout = max(0.1, self._give_up_at - time.monotonic())
        drained = self.queue.wait_idle(timeout)
        self._stop.set()
        self._thread.join(timeout=timeout + 1.0)
        if not drained:
            log.error("sink %s stopped with %d events unwritten", self.name, len(self.queue))
        try:
            self.sink.close()
        except Exception as exc:
            log.error("sink %s failed to close: %s", self.name, exc)
        return drained

    def status(self) -> dict:
        """The runner's counters, plus the sink's own (e.g. the MQTT outbox `backlog`) under their names."""
        return {
            **self.sink.status(),
            "healthy": self.last_error is None,
            "written": self.written,
            "queued": len(self.queue),
            "dropped": self.queue.dropped,
            "failures": self.failures,
            "last_error": self.last_error,
        }
