"""Service benchmarks: the MQTT store-and-forward path against a local mosquitto.

    python tools/bench_service.py [--events 2000] [--json]

1. write() latency of the MQTT sink (a durable SQLite outbox append, WAL + synchronous=FULL), p50/p99;
2. live throughput: events written back to back until a subscriber has them all;
3. outage drain: events queued while the broker is down, then the time from broker start until all
   arrived. Each phase checks that every id arrived, in order.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from mosquitto import Broker, Subscriber

from edge.config import MqttSinkConfig
from edge.events import Event
from edge.sinks.mqtt import MqttSink

TOPIC = "edge/bench/events"


def events(n: int) -> list[Event]:
    return [Event(kind="ocr", source_id="camera0", data={"text": f"SN{i:06d}", "confidence": 0.97}) for i in range(n)]


def ids_received(sub: Subscriber) -> list[str]:
    return list(dict.fromkeys(json.loads(p)["id"] for p in sub.on(TOPIC)))


def wait_all(sub: Subscriber, n: int, timeout: float = 300) -> float:
    start = time.perf_counter()
    sub.wait_for(lambda s: len(s.on(TOPIC)) >= n, timeout)
    return time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="edge-bench-service-"))
    broker = Broker(work / "broker").start()
    result: dict = {"events": args.events}
    try:
        # 1 + 2: live
        sub = Subscriber(broker.port, TOPIC)
        sink = MqttSink(MqttSinkConfig(enabled=True, url=broker.url), "bench", work / "live.db",
                        reconnect_min_s=0.05, reconnect_max_s=0.5)
        while not sink.status()["connected"]:
            time.sleep(0.01)
        batch = events(args.events)
        latencies = []
        start = time.perf_counter()
        for event in batch:
            t0 = time.perf_counter()
            sink.write(event)
            latencies.append((time.perf_counter() - t0) * 1000)
        wait_all(sub, args.events)
        elapsed = time.perf_counter() - start
        assert ids_received(sub) == [e.id for e in batch], "live: ids missing or out of order"
        result["write_ms_p50"] = round(percentile(latencies, 50), 3)
        result["write_ms_p99"] = round(percentile(latencies, 99), 3)
        result["live_events_per_s"] = round(args.events / elapsed, 1)
        sink.close()
        sub.close()

        # 3: outage, then drain
        sub = Subscriber(broker.port, TOPIC)
        broker.stop()
        sink = MqttSink(MqttSinkConfig(enabled=True, url=broker.url), "bench", work / "outage.db",
                        reconnect_min_s=0.05, reconnect_max_s=0.5)
        batch = events(args.events)
        for event in batch:
            sink.write(event)
        assert sink.status()["backlog"] == args.events
        broker.start()
        drain = wait_all(sub, args.events)
        assert ids_received(sub) == [e.id for e in batch], "outage: ids missing or out of order"
        result["outage_drain_s"] = round(drain, 2)
        result["outage_drain_events_per_s"] = round(args.events / drain, 1)
        sink.close()
        sub.close()
    finally:
        broker.stop()
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
