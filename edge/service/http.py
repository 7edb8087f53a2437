"""The local HTTP endpoint: health, Prometheus metrics, recent events and snapshots.

Off by default and bound to 127.0.0.1 when on (expose it through a reverse proxy or an SSH tunnel, or
set `sinks.http.host` and a `token`). Read-only and small on purpose: stdlib ThreadingHTTPServer in one
background thread, every request validated strictly (unknown parameters, bad numbers, malformed ids are
400/404), and any failure inside the app becomes a 500 with a JSON message, never a dead server.

  GET /healthz               200 when healthy, 503 otherwise; JSON with per-source/stage/sink status
  GET /metrics               Prometheus text format (the app's registry + sink status gauges)
  GET /events?since=&until=&kind=&text=&limit=   events from the local store, oldest first, as JSON
  GET /snapshots/<id>.jpg    the JPEG snapshot of one event
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from edge.config import HttpSinkConfig
from edge.errors import SinkError

log = logging.getLogger(__name__)

EVENT_ID = re.compile(r"^[0-9a-f]{32}$")  # edge.events.new_event_id: 32 lower-case hex digits
SNAPSHOT_PATH = re.compile(r"^/snapshots/([0-9a-f]{32})\.jpg$")
KIND = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
EVENT_PARAMS = {"since", "until", "kind", "text", "limit"}
MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100
MAX_SNAPSHOT_BYTES = 50_000_000


class BadRequest(Exception):
    """A client error: answered with 400 and this message."""


def parse_time_param(name: str, value: str, now: float | None = None) -> float:
    """Seconds since the epoch, an ISO 8601 date-time, or an age like 10m / 2h / 1d."""
    value = value.strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", value)
    if match:
        seconds = float(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return (now if now is not None else time.time()) - seconds
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number):
            raise BadRequest(f"{name} must be a finite number of seconds since the epoch")
        return number
    try:
        return datetime.fromisoformat(value).timestamp()
    except (ValueError, OverflowError, OSError):
        raise BadRequest(f"{name}={value!r}: use seconds since the epoch, an ISO date-time or an age like 10m") from None


def parse_event_query(query: str) -> dict[str, Any]:
    """The /events query string -> keyword arguments for store.query, or BadRequest."""
    try:
        params = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query), max_num_fields=20)
    except ValueError as exc:
        raise BadRequest(f"malformed query string: {exc}") from None
    unknown = set(params) - EVENT_PARAMS
    if unknown:
        raise BadRequest(f"unknown parameter(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(EVENT_PARAMS))}")
    repeated = [k for k, v in params.items() if len(v) > 1]
    if repeated:
        raise BadRequest(f"parameter(s) given twice: {', '.join(sorted(repeated))}")
    single = {k: v[0] for k, v in params.items()}
    out: dict[str, Any] = {"since": None, "until": None, "kind": None, "text": None, "limit": DEFAULT_LIMIT}
    for name in ("since", "until"):
        if single.get(name):
            out[name] = parse_time_param(name, single[name])
    if single.get("kind"):
        if not KIND.match(single["kind"]):
            raise BadRequest("kind must be 1-64 letters, digits, '_', '.', ':' or '-'")
        out["kind"] = single["kind"]
    if single.get("text"):
        if len(single["text"]) > 200:
            raise BadRequest("text must be at most 200 characters")
        out["text"] = single["text"]
    if "limit" in single:
        try:
            out["limit"] = int(single["limit"])
        except ValueError:
            raise BadRequest("limit must be a whole number") from None
        if not 1 <= out["limit"] <= MAX_LIMIT:
            raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    return out


class SinkStatusCollector(Collector):
    """Exports every numeric field of each sink's status as `edge_sink_status_<field>{sink="..."}`.

    That is how the MQTT outbox backlog, deliveries, drops and connection state reach /metrics without
    the sinks knowing about Prometheus.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            sinks = self.app.health().get("sinks", {})
        except Exception as exc:  # noqa: BLE001 (a scrape must not fail because one app part did)
            log.error("collecting sink status for /metrics failed: %s", exc)
            return []
        families: dict[str, GaugeMetricFamily] = {}
        for sink_name, status in sorted(sinks.items()):
            for field, value in sorted(status.items()):
                if isinstance(value, bool):
                    value = int(value)
                if not isinstance(value, (int, float)) or not re.fullmatch(r"[a-z_][a-z0-9_]*", field):
                    continue
                name = f"edge_sink_status_{field}"  # own prefix: never collides with the app's edge_sink_*
                if name not in families:
                    families[name] = GaugeMetricFamily(name, f"sink status field '{field}'", labels=["sink"])
                families[name].add_metric([sink_name], float(value))
        return list(families.values())

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []  # dynamic: no up-front description, so registering never calls health() early


