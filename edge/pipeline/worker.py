"""One thread per stage: take items from a bounded inbox, run the stage, hand events on."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from edge.events import Event
from edge.pipeline.metrics import PipelineMetrics, StageStats
from edge.pipeline.queues import DropOldestQueue, Empty
from edge.pipeline.stage import Item, Stage

log = logging.getLogger(__name__)


class StageWorker:
    def __init__(
        self,
        stage: Stage,
        publish: Callable[[Event], None],
        metrics: PipelineMetrics,
        frame_inbox: int,
        other_inbox: int,
    ) -> None:
        self.stage = stage
        self.name = stage.name
        self.publish = publish
        self.metrics = metrics
        frames_only = set(stage.consumes) <= {"frame"}
        self.inbox: DropOldestQueue[Item] = DropOldestQueue(
            frame_inbox if frames_only else other_inbox, max_frames=frame_inbox
        )
        self.stats = StageStats()
        # Prometheus children looked up once: .labels() takes a lock and a dict lookup, and these are
        # touched for every frame and audio hop
        self._latency = metrics.latency.labels(self.name)
        self._processed = metrics.processed.labels(self.name)
        self._errors = metrics.errors.labels(self.name)
        self._dropped = metrics.dropped.labels(self.name)
        self._queue_depth = metrics.queue_depth.labels(self.name)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"stage-{self.name}", daemon=True)

    def offer(self, item: Item) -> None:
        """Called by the router; never blocks. A full inbox drops its oldest item (counted).

        Dropped frames are normal (the stage works on the newest); dropped audio or events are a loss
        and are logged."""
        lost_before = self.inbox.dropped_other
        self.inbox.put(item)
        lost = self.inbox.dropped_other
        if lost > lost_before and (lost in (1, 10, 100) or lost % 1000 == 0):
            log.warning("stage %s cannot keep up: %d audio hops/events dropped so far", self.name, lost)
        self._dropped.set(self.inbox.dropped)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                item = self.inbox.get(timeout=0.1)
            except Empty:
                continue
            try:
                self._handle(item)
            finally:
                self.inbox.task_done()

    def _handle(self, item: Item) -> None:
        self.stats.begin()
        start = time.perf_counter()
        ok = True
        try:
            events = list(self.stage.process(item) or ())
        except Exception:  # a bad item must not kill the stage; it is logged and counted
            ok = False
            events = []
            log.exception("stage %s failed on a %s item", self.name, getattr(item, "kind", "?"))
            self._errors.inc()
        seconds = time.perf_counter() - start
        self.stats.end(seconds, ok, len(events))
        self._latency.observe(seconds)
        self._processed.inc()
        self._queue_depth.set(len(self.inbox))
        for event in events:
            self.publish(event)

    def drain_and_stop(self, timeout: float) -> bool:
        """Process what is queued, let the stage flush its buffers, then stop. False if it timed out."""
        drained = self.inbox.wait_idle(timeout)
        self._stop.set()
        self._thread.join(timeout=max(1.0, timeout))
        try:
            for event in self.stage.flush() or ():
                self.publish(event)
        except Exception:
            log.exception("stage %s failed while flushing", self.name)
        try:
            self.stage.close()
        except Exception:
            log.exception("stage %s failed while closing", self.name)
        if not drained:
            log.error("stage %s did not finish its %d queued items in %.0f s", self.name, len(self.inbox), timeout)
        return drained

    def health(self, hang_after_s: float = 30.0) -> tuple[bool, str]:
        """Unhealthy when one item has been processing for longer than `hang_after_s`."""
        busy = self.stats.busy_since
        if busy is not None and time.monotonic() - busy > hang_after_s:
            return False, f"stage {self.name} stuck on one item for {time.monotonic() - busy:.0f} s"
        if not self._thread.is_alive() and not self._stop.is_set():
            return False, f"stage {self.name} thread died"
        return True, "ok"

    def status(self) -> dict:
        return {**self.stats.summary(), "queued": len(self.inbox), "dropped": self.inbox.dropped}
