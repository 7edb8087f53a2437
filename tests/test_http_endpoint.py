"""The HTTP endpoint against a small fake app (health, registry, a real EventStore, snapshots)."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest
from prometheus_client import CollectorRegistry, Histogram

from edge.config import HttpSinkConfig
from edge.errors import SinkError
from edge.events import Event
from edge.service.http import BadRequest, HttpServer, parse_event_query
from edge.sinks.store import EventStore

JPEG = b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"


class FakeApp:
    """Provides what HttpServer uses. snapshot_path is deliberately naive: the server must validate ids."""

    def __init__(self, tmp_path):
        self.registry = CollectorRegistry()
        latency = Histogram("edge_stage_latency_seconds", "per-stage latency", ["stage"], registry=self.registry)
        latency.labels("ocr").observe(0.012)
        self.healthy = True
        self.fail = False
        self.store = EventStore(tmp_path / "events.db")
        self.snap_dir = tmp_path / "state" / "snapshots"
        self.snap_dir.mkdir(parents=True)
        (tmp_path / "state" / "secret.jpg").write_bytes(b"TOP SECRET")

    def health(self) -> dict:
        if self.fail:
            raise RuntimeError("pipeline object is gone")
        return {
            "healthy": self.healthy,
            "reasons": [] if self.healthy else ["source camera0 is reconnecting"],
            "sources": {"camera0": {"state": "running" if self.healthy else "reconnecting", "fps": 12.0}},
            "stages": {"ocr": {"healthy": True, "processed": 10}},
            "sinks": {"mqtt": {"healthy": True, "connected": False, "backlog": 7, "delivered": 3,
                               "last_error": "cannot reach", "broker": "mqtt://127.0.0.1:1883"}},
        }

    def snapshot_path(self, event_id: str):
        path = self.snap_dir / f"{event_id}.jpg"
        return path if path.exists() else None


@pytest.fixture
def app(tmp_path):
    fake = FakeApp(tmp_path)
    yield fake
    fake.store.close()


def serve(app, token=None) -> HttpServer:
    server = HttpServer(HttpSinkConfig(enabled=True, port=0, token=token), app)
    server.start()
    return server


@pytest.fixture
def server(app):
    s = serve(app)
    yield s
    s.stop()


def get(server, path, method="GET", headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, response.getheader("Content-Type"), data


def test_healthz(server, app):
    status, ctype, body = get(server, "/healthz")
    assert status == 200 and ctype == "application/json"
    assert json.loads(body)["sources"]["camera0"]["fps"] == 12.0
    app.healthy = False
    status, _, body = get(server, "/healthz")
    assert status == 503 and json.loads(body)["reasons"] == ["source camera0 is reconnecting"]


def test_metrics_include_app_registry_and_sink_status(server):
    status, ctype, body = get(server, "/metrics")
    text = body.decode()
    assert status == 200 and ctype.startswith("text/plain")
    assert 'edge_stage_latency_seconds_bucket{le="0.025",stage="ocr"} 1.0' in text
    assert 'edge_sink_status_backlog{sink="mqtt"} 7.0' in text
    assert 'edge_sink_status_connected{sink="mqtt"} 0.0' in text
    assert 'edge_sink_status_delivered{sink="mqtt"} 3.0' in text
    assert "last_error" not in text and "broker" not in text  # only numbers become metrics


def test_events_query(server, app):
    now = time.time()
    events = [
        Event(kind="ocr", source_id="camera0", data={"text": "SN001"}, t_wall=now - 120),
        Event(kind="speech", source_id="mic0", data={"text": "next"}, t_wall=now - 60),
        Event(kind="ocr", source_id="camera0", data={"text": "SN002"}, t_wall=now - 1),
    ]
    for event in events:
        app.store.append(event)
    status, _, body = get(server, "/events")
    got = json.loads(body)
    assert status == 200 and got["count"] == 3 and [e["id"] for e in got["events"]] == [e.id for e in events]
    assert [e["id"] for e in json.loads(get(server, "/events?kind=ocr")[2])["events"]] == [events[0].id, events[2].id]
    assert json.loads(get(server, f"/events?since={now - 90}")[2])["count"] == 2
    assert json.loads(get(server, "/events?since=30s")[2])["count"] == 1
    assert json.loads(get(server, "/events?limit=1")[2])["events"][0]["id"] == events[0].id
    assert json.loads(get(server, "/events?text=SN00&kind=ocr")[2])["count"] == 2


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=abc", "limit=100001", "since=yesterday", "since=nan", "since=inf", "until=1e999",
     "kind=../../etc", "kind=" + "a" * 65, "bogus=1", "limit=1&limit=2", "since", "a=1&&b", "text=" + "x" * 201,
     "since=9999999-01-01"],
)
def test_bad_event_queries_are_400(server, query):
    status, _, body = get(server, "/events?" + query)
    assert status == 400, body
    assert json.loads(body)["error"]


def test_snapshots_and_traversal(server, app, tmp_path):
    event_id = "0" * 12 + "ab" * 10
    (app.snap_dir / f"{event_id}.jpg").write_bytes(JPEG)
    status, ctype, body = get(server, f"/snapshots/{event_id}.jpg")
    assert (status, ctype, body) == (200, "image/jpeg", JPEG)
    assert get(server, f"/snapshots/{'1' * 32}.jpg")[0] == 404
    attacks = [
        "/snapshots/../secret.jpg", "/snapshots/..%2fsecret.jpg", "/snapshots/%2e%2e/secret.jpg",
        "/snapshots/....//secret.jpg", "/snapshots/" + "A" * 32 + ".jpg", "/snapshots/x.jpg",
        "/snapshots/" + event_id + ".jpg/..", "/snapshots/" + event_id + ".JPG", "/snapshots/%00.jpg",
        "/snapshots/" + event_id + ".jpg%00", "/snapshots/", "//etc/passwd", "/../../etc/passwd",
    ]
    for path in attacks:
        status, _, body = get(server, path)
        assert status in (400, 404), path
        assert b"SECRET" not in body


def test_bearer_token(app):
    server = serve(app, token="t0ken")
    try:
        assert get(server, "/healthz")[0] == 401
        assert get(server, "/metrics", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert get(server, "/events", headers={"Authorization": "t0ken"})[0] == 401
        assert get(server, "/healthz", headers={"Authorization": "Bearer t0ken"})[0] == 200
    finally:
        server.stop()


def test_methods_unknown_paths_and_failures_never_kill_the_server(server, app):
    assert get(server, "/healthz", method="POST", body=b"x" * 10)[0] == 405
    assert get(server, "/healthz", method="DELETE")[0] == 405
    assert get(server, "/nope")[0] == 404
    assert get(server, "/healthz?verbose=1")[0] == 400
    status, _, body = get(server, "/healthz", method="HEAD")
    assert status == 200 and body == b""
    app.fail = True
    status, _, body = get(server, "/healthz")
    assert status == 500 and "pipeline object is gone" in json.loads(body)["error"]
    app.fail = False
    # garbage on the socket: a 400 from the stdlib parser, and the server still answers afterwards
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"\x16\x03\x01 garbage that is not HTTP\r\n\r\n")
        assert b" 400 " in raw.recv(1000)
    assert get(server, "/healthz")[0] == 200


def test_store_disabled_is_503(tmp_path):
    app = FakeApp(tmp_path)
    app.store.close()
    app.store = None
    server = serve(app)
    try:
        assert get(server, "/events")[0] == 503
    finally:
        server.stop()


def test_port_in_use_is_a_clear_error(app, server):
    with pytest.raises(SinkError, match="cannot listen on http://127.0.0.1:.*pick another sinks.http.port"):
        HttpServer(HttpSinkConfig(enabled=True, port=server.port), app).start()


def test_stop_unregisters_the_collector(app):
    for _ in range(2):  # a reload that restarts the server must not fail with "duplicated timeseries"
        server = serve(app)
        server.stop()


def test_parse_event_query_defaults():
    assert parse_event_query("") == {"since": None, "until": None, "kind": None, "text": None, "limit": 100}
    with pytest.raises(BadRequest):
        parse_event_query("limit=-1")