class HttpServer:
    def __init__(self, cfg: HttpSinkConfig, app: Any) -> None:
        self.cfg = cfg
        self.app = app
        self.port: int | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._collector: SinkStatusCollector | None = None

    def start(self) -> None:
        handler = _make_handler(self.app, self.cfg.token)
        try:
            self._server = ThreadingHTTPServer((self.cfg.host, self.cfg.port), handler)
        except OSError as exc:
            raise SinkError(
                f"cannot listen on http://{self.cfg.host}:{self.cfg.port} ({exc.strerror}); "
                "pick another sinks.http.port or stop what uses it"
            ) from None
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        registry = getattr(self.app, "registry", None)
        if registry is not None:
            self._collector = SinkStatusCollector(self.app)
            registry.register(self._collector)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="http", daemon=True
        )
        self._thread.start()
        log.info("HTTP endpoint on http://%s:%d (/healthz /metrics /events /snapshots)", self.cfg.host, self.port)
        if not self.cfg.token and self.cfg.host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("the HTTP endpoint listens on %s without a token: anyone on the network can read events "
                        "and snapshots; set sinks.http.token", self.cfg.host)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._collector is not None:
            try:
                self.app.registry.unregister(self._collector)
            except KeyError:
                pass
            self._collector = None


def _make_handler(app: Any, token: str | None) -> type[BaseHTTPRequestHandler]:
    expected = f"Bearer {token}".encode() if token else None

    class Handler(BaseHTTPRequestHandler):
        server_version = "edge"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._handle(send_body=True)

        def do_HEAD(self) -> None:
            self._handle(send_body=False)

        def _refuse_method(self) -> None:
            self._send_json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "read-only endpoint: use GET"}, {"Allow": "GET, HEAD"})

        do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method

        def _handle(self, send_body: bool) -> None:
            self._send_body = send_body
            try:
                if expected is not None and not self._authorized():
                    self._send_json(HTTPStatus.UNAUTHORIZED, {"error": "missing or wrong bearer token"},
                                    {"WWW-Authenticate": 'Bearer realm="edge"'})
                    return
                self._route()
            except BadRequest as exc:
                self._send_json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            except Exception as exc:  # the app failed; say so, keep serving
                log.exception("HTTP %s failed", self.path)
                self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{exc.__class__.__name__}: {exc}"})

        def _authorized(self) -> bool:
            given = (self.headers.get("Authorization") or "").encode("utf-8", "replace")
            return hmac.compare_digest(given, expected)

        def _route(self) -> None:
            parts = urlsplit(self.path)
            path = parts.path
            if path == "/healthz" and not parts.query:
                health = app.health()
                code = HTTPStatus.OK if health.get("healthy") else HTTPStatus.SERVICE_UNAVAILABLE
                self._send_json(code, health)
            elif path == "/metrics" and not parts.query:
                self._send(HTTPStatus.OK, CONTENT_TYPE_LATEST, generate_latest(app.registry))
            elif path == "/events":
                self._events(parts.query)
            elif path.startswith("/snapshots/"):
                self._snapshot(path)
            elif path in ("/", "") and not parts.query:
                self._send_json(HTTPStatus.OK, {"endpoints": ["/healthz", "/metrics", "/events", "/snapshots/<id>.jpg"]})
            elif path in ("/healthz", "/metrics"):
                raise BadRequest(f"{path} takes no parameters")
            else:
                self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {path[:100]!r}"})

        def _events(self, query: str) -> None:
            args = parse_event_query(query)
            store = getattr(app, "store", None)
            if store is None:
                self._send_json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "the event store is disabled (sinks.sqlite)"})
                return
            events = store.query(**args)
            self._send_json(HTTPStatus.OK, {"count": len(events), "events": events})

        def _snapshot(self, path: str) -> None:
            match = SNAPSHOT_PATH.match(path)
            if not match:
                raise BadRequest("snapshot paths look like /snapshots/<32 hex digit event id>.jpg")
            file = app.snapshot_path(match.group(1))
            if file is None or not file.is_file():
                self._send_json(HTTPStatus.NOT_FOUND, {"error": "no snapshot for that event (never taken or pruned)"})
                return
            data = file.read_bytes()[: MAX_SNAPSHOT_BYTES + 1]
            if len(data) > MAX_SNAPSHOT_BYTES:
                raise RuntimeError("snapshot file is implausibly large")
            self._send(HTTPStatus.OK, "image/jpeg", data)

        def _send_json(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
            if code >= 400:
                self.close_connection = True  # e.g. an unread request body must not become the next request
            self._send(code, "application/json", json.dumps(body, default=str).encode(), headers)

        def _send(self, code: int, content_type: str, data: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if getattr(self, "_send_body", True):
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http %s - %s", self.address_string(), format % args)

    return Handler

