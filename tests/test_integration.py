"""Replay a video and a WAV through the live path (sources -> stages -> every sink), with tiny ONNX models
built in the test, and check that every produced event reached every sink."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.app import Application
from edge.config import parse_config
from edge.events import Event
from edge.pipeline.stage import Stage
from edge.runtime import ModelSession, load_manifest
from edge.sources.audio import write_wav


class TinyVision(Stage):
    """Runs the tiny ONNX model on per-channel means of every frame and attaches a JPEG snapshot."""

    name = "tinyvision"
    consumes = ("frame",)

    def __init__(self, session: ModelSession):
        self.session = session

    def process(self, frame):
        means = frame.image.reshape(-1, 3).mean(axis=0) / 255.0
        (y,) = self.session.run({"x": np.append(means, 1.0).astype(np.float32)[None]})
        ok, jpeg = cv2.imencode(".jpg", frame.image)
        yield Event("tiny", frame.source_id, {"score": float(y[0].sum())}, t_mono=frame.t_mono,
                    frame_id=frame.frame_id, snapshot=jpeg.tobytes())


class Loudness(Stage):
    """Emits the RMS of each second of audio, and whatever is left at the end (flush)."""

    name = "loudness"
    consumes = ("audio",)
    drop_when_full = False

    def __init__(self):
        self.buffer: list[np.ndarray] = []
        self.rate = 16000

    def process(self, chunk):
        self.rate = chunk.sample_rate
        self.buffer.append(chunk.samples)
        if sum(len(b) for b in self.buffer) >= chunk.sample_rate:
            yield self._emit(chunk.source_id)

    def flush(self):
        if self.buffer:
            yield self._emit("mic")

    def _emit(self, source_id):
        samples = np.concatenate(self.buffer)
        self.buffer = []
        return Event("loudness", source_id, {"rms": float(np.sqrt(np.mean(samples**2))), "n": len(samples)})


@pytest.fixture
def media(tmp_path: Path) -> tuple[Path, Path]:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (640, 480))
    for i in range(30):
        image = np.full((480, 640, 3), (i * 8) % 255, np.uint8)
        cv2.putText(image, f"SN-{i:04d}", (100, 240), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
        writer.write(image)
    writer.release()
    wav = tmp_path / "voice.wav"
    t = np.arange(int(2.5 * 44100)) / 44100
    write_wav(wav, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 44100)
    return video, wav


def test_replay_reaches_every_sink(tmp_path, media, tiny_models, capsys):
    video, wav = media
    state = tmp_path / "state"
    config = parse_config(
        f"state_dir: {state}\nmodels: {{dir: {tiny_models}}}\n"
        f"camera: {{source: {video}, realtime: false, queue_size: 100}}\n"
        f"microphone: {{device: {wav}, realtime: false}}\n",
        env={},
    )
    session = ModelSession.from_manifest(load_manifest(tiny_models), "tiny", "int8")
    app = Application(config, stages=[TinyVision(session), Loudness()])
    assert app.run(max_seconds=60) == 0

    rows = sqlite3.connect(state / "events.db").execute("SELECT id, kind, data FROM events").fetchall()
    kinds = [kind for _, kind, _ in rows]
    assert kinds.count("tiny") == 30  # every frame: the inbox was large enough not to drop
    loud = [json.loads(d) for _, k, d in rows if k == "loudness"]
    total = sum(d["n"] for d in loud)  # 2.5 s resampled to 16 kHz; the last hop is padded to full length
    assert 40000 <= total <= 40000 + 320  # plus at most one padded end-of-stream hop
    assert all(abs(d["rms"] - 0.3 / np.sqrt(2)) < 0.02 for d in loud[:-1])

    lines = [json.loads(line) for line in (state / "events.jsonl").read_text().splitlines()]
    assert {row["id"] for row in lines} == {row[0] for row in rows}
    snapshots = {p.stem for p in (state / "snapshots").glob("*.jpg")}
    assert snapshots == {row[0] for row in rows if row[1] == "tiny"}
    assert capsys.readouterr().out.count("tiny") == 30
    health = app.health()
    assert health["stages"]["tinyvision"]["processed"] == 30
