"""MQTT sink against a real Mosquitto broker on a free loopback port (see tests/mosquitto.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mosquitto import Broker, Subscriber, require_mosquitto, require_tool

from edge.config import MqttSinkConfig
from edge.errors import SinkError
from edge.events import Event
from edge.sinks.mqtt import MqttSink

REPO = Path(__file__).resolve().parents[1]
DEVICE = "box-7"
EVENTS = f"edge/{DEVICE}/events"
STATUS = f"edge/{DEVICE}/status"
METRICS = f"edge/{DEVICE}/metrics"


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def subscriber(broker):
    sub = Subscriber(broker.port, f"edge/{DEVICE}/#")
    yield sub
    sub.close()


def make_sink(tmp_path: Path, url: str, **cfg) -> MqttSink:
    config = MqttSinkConfig(enabled=True, url=url, **cfg)
    return MqttSink(config, DEVICE, tmp_path / "outbox.db", reconnect_min_s=0.05, reconnect_max_s=0.3)


def make_events(n: int, start: int = 0) -> list[Event]:
    return [Event(kind="ocr", source_id="camera0", data={"text": f"SN{start + i:05d}", "n": start + i}) for i in range(n)]


def received_ids(sub: Subscriber) -> list[str]:
    return [json.loads(p)["id"] for p in sub.on(EVENTS)]


def wait_until(predicate, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_events_written_while_broker_down_arrive_in_order_once(tmp_path, broker, subscriber):
    broker.stop()  # the subscriber's persistent session survives the restart
    sink = make_sink(tmp_path, broker.url)
    events = make_events(50)
    for event in events:
        sink.write(event)
    time.sleep(0.3)
    status = sink.status()
    assert status["connected"] is False and status["backlog"] == 50 and status["last_error"]

    broker.start()
    assert subscriber.wait_for(lambda s: len(s.on(EVENTS)) >= 50, timeout=15), sink.status()
    assert received_ids(subscriber) == [e.id for e in events]
    assert wait_until(lambda: sink.status()["backlog"] == 0)
    assert sink.status()["delivered"] == 50 and sink.status()["connected"] is True
    first = json.loads(subscriber.on(EVENTS)[0])
    assert first["device_id"] == DEVICE and first["data"]["text"] == "SN00000" and first["kind"] == "ocr"
    assert b"online" in subscriber.on(STATUS)
    sink.close()


def test_broker_restart_mid_stream_loses_nothing(tmp_path, broker, subscriber):
    sink = make_sink(tmp_path, broker.url)
    assert wait_until(lambda: sink.status()["connected"])
    events = make_events(90)
    for event in events[:30]:
        sink.write(event)
    assert subscriber.wait_for(lambda s: len(s.on(EVENTS)) >= 30)
    broker.stop()
    for event in events[30:60]:
        sink.write(event)
    broker.start()
    for event in events[60:]:
        sink.write(event)
    assert subscriber.wait_for(lambda s: len(set(received_ids(s))) >= 90, timeout=15), sink.status()
    ids = received_ids(subscriber)
    first_seen = list(dict.fromkeys(ids))  # at-least-once: de-duplicate by id, as subscribers do
    assert first_seen == [e.id for e in events]
    assert wait_until(lambda: sink.status()["backlog"] == 0)
    assert sink.status()["connects"] >= 2
    sink.close()


def test_outbox_survives_a_restart_of_the_sink(tmp_path, broker, subscriber):
    broker.stop()
    first = make_sink(tmp_path, broker.url)
    events = make_events(10)
    for event in events:
        first.write(event)
    first.close()  # e.g. the service stopped while the network was down

    broker.start()
    second = make_sink(tmp_path, broker.url)
    assert second.status()["backlog"] == 10
    assert subscriber.wait_for(lambda s: len(s.on(EVENTS)) >= 10)
    assert received_ids(subscriber) == [e.id for e in events]
    second.close()
    assert len(subscriber.on(EVENTS)) == 10


def test_clean_close_flushes_and_says_offline(tmp_path, broker, subscriber):
    sink = make_sink(tmp_path, broker.url)
    events = make_events(20)
    for event in events:
        sink.write(event)
    sink.close()
    assert subscriber.wait_for(lambda s: len(s.on(EVENTS)) >= 20 and b"offline" in s.on(STATUS))
    assert received_ids(subscriber) == [e.id for e in events]
    assert subscriber.on(STATUS)[-1] == b"offline"


def test_last_will_offline_when_the_process_dies(tmp_path, broker, subscriber):
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from edge.config import MqttSinkConfig\n"
        "from edge.sinks.mqtt import MqttSink\n"
        f"sink = MqttSink(MqttSinkConfig(enabled=True, url={broker.url!r}, keepalive_s=5), {DEVICE!r}, "
        f"Path({str(tmp_path / 'will.db')!r}))\n"
        "while not sink.status()['connected']: time.sleep(0.02)\n"
        "print('connected', flush=True)\n"
        "time.sleep(60)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout.readline().strip() == b"connected"
        assert subscriber.wait_for(lambda s: b"online" in s.on(STATUS))
        proc.kill()  # no DISCONNECT: the broker must publish the will
        proc.wait()
        assert subscriber.wait_for(lambda s: s.on(STATUS)[-1:] == [b"offline"], timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    late = Subscriber(broker.port, STATUS)  # a subscriber that comes later gets the retained state
    try:
        assert late.wait_for(lambda s: s.messages and s.messages[-1][1:] == (b"offline", True))
    finally:
        late.close()


def test_metrics_messages(tmp_path, broker, subscriber):
    sink = make_sink(tmp_path, broker.url, metrics_interval_s=0.2)
    sink.metrics_source = lambda: {"fps": 12.5}
    assert wait_until(lambda: sink.status()["connected"])
    assert sink.publish_metrics({"manual": True})
    assert subscriber.wait_for(lambda s: len(s.on(METRICS)) >= 2)
    messages = [json.loads(p) for p in subscriber.on(METRICS)]
    assert any(m.get("manual") is True for m in messages)
    periodic = next(m for m in messages if "fps" in m)
    assert periodic["device_id"] == DEVICE and periodic["mqtt"]["connected"] is True
    sink.close()


def test_username_and_password(tmp_path):
    require_mosquitto()
    passwd = require_tool("mosquitto_passwd", "it comes with the mosquitto package")
    password_file = tmp_path / "passwd"
    subprocess.run([passwd, "-b", "-c", str(password_file), "plant", "s3cret"], check=True, capture_output=True)
    password_file.chmod(0o600)
    broker = Broker(tmp_path / "broker", extra_config=f"allow_anonymous false\npassword_file {password_file}").start()
    try:
        wrong = make_sink(tmp_path / "a", broker.url, username="plant", password="nope")
        assert wait_until(lambda: "refused" in (wrong.status()["last_error"] or ""))
        assert not wrong.status()["connected"]
        wrong.close()
        # credentials in the URL work too (EDGE_MQTT_URL=mqtt://user:password@host:port)
        right = make_sink(tmp_path / "b", f"mqtt://plant:s3cret@127.0.0.1:{broker.port}")
        right.write(make_events(1)[0])
        assert wait_until(lambda: right.status()["delivered"] == 1)
        right.close()
    finally:
        broker.stop()


def _make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 / localhost."""
    openssl = require_tool("openssl", "apt-get install openssl")
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = folder / "ca.key", folder / "ca.crt"
    key, csr, crt, ext = folder / "server.key", folder / "server.csr", folder / "server.crt", folder / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    steps = [
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt,
         "-days", "2", "-subj", "/CN=edge-test-ca"],
        [openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        [openssl, "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
         "-out", crt, "-days", "2", "-extfile", ext],
    ]
    for step in steps:
        subprocess.run([str(s) for s in step], check=True, capture_output=True)
    return ca_crt, crt, key


