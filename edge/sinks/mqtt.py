"""MQTT sink for fleets: store-and-forward through a durable outbox.

`write` only appends the event to the SQLite outbox (fast, durable) and returns; one background thread
owns the paho client and does everything network-related: connect with backoff, publish the outbox in
order, delete rows only when the broker acknowledged them (PUBACK for QoS 1), publish status and metrics.
Because one thread runs the paho loop, all callbacks run on that thread and need no locking.

Topics (prefix `edge` by default):
  <prefix>/<device_id>/events   each event as JSON (QoS from config, 1 by default), in order, at least once
  <prefix>/<device_id>/status   retained "online"; "offline" as the last will and on a clean stop
  <prefix>/<device_id>/metrics  JSON snapshots every metrics_interval_s (QoS 0, not kept when offline)

Delivery is at least once: a connection lost after the broker got a message but before its PUBACK arrived
means the message is sent again, so subscribers de-duplicate by the event `id`.
"""

from __future__ import annotations

import json
import logging
import queue
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from edge.config import MqttSinkConfig
from edge.errors import SinkError
from edge.events import Event
from edge.sinks.base import Sink
from edge.sinks.outbox import Outbox

log = logging.getLogger(__name__)

ONLINE = "online"
OFFLINE = "offline"
_FORBIDDEN_TOPIC_CHARS = set("+#\0")


