"""Per-stage counters and latency figures.

Each worker keeps its own small record (for `edge bench`, status lines and /healthz) and mirrors it into a
Prometheus registry that the HTTP endpoint serves.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class PipelineMetrics:
    """The Prometheus side: one registry per application, so tests and reloads never collide."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.latency = Histogram(
            "edge_stage_latency_seconds", "Time a stage spends on one item", ["stage"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.processed = Counter("edge_stage_items_total", "Items processed by a stage", ["stage"], registry=r)
        self.errors = Counter("edge_stage_errors_total", "Items a stage failed on", ["stage"], registry=r)
        self.dropped = Gauge("edge_stage_dropped_items", "Items dropped because a stage inbox was full", ["stage"], registry=r)
        self.queue_depth = Gauge("edge_stage_queue_depth", "Items waiting in a stage inbox", ["stage"], registry=r)
        self.events = Counter("edge_events_total", "Events emitted", ["kind"], registry=r)
        self.source_frames = Gauge("edge_source_items", "Frames or audio hops produced by a source", ["source"], registry=r)
        self.source_fps = Gauge("edge_source_fps", "Recent frames per second of a camera source", ["source"], registry=r)
        self.source_reconnects = Gauge("edge_source_reconnects", "Reconnects of a source", ["source"], registry=r)
        self.sink_backlog = Gauge("edge_sink_backlog", "Events waiting for a sink", ["sink"], registry=r)
        self.sink_failures = Gauge("edge_sink_failures", "Failed writes of a sink (retried)", ["sink"], registry=r)
        self.sink_dropped = Gauge("edge_sink_dropped", "Events a sink's full queue had to drop", ["sink"], registry=r)
        self.model_info = Gauge("edge_model_info", "Loaded models", ["model", "version", "precision", "provider"], registry=r)


class StageStats:
    """Latencies of the last N items plus totals, for percentiles and rates without Prometheus."""

    def __init__(self, window: int = 2000) -> None:
        self._lock = threading.Lock()
        self.latencies: deque[float] = deque(maxlen=window)
        # items that produced an event: the ones that ran a model (a rate-limited OCR stage returns at once
        # for most frames, which would hide the model's latency in the plain percentiles)
        self.emitting: deque[float] = deque(maxlen=window)
        self.processed = 0
        self.errors = 0
        self.started = time.monotonic()
        self.last_progress = time.monotonic()
        self.busy_since: float | None = None

    def begin(self) -> None:
        self.busy_since = time.monotonic()

    def end(self, seconds: float, ok: bool, emitted: int = 0) -> None:
        with self._lock:
            self.latencies.append(seconds)
            if emitted:
                self.emitting.append(seconds)
            self.processed += 1
            self.errors += 0 if ok else 1
            self.last_progress = time.monotonic()
            self.busy_since = None

    def summary(self) -> dict:
        with self._lock:
            lat = np.array(self.latencies) * 1000.0 if self.latencies else np.zeros(1)
            emitting = np.array(self.emitting) * 1000.0 if self.emitting else np.zeros(1)
            elapsed = max(time.monotonic() - self.started, 1e-9)
            return {
                "emitting_items": len(self.emitting),
                "emitting_p50_ms": round(float(np.percentile(emitting, 50)), 3),
                "emitting_p99_ms": round(float(np.percentile(emitting, 99)), 3),
                "processed": self.processed,
                "errors": self.errors,
                "p50_ms": round(float(np.percentile(lat, 50)), 3),
                "p90_ms": round(float(np.percentile(lat, 90)), 3),
                "p99_ms": round(float(np.percentile(lat, 99)), 3),
                "items_per_s": round(self.processed / elapsed, 2),
            }