def test_tls_with_a_private_ca(tmp_path):
    ca, crt, key = _make_certificates(tmp_path / "pki")
    broker = Broker(
        tmp_path / "broker", extra_config=f"allow_anonymous true\ncafile {ca}\ncertfile {crt}\nkeyfile {key}"
    ).start()
    try:
        sink = make_sink(tmp_path / "a", f"mqtts://127.0.0.1:{broker.port}", ca_file=ca)
        sink.write(make_events(1)[0])
        assert wait_until(lambda: sink.status()["delivered"] == 1), sink.status()
        sink.close()
        # without our CA the broker's certificate is not trusted: nothing is sent, the event stays queued
        untrusted = make_sink(tmp_path / "b", f"mqtts://127.0.0.1:{broker.port}")
        untrusted.write(make_events(1)[0])
        assert wait_until(lambda: "certificate" in (untrusted.status()["last_error"] or "").lower())
        assert untrusted.status()["backlog"] == 1 and untrusted.status()["delivered"] == 0
        untrusted.close()
    finally:
        broker.stop()


@pytest.mark.parametrize(
    "url, device, message",
    [
        ("mqtt://", DEVICE, "not valid"),
        ("mqtt://host:notaport", DEVICE, "not valid"),
        ("mqtt://127.0.0.1:1883", "a/+", "cannot be used in an MQTT topic"),
        ("mqtt://127.0.0.1:1883", "", "cannot be used in an MQTT topic"),
    ],
)
def test_bad_settings_are_clear_errors(tmp_path, url, device, message):
    config = MqttSinkConfig.model_construct(**{**MqttSinkConfig().model_dump(), "url": url})
    with pytest.raises(SinkError, match=message):
        MqttSink(config, device, tmp_path / "outbox.db")


def test_missing_ca_file_is_a_clear_error(tmp_path):
    config = MqttSinkConfig(url="mqtts://127.0.0.1:8883", ca_file=tmp_path / "nope.crt")
    with pytest.raises(SinkError, match="ca_file .* does not exist"):
        MqttSink(config, DEVICE, tmp_path / "outbox.db")


def test_outbox_cap_is_visible_in_status(tmp_path, caplog):
    # no broker at all: port 1 refuses; the cap (minimum 100) drops the oldest and says so
    sink = make_sink(tmp_path, "mqtt://127.0.0.1:1", outbox_max_events=100)
    events = make_events(105)
    with caplog.at_level("WARNING", logger="edge.sinks.outbox"):
        for event in events:
            sink.write(event)
    status = sink.status()
    assert status["backlog"] == 100 and status["outbox_dropped"] == 5 and not status["connected"]
    assert "MQTT outbox full" in caplog.text
    assert sink.outbox.head(0, 1)[0][1] == events[5].id  # the oldest five went first
    sink.close()