def parse_broker_url(url: str) -> tuple[str, int, bool, str | None, str | None]:
    """mqtt[s]://[user[:password]@]host[:port] -> (host, port, tls, user, password)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise SinkError(f"MQTT url {url!r} is not valid ({exc}); use mqtt://host:1883 or mqtts://host:8883") from None
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise SinkError(f"MQTT url {url!r} is not valid; use mqtt://host:1883 or mqtts://host:8883")
    tls = parts.scheme == "mqtts"
    return parts.hostname, port or (8883 if tls else 1883), tls, parts.username, parts.password


def _check_topic_part(what: str, value: str) -> None:
    if not value or _FORBIDDEN_TOPIC_CHARS & set(value) or value.startswith("/") or value.endswith("/"):
        raise SinkError(
            f"{what} {value!r} cannot be used in an MQTT topic; use letters, digits, '-', '_' "
            "(set EDGE_DEVICE_ID or device_id / sinks.mqtt.topic_prefix in the config)"
        )


class MqttSink(Sink):
    name = "mqtt"

    def __init__(
        self,
        cfg: MqttSinkConfig,
        device_id: str,
        outbox_path: Path,
        *,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        window: int = 100,
        flush_timeout_s: float = 5.0,
    ) -> None:
        _check_topic_part("device_id", device_id)
        _check_topic_part("topic_prefix", cfg.topic_prefix)
        self.cfg = cfg
        self.device_id = device_id
        self.host, self.port, self.tls, url_user, url_password = parse_broker_url(cfg.url)
        base = f"{cfg.topic_prefix}/{device_id}"
        self.topic_events, self.topic_status, self.topic_metrics = f"{base}/events", f"{base}/status", f"{base}/metrics"
        self.reconnect_min_s, self.reconnect_max_s = reconnect_min_s, reconnect_max_s
        self.window = window
        self.flush_timeout_s = flush_timeout_s
        # Called every metrics_interval_s while connected; its dict is merged into the metrics message.
        self.metrics_source: Callable[[], dict] | None = None

        self.connected = False
        self.delivered = 0
        self.connects = 0
        self.last_error: str | None = None
        self._inflight: dict[int, int] = {}  # paho mid -> outbox seq
        self._last_sent_seq = 0
        self._metrics_queue: queue.Queue[dict] = queue.Queue(maxsize=16)
        self._stop = threading.Event()
        self._connecting_since: float | None = None
        self._backoff = reconnect_min_s
        self._acked: list[int] = []  # outbox seqs acknowledged in the current loop turn

        self._client = self._make_client(cfg.username or url_user, cfg.password or url_password)
        self.outbox = Outbox(outbox_path, cfg.outbox_max_events)
        self._thread = threading.Thread(target=self._run, name="sink-mqtt-client", daemon=True)
        self._thread.start()

    # ---- the sink interface (called from the sink runner's thread) --------------------------------------

    def write(self, event: Event) -> None:
        payload = event.to_dict()
        payload["device_id"] = self.device_id
        self.outbox.append(event.id, json.dumps(payload, separators=(",", ":"), allow_nan=False))

    def publish_metrics(self, metrics: dict) -> bool:
        """Queue a metrics message for the next loop turn; False (not sent) while offline or backed up."""
        if not self.connected:
            return False
        try:
            self._metrics_queue.put_nowait(metrics)
            return True
        except queue.Full:
            return False

    def status(self) -> dict:
        return {
            "connected": self.connected,
            "broker": f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}",
            "backlog": len(self.outbox),
            "in_flight": len(self._inflight),
            "delivered": self.delivered,
            "outbox_dropped": self.outbox.dropped,
            "connects": self.connects,
            "last_error": self.last_error,
        }

    def close(self) -> None:
        """Try to deliver the backlog for up to flush_timeout_s, say "offline", disconnect; the rest stays queued."""
        self._stop.set()
        self._thread.join(timeout=self.flush_timeout_s + 10)
        if self._thread.is_alive():
            log.error("MQTT client thread did not stop; %d events stay in the outbox", len(self.outbox))
        self.outbox.close()

    # ---- paho client set-up ------------------------------------------------------------------------------

    def _make_client(self, username: str | None, password: str | None) -> paho.Client:
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"edge-{self.device_id}",
            clean_session=True,
            protocol=paho.MQTTv311,
        )
        client.max_inflight_messages_set(self.window)
        if username:
            client.username_pw_set(username, password)
        if self.tls or self.cfg.ca_file or self.cfg.cert_file:
            self._set_tls(client)
        client.will_set(self.topic_status, OFFLINE, qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.connect_async(self.host, self.port, keepalive=self.cfg.keepalive_s)
        return client

    def _set_tls(self, client: paho.Client) -> None:
        cfg = self.cfg
        for key in ("ca_file", "cert_file", "key_file"):
            path = getattr(cfg, key)
            if path is not None and not Path(path).is_file():
                raise SinkError(f"sinks.mqtt.{key} {path} does not exist or is not a file; fix the path")
        if (cfg.cert_file is None) != (cfg.key_file is None):
            raise SinkError("sinks.mqtt.cert_file and key_file go together (client certificate); set both or neither")
        try:
            client.tls_set(
                ca_certs=str(cfg.ca_file) if cfg.ca_file else None,
                certfile=str(cfg.cert_file) if cfg.cert_file else None,
                keyfile=str(cfg.key_file) if cfg.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise SinkError(f"cannot set up TLS for MQTT from sinks.mqtt ca_file/cert_file/key_file: {exc}") from None

    # ---- callbacks (run on the client thread, inside loop()) --------------------------------------------

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._connecting_since = None
        if reason.is_failure:
            self._fail(f"broker {self.host}:{self.port} refused the connection: {reason} (check username/password)")
            return
        self.connected = True
        self.connects += 1
        self.last_error = None
        self._backoff = self.reconnect_min_s
        client.publish(self.topic_status, ONLINE, qos=1, retain=True)
        log.info("MQTT connected to %s:%d; %d events waiting in the outbox", self.host, self.port, len(self.outbox))

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self.connected:
            log.warning("MQTT connection to %s:%d lost (%s); events wait in the outbox", self.host, self.port, reason)
        self.connected = False

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        seq = self._inflight.pop(mid, None)
        if seq is not None:
            self._acked.append(seq)

    # ---- the client thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        next_metrics = time.monotonic() + self.cfg.metrics_interval_s
        try:
            while not self._stop.is_set():
                idle = not self.connected and self._connecting_since is None
                if idle and not self._connect():
                    self._stop.wait(self._backoff)
                    self._backoff = min(self._backoff * 2, self.reconnect_max_s)
                    continue
                self._loop_once()
                if self.connected:
                    self._publish_backlog()
                    if time.monotonic() >= next_metrics:
                        next_metrics = time.monotonic() + self.cfg.metrics_interval_s
                        self._publish_periodic_metrics()
                    self._publish_queued_metrics()
            self._shutdown()
        except Exception:  # a bug here must be visible, and must not take the process down
            log.exception("MQTT client thread crashed; events stay in the outbox until restart")
            self.last_error = "client thread crashed (see log)"
            self.connected = False

    def _connect(self) -> bool:
        """Open the TCP/TLS connection and send CONNECT; the CONNACK arrives in a later loop()."""
        try:
            self._client.reconnect()
        except (OSError, ssl.SSLError, ValueError) as exc:
            self._fail(f"cannot reach MQTT broker {self.host}:{self.port}: {exc}")
            return False
        self._connecting_since = time.monotonic()
        return True

    def _fail(self, message: str) -> None:
        if message != self.last_error:
            log.warning("%s; retrying with backoff (events are kept in the outbox)", message)
        self.last_error = message
        self.connected = False
        self._connecting_since = None

    def _loop_once(self, timeout: float = 0.05) -> None:
        rc = self._client.loop(timeout=timeout)
        if self._connecting_since is not None and time.monotonic() - self._connecting_since > 15:
            self._client.disconnect()
            self._fail(f"MQTT broker {self.host}:{self.port} did not answer CONNECT within 15 s")
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS and (self.connected or self._connecting_since is not None):
            self._fail(f"MQTT connection to {self.host}:{self.port} failed: {paho.error_string(rc)}")
            self._stop.wait(self._backoff)
        if self._acked:
            acked, self._acked = self._acked, []
            self.outbox.delete(acked)
            self.delivered += len(acked)

    def _publish_backlog(self) -> None:
        """Hand the next outbox rows to paho, keeping at most `window` unacknowledged.

        paho keeps unacknowledged QoS>0 messages across reconnects and resends them first, in order, so a
        row is handed over once per process; only QoS 0 rows are deleted as soon as they are written.
        """
        room = self.window - len(self._inflight)
        if room <= 0:
            return
        for seq, _event_id, payload in self.outbox.head(self._last_sent_seq, room):
            info = self._client.publish(self.topic_events, payload, qos=self.cfg.qos)
            if self.cfg.qos == 0:
                if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    return
                self._acked.append(seq)
            elif info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                self.last_error = f"publish failed: {paho.error_string(info.rc)}"
                return
            else:
                self._inflight[info.mid] = seq
            self._last_sent_seq = seq

    def _publish_periodic_metrics(self) -> None:
        metrics: dict[str, Any] = {}
        if self.metrics_source is not None:
            try:
                metrics.update(self.metrics_source())
            except Exception as exc:  # noqa: BLE001 (metrics are best effort)
                log.error("collecting metrics for MQTT failed: %s", exc)
        metrics["mqtt"] = self.status()
        self._send_metrics(metrics)

    def _publish_queued_metrics(self) -> None:
        while True:
            try:
                self._send_metrics(self._metrics_queue.get_nowait())
            except queue.Empty:
                return

    def _send_metrics(self, metrics: dict) -> None:
        message = {"device_id": self.device_id, "t_wall": round(time.time(), 3), **metrics}
        try:
            payload = json.dumps(message, separators=(",", ":"), default=str)
        except (TypeError, ValueError) as exc:
            log.error("metrics are not JSON-serialisable, not published: %s", exc)
            return
        self._client.publish(self.topic_metrics, payload, qos=0)

    def _shutdown(self) -> None:
        """Deliver what we can within flush_timeout_s, then a clean "offline" and DISCONNECT."""
        deadline = time.monotonic() + self.flush_timeout_s
        while self.connected and (len(self.outbox) or self._inflight) and time.monotonic() < deadline:
            self._publish_backlog()
            self._loop_once()
        if self.connected:
            info = self._client.publish(self.topic_status, OFFLINE, qos=1, retain=True)
            end = time.monotonic() + 1.0
            while self.connected and not info.is_published() and time.monotonic() < end:
                self._loop_once()
            self.connected = False  # a clean goodbye, not a lost connection
            self._client.disconnect()
            self._client.loop(timeout=0.05)
        self.connected = False
        if len(self.outbox):
            log.warning("MQTT sink stopped with %d undelivered events kept in %s", len(self.outbox), self.outbox.path)
