"""Builds the pipeline from the config and runs it as a service.

sources (camera, microphone/WAV)  ->  Pipeline (stage workers)  ->  SinkRunners (console, jsonl, sqlite,
snapshots, mqtt)  plus the HTTP endpoint and systemd notifications on the side.
SIGINT/SIGTERM stop it cleanly (drain in-flight work, write every event); SIGHUP reloads config and models.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from edge.config import EdgeConfig, load_config
from edge.errors import EdgeError, ModelError
from edge.events import Event
from edge.pipeline.metrics import PipelineMetrics
from edge.pipeline.pipeline import Pipeline
from edge.pipeline.stage import Stage
from edge.runtime import Manifest, limit_opencv_threads, load_manifest
from edge.sinks.base import Sink
from edge.sinks.console import ConsoleSink
from edge.sinks.jsonl import JsonlSink
from edge.sinks.runner import SinkRunner
from edge.sinks.snapshots import SnapshotSink
from edge.sinks.store import EventStore, SqliteSink

log = logging.getLogger(__name__)

DEMO_CONFIG = Path(__file__).resolve().parent / "demo" / "demo.yaml"
# Upstream first: fusion consumes what ocr and speech emit, so it is drained last.
MODEL_STAGES = ("ocr", "speech", "fusion")


def stage_precision(config: EdgeConfig, name: str) -> str:
    """A model section's own `precision` wins over `runtime.precision`."""
    return getattr(getattr(config, name), "precision", None) or config.runtime.precision


def build_stages(config: EdgeConfig, manifest: Manifest, optional: bool = False) -> list[Stage]:
    """One stage per enabled model. With optional=True (the demo) a model that is not installed is skipped
    with a warning; otherwise it is an error, because a station silently running without OCR is worse."""
    stages: list[Stage] = []
    for name in MODEL_STAGES:
        if not getattr(config, name).enabled:
            continue
        precision = stage_precision(config, name)
        if not manifest.has(name, precision):
            message = (
                f"the {name} stage is enabled but models/manifest.yaml lists no {precision} "
                f"'{name}' model; install the model files or set `{name}: {{enabled: false}}`"
            )
            if optional:
                log.warning("%s (skipped in the demo)", message)
                continue
            raise ModelError(message)
        module = importlib.import_module(f"edge.{name}.stage")
        stages.append(module.build_stage(config, manifest))
    return stages


