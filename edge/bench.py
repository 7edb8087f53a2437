"""`edge bench`: latency, throughput and memory of each model and pipeline stage on this machine.

Results are meant to be pasted into docs/BENCHMARKS.md together with the command and the machine; they
are measurements, not pass/fail tests.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from edge.config import load_config
from edge.events import Event, Frame
from edge.pipeline.pipeline import Pipeline
from edge.pipeline.stage import Stage


def _percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = np.array(samples_s) * 1000.0
    return {f"p{q}_ms": round(float(np.percentile(ms, q)), 3) for q in (50, 90, 99)}


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}, Python {platform.python_version()}"


# ---- models --------------------------------------------------------------------------------------------


def example_feeds(session: Any, hints: dict[str, list[int]] | None = None) -> dict[str, np.ndarray]:
    """Inputs of the right dtype and rank; symbolic dims become 1 (batch) or the manifest's bench hint."""
    rng = np.random.default_rng(0)
    feeds = {}
    for name, shape, dtype in session.inputs:
        if hints and name in hints:
            dims = hints[name]
        else:
            dims = [d if isinstance(d, int) and d > 0 else (1 if i == 0 else 128) for i, d in enumerate(shape)]
        dtype = dtype or np.float32
        if np.issubdtype(dtype, np.integer):
            feeds[name] = rng.integers(0, 2, size=dims).astype(dtype)
        else:
            feeds[name] = rng.random(dims, dtype=np.float32).astype(dtype)
    return feeds


def bench_models(config_path: Path | None, iterations: int) -> list[dict]:
    from edge.runtime import ModelSession, load_manifest

    config = load_config(config_path)
    manifest = load_manifest(config.models.dir)
    rows = []
    for model in manifest.all_files():
        model.verify()
        before = rss_mb()
        session = ModelSession(model.path, providers=["cpu"], threads=1, name=model.name)
        feeds = example_feeds(session, model.info.get("bench_inputs"))
        session.warmup(feeds, runs=3)
        times = []
        for _ in range(iterations):
            start = time.perf_counter()
            session.run(feeds)
            times.append(time.perf_counter() - start)
        rows.append({
            "model": model.name, "precision": model.precision, "file_kb": round(model.path.stat().st_size / 1024, 1),
            "input": {k: list(v.shape) for k, v in feeds.items()}, **_percentiles(times),
            "runs_per_s": round(len(times) / sum(times), 1), "rss_added_mb": round(rss_mb() - before, 1),
        })
    return rows


# ---- framework overhead ----------------------------------------------------------------------------------


class _PassThrough(Stage):
    """No model: one small event per frame, so we measure queues, threads and routing only."""

    name = "passthrough"
    consumes = ("frame",)

    def process(self, item: Frame):
        yield Event("passthrough", item.source_id, {"frame_id": item.frame_id}, t_mono=item.t_mono, frame_id=item.frame_id)


def bench_framework(frames: int) -> dict:
    """Per-frame cost of source -> stage -> sink with 640x480 frames and no model."""
    latencies: list[float] = []
    received = []

    def on_event(event: Event) -> None:
        latencies.append(time.monotonic() - event.t_mono)
        received.append(event.id)

    pipeline = Pipeline([_PassThrough()], on_event, frame_inbox=frames + 1)
    pipeline.start()
    image = np.zeros((480, 640, 3), np.uint8)
    cpu0 = time.process_time()
    for i in range(frames):
        pipeline.submit(Frame("bench", i, time.monotonic(), time.time(), image))
        time.sleep(0.002)  # paced like a camera, so we see per-frame latency, not queueing
    pipeline.drain_and_stop(10)
    cpu = time.process_time() - cpu0
    return {
        "frames": frames, "delivered": len(received), **_percentiles(latencies),
        "cpu_ms_per_frame": round(cpu / frames * 1000, 3),
    }


def bench_audio_path(seconds: float = 20.0) -> list[dict]:
    """CPU of the live microphone path (callback + ring buffer + hop cutting + resampling) at real-time pace,
    on a synthetic device delivering 10 ms blocks, for a 16 kHz and a 48 kHz device."""
    from edge.sources.benchmark import audio_path_cpu

    return [audio_path_cpu(seconds, device_rate=rate) for rate in (16000, 48000)]


# ---- whole process ---------------------------------------------------------------------------------------


