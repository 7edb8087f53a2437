"""Routing: sources -> stage workers -> (downstream stages, sinks). One direction, no back edges.

Sources call `submit(item)`; every worker whose stage consumes `item.kind` gets it. Events a stage emits
go to every sink and to the stages that consume that event kind (e.g. fusion consumes "ocr" and
"speech"). Nothing here blocks a producer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from edge.events import Event
from edge.pipeline.metrics import PipelineMetrics
from edge.pipeline.stage import Item, Stage
from edge.pipeline.worker import StageWorker

log = logging.getLogger(__name__)
SOURCE_KINDS = ("frame", "audio")


class Pipeline:
    def __init__(
        self,
        stages: Sequence[Stage],
        on_event: Callable[[Event], None],
        metrics: PipelineMetrics | None = None,
        frame_inbox: int = 4,
        other_inbox: int = 2000,
    ) -> None:
        self.metrics = metrics or PipelineMetrics()
        self.on_event = on_event
        self.workers = [
            StageWorker(s, self._publish, self.metrics, frame_inbox, other_inbox) for s in stages
        ]
        self._routes: dict[str, list[StageWorker]] = {}
        for worker in self.workers:
            for kind in worker.stage.consumes:
                self._routes.setdefault(kind, []).append(worker)
        self.submitted: dict[str, int] = {}
        self._lock = threading.Lock()
        self.last_event: Event | None = None

    def consumes(self, kind: str) -> bool:
        return bool(self._routes.get(kind))

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def submit(self, item: Item) -> None:
        """Entry point for sources: hand a frame or audio chunk to every stage that wants it."""
        with self._lock:
            self.submitted[item.kind] = self.submitted.get(item.kind, 0) + 1
        for worker in self._routes.get(item.kind, ()):
            worker.offer(item)

    def _publish(self, event: Event) -> None:
        self.metrics.events.labels(event.kind).inc()
        self.last_event = event
        self.on_event(event)
        if event.kind in SOURCE_KINDS:
            return  # "frame" and "audio" name source items; an event reusing them must not loop back
        for worker in self._routes.get(event.kind, ()):
            worker.offer(event)

    def drain_and_stop(self, timeout: float = 30.0) -> bool:
        """Stop stages in order (upstream first) so downstream stages still receive flushed events."""
        ok = True
        for worker in self.workers:
            ok = worker.drain_and_stop(timeout) and ok
        return ok

    def health(self, hang_after_s: float = 30.0) -> dict[str, dict]:
        out = {}
        for worker in self.workers:
            healthy, why = worker.health(hang_after_s)
            out[worker.name] = {"healthy": healthy, "detail": why, **worker.status()}
        return out