class Application:
    def __init__(
        self,
        config: EdgeConfig,
        config_path: Path | None = None,
        demo: bool = False,
        stages: list[Stage] | None = None,
    ) -> None:
        """`stages` replaces the model stages built from the config (tests, benchmarks)."""
        self.config = config
        self.config_path = config_path
        self.demo = demo
        limit_opencv_threads(config.runtime.threads)
        self.metrics = PipelineMetrics()
        self.registry = self.metrics.registry
        self.state_dir = config.resolved_state_dir()
        self.started_mono = time.monotonic()
        self.first_item_mono: float | None = None
        self._stop = threading.Event()
        self._reload = threading.Event()
        self.sources: list[Any] = []
        self.runners: list[SinkRunner] = []
        self.store: EventStore | None = None
        self.snapshots: SnapshotSink | None = None
        self.http = None
        self.watchdog = None
        self.mqtt = None
        self.manifest = load_manifest(config.models.dir)
        self.pipeline = Pipeline(
            stages if stages is not None else build_stages(config, self.manifest, optional=demo),
            self._fan_out,
            self.metrics,
            frame_inbox=config.camera.queue_size,
            other_inbox=self._audio_inbox(config),
        )
        self._build_sinks()

    @staticmethod
    def _audio_inbox(config: EdgeConfig) -> int:
        """Audio and events are never dropped on purpose: room for twice the microphone's buffer."""
        return max(2000, int(2 * config.microphone.queue_seconds * 1000 / config.microphone.hop_ms))

    # ---- building --------------------------------------------------------------------------------------

    def _build_sinks(self) -> None:
        cfg, sinks = self.config, self.config.sinks
        built: list[Sink] = []
        if sinks.sqlite.enabled:
            self.store = EventStore(cfg.state_path(sinks.sqlite.path, "events.db"), sinks.sqlite.max_events)
            built.append(SqliteSink(self.store))
        if sinks.snapshots.enabled:
            self.snapshots = SnapshotSink(
                cfg.state_path(sinks.snapshots.dir, "snapshots"), sinks.snapshots.max_count, sinks.snapshots.max_bytes
            )
            built.append(self.snapshots)
        if sinks.jsonl.enabled:
            built.append(JsonlSink(cfg.state_path(sinks.jsonl.path, "events.jsonl"), sinks.jsonl.max_bytes, sinks.jsonl.backups))
        if sinks.mqtt.enabled:
            from edge.sinks.mqtt import MqttSink

            self.mqtt = MqttSink(sinks.mqtt, cfg.device_id, cfg.state_path(sinks.mqtt.outbox_path, "outbox.db"))
            self.mqtt.metrics_source = self._fleet_metrics
            built.append(self.mqtt)
        if sinks.console.enabled:
            built.append(ConsoleSink())
        self.runners = [SinkRunner(s, sinks.queue_size) for s in built]

    def _build_sources(self) -> None:
        cfg = self.config
        if cfg.camera.enabled:
            from edge.sources.camera import CameraSource

            self.sources.append(CameraSource(cfg.camera, self._submit))
        if cfg.microphone.enabled and self.pipeline.consumes("audio"):
            from edge.sources.replay import open_audio_source

            self.sources.append(open_audio_source(cfg.microphone, self._submit))

    # ---- data flow ---------------------------------------------------------------------------------------

    def _submit(self, item: Any) -> None:
        if self.first_item_mono is None:
            self.first_item_mono = time.monotonic()
            log.info("first %s after %.2f s", item.kind, self.first_item_mono - self.started_mono)
        self.pipeline.submit(item)

    def _fan_out(self, event: Event) -> None:
        for runner in self.runners:
            runner.offer(event)

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        for runner in self.runners:
            runner.start()
        self.pipeline.start()
        self._build_sources()
        for source in self.sources:
            source.start()
        if self.config.sinks.http.enabled:
            from edge.service.http import HttpServer

            self.http = HttpServer(self.config.sinks.http, self)
            self.http.start()
        from edge.service import notify
        from edge.service.watchdog import Watchdog

        if os.environ.get("NOTIFY_SOCKET"):
            # pings only when systemd set WatchdogSec=; otherwise it just keeps STATUS= current
            self.watchdog = Watchdog(self._watchdog_check, self.status_line)
            self.watchdog.start()
        self._publish_model_info()
        notify.notify(ready=True, status=self.status_line())

    def request_stop(self, *_: Any) -> None:
        self._stop.set()

    def request_reload(self, *_: Any) -> None:
        self._reload.set()

    def run(self, max_seconds: float | None = None) -> int:
        """Run until SIGINT/SIGTERM, --max-seconds, or every replayed file has ended."""
        previous = {
            sig: signal.signal(sig, handler)
            for sig, handler in (
                (signal.SIGINT, self.request_stop),
                (signal.SIGTERM, self.request_stop),
                (signal.SIGHUP, self.request_reload),
            )
        }
        try:
            self.start()
            deadline = time.monotonic() + max_seconds if max_seconds else None
            next_refresh = 0.0
            while not self._stop.wait(0.1):
                if time.monotonic() >= next_refresh:
                    self.refresh_metrics()
                    next_refresh = time.monotonic() + 1.0
                if self._reload.is_set():
                    self._reload.clear()
                    self.reload()
                if deadline and time.monotonic() >= deadline:
                    log.info("--max-seconds reached")
                    break
                if self.sources and all(getattr(s, "finished", False) for s in self.sources):
                    log.info("all sources finished")
                    break
        finally:
            self.shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def shutdown(self, timeout: float = 20.0, sink_timeout: float = 15.0) -> None:
        """Stop capture, finish queued work, write every event, close outputs.

        Bounded by timeout + sink_timeout (35 s) so systemd's TimeoutStopSec=45 is never hit; sinks drain
        in parallel, the event store first in line."""
        from edge.service import notify

        notify.notify(stopping=True)
        for source in self.sources:
            source.stop()
        for source in self.sources:
            source.join(timeout=5.0)
        self.pipeline.drain_and_stop(timeout)
        if self.watchdog:
            self.watchdog.stop()
        if self.http:
            self.http.stop()
        for runner in self.runners:
            runner.begin_stop(sink_timeout)
        for runner in self.runners:
            runner.stop(sink_timeout)
        self.refresh_metrics()
        if self.store:
            log.info("event store %s holds %d events", self.store.path, self.store.count())

    def reload(self) -> None:
        """SIGHUP: verify and load new config and models next to the running ones, then swap.

        The old pipeline keeps running until the new one is ready; a bad config or model leaves the old
        one in place and is reported. Sources keep capturing; the old stages drain into the sinks.
        """
        from edge.service import notify

        notify.notify(reloading=True)
        try:
            config = load_config(self.config_path) if self.config_path else self.config
            manifest = load_manifest(config.models.dir)
            stages = build_stages(config, manifest, optional=self.demo)
        except EdgeError as exc:
            log.error("reload refused, keeping the running config and models: %s", exc)
            notify.notify(ready=True, status=f"reload failed: {exc}")
            return
        new = Pipeline(
            stages, self._fan_out, self.metrics,
            frame_inbox=config.camera.queue_size, other_inbox=self._audio_inbox(config),
        )
        new.start()
        old, self.pipeline = self.pipeline, new
        old.drain_and_stop()
        self.config, self.manifest = config, manifest
        log.info("reloaded: %s", ", ".join(w.name for w in new.workers) or "no model stages")
        notify.notify(ready=True, status=self.status_line())

    # ---- health ------------------------------------------------------------------------------------------

    def health(self) -> dict:
        sources = {}
        for source in self.sources:
            name = getattr(source, "name", type(source).__name__)
            sources[name if name not in sources else f"{name}-{len(sources)}"] = source.status()
        stages = self.pipeline.health(self.stage_timeout_s())
        sinks = {r.name: r.status() for r in self.runners}
        healthy, reasons = self._assess(sources, stages, sinks)
        return {"healthy": healthy, "reasons": reasons, "sources": sources, "stages": stages, "sinks": sinks}

    def _assess(self, sources: dict, stages: dict, sinks: dict) -> tuple[bool, list[str]]:
        reasons = []
        for name, status in sources.items():
            if status.get("state") not in ("running", "finished"):
                reasons.append(f"source {name} is {status.get('state')}: {status.get('error') or ''}".strip())
        for name, status in stages.items():
            if not status["healthy"]:
                reasons.append(status["detail"])
        for name, status in sinks.items():
            if name in ("sqlite",) and not status["healthy"]:
                reasons.append(f"sink {name} failing: {status['last_error']}")
        return not reasons, reasons

    def stage_timeout_s(self) -> float:
        return self.config.runtime.stage_timeout_s

    def refresh_metrics(self) -> None:
        """Copy source and sink counters into the Prometheus gauges (stage metrics update as they happen)."""
        m = self.metrics
        for source in self.sources:
            name, status = getattr(source, "name", type(source).__name__), source.status()
            m.source_frames.labels(name).set(status.get("frames", status.get("chunks", 0)) or 0)
            m.source_fps.labels(name).set(status.get("fps", 0.0) or 0.0)
            m.source_reconnects.labels(name).set(status.get("reconnects", 0) or 0)
        for runner in self.runners:
            m.sink_backlog.labels(runner.name).set(len(runner.queue))
            m.sink_failures.labels(runner.name).set(runner.failures)
            m.sink_dropped.labels(runner.name).set(runner.queue.dropped)

    def _publish_model_info(self) -> None:
        from edge.runtime import resolve_providers

        provider = resolve_providers(self.config.runtime.providers)[0]
        for worker in self.pipeline.workers:
            if worker.name in self.manifest.models:
                version = str(self.manifest.models[worker.name].get("version", "?"))
                self.metrics.model_info.labels(worker.name, version, self.config.runtime.precision, provider).set(1)

    def _fleet_metrics(self) -> dict:
        """What the MQTT sink publishes on <prefix>/<device>/metrics."""
        health = self.health()
        return {"status": self.status_line(), **{k: v for k, v in health.items() if k != "reasons"}}

    def _watchdog_check(self) -> tuple[bool, str]:
        health = self.health()
        return health["healthy"], "; ".join(health["reasons"]) or "ok"

    def status_line(self) -> str:
        parts = []
        for source in self.sources:
            status = source.status()
            if "fps" in status:
                parts.append(f"{status.get('state')} {status.get('fps', 0):.1f} fps")
        last = self.pipeline.last_event
        if last is not None:
            parts.append(f"last {last.kind} {time.strftime('%H:%M:%S', time.localtime(last.t_wall))}")
        return ", ".join(parts) or "starting"

    def snapshot_path(self, event_id: str) -> Path | None:
        return self.snapshots.path_for(event_id) if self.snapshots else None