def bench_process(seconds: float = 8.0) -> dict:
    """Start `edge run --demo` as a user would: time to first frame and resident memory while running."""
    with tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "EDGE_STATE_DIR": state}
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "--demo", "--max-seconds", str(seconds)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        )
        first_frame = None
        peak_rss = 0.0
        assert proc.stderr is not None
        for line in proc.stderr:
            if first_frame is None and "first frame" in line:
                first_frame = time.monotonic() - start
            try:
                with open(f"/proc/{proc.pid}/status") as fh:
                    peak_rss = max(peak_rss, next(int(x.split()[1]) for x in fh if x.startswith("VmRSS")) / 1024)
            except (OSError, StopIteration):
                pass
        proc.wait()
    return {
        "startup_to_first_frame_s": round(first_frame, 3) if first_frame else None,
        "rss_mb_while_running_demo": round(peak_rss, 1), "exit_code": proc.returncode,
    }


def bench_idle_rss(seconds: float = 8.0) -> dict:
    """RSS of `edge run` with every installed model loaded and nothing to do: a still image at 1 fps and
    silence on the microphone (what a station waiting for the next part looks like)."""
    import cv2

    from edge.sources.audio import write_wav

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "frames"
        folder.mkdir()
        cv2.imwrite(str(folder / "belt.png"), np.full((480, 640, 3), 90, np.uint8))
        write_wav(Path(tmp) / "silence.wav", np.zeros(16000 * int(seconds + 5), np.float32), 16000)
        from edge.runtime import load_manifest

        manifest = load_manifest()
        missing = [name for name in ("ocr", "speech", "fusion") if not manifest.has(name, "int8")]
        config = Path(tmp) / "idle.yaml"
        config.write_text(
            f"state_dir: {tmp}/state\ncamera: {{source: {folder}, fps: 1, loop: true}}\n"
            f"microphone: {{device: {tmp}/silence.wav}}\nsinks: {{console: {{enabled: false}}}}\n"
            + "".join(f"{name}: {{enabled: false}}\n" for name in missing)
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge", "run", "-c", str(config), "--max-seconds", str(seconds)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        time.sleep(seconds - 2)
        try:
            with open(f"/proc/{proc.pid}/status") as fh:
                rss = next(int(x.split()[1]) for x in fh if x.startswith("VmRSS")) / 1024
        except (OSError, StopIteration):
            rss = None
        _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"idle edge run failed: {err.strip().splitlines()[-1:]}")
    return {"idle_rss_mb": round(rss, 1) if rss else None, "models_not_installed": missing}


def bench_demo_stages(config_path: Path | None) -> dict:
    """Replay the demo in real time through every stage, as a live station would see it; per-stage latency
    (all items, and the items that produced an event, i.e. ran a model) and throughput."""
    from edge.app import DEMO_CONFIG, Application

    config = load_config(DEMO_CONFIG)
    with tempfile.TemporaryDirectory() as state:
        config = config.model_copy(update={"state_dir": Path(state)})
        config.sinks.console.enabled = False
        app = Application(config, demo=True)
        start = time.perf_counter()
        app.run(max_seconds=300)
        wall = time.perf_counter() - start
        stages = {name: {k: v for k, v in s.items() if k not in ("detail",)} for name, s in app.pipeline.health().items()}
        events = app.store.count() if app.store else None
    return {"wall_s": round(wall, 2), "events": events, "stages": stages}


def run_bench(config_path: Path | None = None, quick: bool = False) -> dict:
    iterations = 20 if quick else 200
    report: dict[str, Any] = {"machine": machine(), "command": "edge bench" + (" --quick" if quick else "")}
    report["framework"] = bench_framework(100 if quick else 1000)
    report["audio_path"] = bench_audio_path(3.0 if quick else 20.0)
    report["models"] = bench_models(config_path, iterations)
    report["process"] = bench_process(5.0 if quick else 8.0)
    report["idle"] = bench_idle_rss(6.0 if quick else 10.0)
    report["demo_stages"] = bench_demo_stages(config_path)
    report["bench_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return report


def format_report(report: dict) -> str:
    lines = [f"machine: {report['machine']}", "", "framework (640x480 frames, no model stage):"]
    lines.append("  " + "  ".join(f"{k}={v}" for k, v in report["framework"].items()))
    lines.append("audio path (live microphone, real-time pace):")
    for row in report["audio_path"]:
        lines.append("  " + "  ".join(f"{k}={v}" for k, v in row.items()))
    lines.append("models (1 thread, CPU):")
    for row in report["models"]:
        lines.append("  " + "  ".join(f"{k}={v}" for k, v in row.items()))
    lines += ["process:", "  " + "  ".join(f"{k}={v}" for k, v in report["process"].items())]
    lines += ["idle run:", "  " + "  ".join(f"{k}={v}" for k, v in report["idle"].items())]
    demo = report["demo_stages"]
    lines.append(f"demo replay in real time: {demo['wall_s']} s, {demo['events']} events")
    for name, stats in demo["stages"].items():
        lines.append(f"  stage {name}: " + "  ".join(f"{k}={v}" for k, v in stats.items()))
    return "\n".join(lines)
