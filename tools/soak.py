"""Soak benchmark: run `edge run` for a long time and check it neither leaks nor loses events.

    python tools/soak.py --minutes 30                 # the demo media, looped at full speed
    python tools/soak.py --minutes 10 --synthetic 30  # a synthetic 1-event-per-frame stage at 30 fps
                                                      # (tests/faults/harness.py; works before models exist)

Every --sample-s it records the process's RSS, open file descriptors and threads (from /proc) and the
event counter from /metrics. After --warmup-minutes, RSS growth = median RSS of the last --rss-window-s minus
the median of the first (plus the least-squares slope over the whole run); at the end edge is
stopped with SIGTERM and the store, the JSON-lines file and (with mosquitto installed) an MQTT subscriber
must all hold the same events. Pass criteria (issue 6): RSS growth < 5 MB after warm-up, no fd or thread
growth, zero lost events. Not part of CI; results go to docs/BENCHMARKS.md ("Service").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "edge" / "demo"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_broker(folder: Path) -> tuple[subprocess.Popen, int] | None:
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None)
    if binary is None:
        return None
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser {os.environ.get('USER') or 'root'}\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    return None


class Collector:
    """Counts unique event ids arriving on edge/<device>/events."""

    def __init__(self, port: int, device: str) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.ids: set[str] = set()
        self.messages = 0
        self.lock = threading.Lock()
        self.client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="soak", clean_session=False)
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(f"edge/{device}/events", qos=1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        event_id = json.loads(message.payload)["id"]
        with self.lock:
            self.messages += 1
            self.ids.add(event_id)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def proc_sample(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
    return {"rss_mb": round(rss_kb / 1024, 2), "threads": threads, "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def rss_trend(samples: list[dict], window_s: float) -> dict:
    """RSS growth = median of the last window minus median of the first window after warm-up, plus the
    least-squares slope. Single samples swing by ~10 MB with how many frames happen to be in flight, so a
    first-sample-to-last-sample difference measures that swing, not a leak."""
    t0, t1 = samples[0]["t_s"], samples[-1]["t_s"]
    start = statistics.median(s["rss_mb"] for s in samples if s["t_s"] <= t0 + window_s)
    end = statistics.median(s["rss_mb"] for s in samples if s["t_s"] >= t1 - window_s)
    times, rss = [s["t_s"] for s in samples], [s["rss_mb"] for s in samples]
    slope = statistics.linear_regression(times, rss).slope if len(set(times)) > 1 else 0.0
    return {"after_warmup": round(start, 2), "end": round(end, 2), "growth": round(end - start, 2),
            "slope_mb_per_10min": round(slope * 600, 2)}


def scrape(port: int) -> tuple[float, dict]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    events = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("edge_events_total{"))
    try:
        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10).read())
    except urllib.error.HTTPError as exc:  # 503 still carries the JSON body
        health = json.loads(exc.read())
    return events, health


def write_config(work: Path, synthetic_fps: float | None, mqtt_port: int | None) -> Path:
    if synthetic_fps:
        frames = work / "frames"
        sys.path.insert(0, str(REPO / "tests" / "faults"))
        from edge_process import write_frames, write_tick_model

        write_frames(frames, 50)
        write_tick_model(work / "models", "1")
        config = {"camera": {"source": str(frames), "fps": synthetic_fps, "realtime": True, "loop": True,
                             "queue_size": 50},
                  "microphone": {"enabled": False}, "models": {"dir": str(work / "models")}}
    else:
        config = yaml.safe_load((DEMO / "demo.yaml").read_text())
        config["camera"].update(source=str(DEMO / config["camera"]["source"]), realtime=False, loop=True)
        config["microphone"]["device"] = str(DEMO / config["microphone"]["device"])
        from edge.runtime import load_manifest

        manifest = load_manifest()
        for name in ("ocr", "speech", "fusion"):  # like `edge run --demo`: run with the models that exist
            if not manifest.has(name, "int8"):
                print(f"note: no {name} model installed; its stage is off in this soak", flush=True)
                config[name] = {**(config.get(name) or {}), "enabled": False}
    config.update(device_id="soak", state_dir=str(work / "state"))
    config["sinks"] = {
        "console": {"enabled": False},
        "jsonl": {"enabled": True, "max_bytes": 2_000_000_000},
        "http": {"enabled": True, "port": 0},
        "mqtt": {"enabled": mqtt_port is not None, "url": f"mqtt://127.0.0.1:{mqtt_port or 1}",
                 "metrics_interval_s": 10},
    }
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    # the demo reaches its plateau after ~5 min (snapshot index, SQLite caches, stats windows fill up)
    parser.add_argument("--warmup-minutes", type=float, default=5.0)
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--rss-window-s", type=float, default=120.0,
                        help="RSS at the start and at the end = median of the samples in this window")
    parser.add_argument("--synthetic", type=float, metavar="FPS", default=None,
                        help="use the synthetic tick stage at this frame rate instead of the demo models")
    parser.add_argument("--json", type=Path, help="write the full result here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    # stopping the soak must stop edge and the broker too (the `finally` below runs on SystemExit)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    work = Path(tempfile.mkdtemp(prefix="edge-soak-"))
    broker = start_broker(work)
    collector = Collector(broker[1], "soak") if broker else None
    config = write_config(work, args.synthetic, broker[1] if broker else None)
    command = [sys.executable, str(REPO / "tests/faults/harness.py")] if args.synthetic else [sys.executable, "-m", "edge"]
    log_path = work / "edge.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDGE_", "NOTIFY_SOCKET", "WATCHDOG_"))}
    env["PYTHONPATH"] = str(REPO)
    env.setdefault("MALLOC_ARENA_MAX", "2")  # as systemd/edge.service runs it
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command + ["run", "-c", str(config)], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        port = None
        for _ in range(600):
            match = re.search(r"HTTP endpoint on http://127\.0\.0\.1:(\d+)", log_path.read_text(errors="replace"))
            if match:
                port = int(match.group(1))
                break
            if proc.poll() is not None:
                raise SystemExit(f"edge exited early:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        if port is None:
            raise SystemExit("edge never opened its HTTP endpoint")
        samples = []
        start = time.monotonic()
        end = start + args.minutes * 60
        while time.monotonic() < end and proc.poll() is None:
            process = proc_sample(proc.pid)  # before the scrape: its handler thread and socket are not ours
            events, _ = scrape(port)
            sample = {"t_s": round(time.monotonic() - start, 1), "events": events, **process}
            samples.append(sample)
            print(json.dumps(sample), flush=True)
            time.sleep(min(args.sample_s, max(0.0, end - time.monotonic())))
        final_proc = proc_sample(proc.pid)
        final_events, final_health = scrape(port)
        proc.send_signal(signal.SIGTERM)
        exit_code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        if sys.exc_info()[0] is not None and broker:
            broker[0].kill()
    time.sleep(2)  # the subscriber receives the last flushed messages

    db = sqlite3.connect(work / "state" / "events.db")
    stored = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    db.close()
    jsonl_lines = sum(f.read_bytes().count(b"\n") for f in (work / "state").glob("events.jsonl*"))
    outbox_left = None
    if (work / "state" / "outbox.db").exists():
        db = sqlite3.connect(work / "state" / "outbox.db")
        outbox_left = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        db.close()
    sink_drops = {name: s.get("dropped", 0) for name, s in final_health.get("sinks", {}).items()}
    warm = [s for s in samples if s["t_s"] >= args.warmup_minutes * 60] or samples[-1:]
    base, last = warm[0], {**final_proc}
    rss = rss_trend(warm, window_s=args.rss_window_s)
    result = {
        "minutes": args.minutes, "mode": f"synthetic {args.synthetic} fps" if args.synthetic else "demo, full speed",
        "exit_code": exit_code, "events_counted": final_events, "events_stored": stored, "jsonl_lines": jsonl_lines,
        "mqtt_unique_delivered": len(collector.ids) if collector else None,
        "mqtt_messages": collector.messages if collector else None, "outbox_left": outbox_left,
        "sink_drops": sink_drops,
        "rss_mb": {**rss, "first_sample": base["rss_mb"], "last_sample": last["rss_mb"],
                   "max": max(s["rss_mb"] for s in samples + [last])},
        "fds": {"after_warmup": base["fds"], "end": last["fds"]},
        "threads": {"after_warmup": base["threads"], "end": last["threads"]},
    }
    lost = stored < final_events or jsonl_lines != stored or any(sink_drops.values()) or (
        collector is not None and len(collector.ids) + (outbox_left or 0) < stored)
    result["pass"] = bool(
        exit_code == 0 and not lost and result["rss_mb"]["growth"] < 5
        and last["fds"] <= base["fds"] and last["threads"] <= base["threads"]
    )
    result["samples"] = samples
    if collector:
        collector.close()
    if broker:
        broker[0].terminate()
        broker[0].wait()
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    if args.keep:
        print(f"work folder: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
