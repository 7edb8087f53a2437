"""Camera source: video files, image folders, and live sources faked so they fail, stall and come back."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import CameraConfig
from edge.errors import SourceError
from edge.sources import camera as camera_module
from edge.sources.camera import CameraSource, gstreamer_available, source_kind
from tests.conftest import stop_all, track_started


@pytest.fixture(autouse=True)
def _stop_sources_after_each_test(monkeypatch):
    """Sources a failing test left running are stopped, so their threads never outlive the test."""
    started = track_started(monkeypatch, CameraSource)
    yield
    stop_all(started)


def _wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _write_video(path: Path, frames: int = 10, fps: float = 25.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 48))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    return path


@pytest.fixture
def video(tmp_path):
    return _write_video(tmp_path / "clip.avi")


def _run_to_end(cfg: CameraConfig):
    frames = []
    source = CameraSource(cfg, frames.append)
    source.start()
    source.join(5)
    return source, frames


def test_video_file_as_fast_as_possible(video):
    source, frames = _run_to_end(CameraConfig(source=str(video), realtime=False))
    assert [f.frame_id for f in frames] == list(range(10))
    brightness = [int(f.image.mean()) for f in frames]
    assert brightness == sorted(brightness) and brightness[-1] > 150  # frames in file order
    assert all(f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in frames)
    assert all(f.source_id == "camera0" for f in frames)
    assert source.finished and source.status()["state"] == "finished" and source.status()["frames"] == 10


def test_video_file_paced_at_its_frame_rate(video):
    began = time.monotonic()
    _, frames = _run_to_end(CameraConfig(source=str(video), realtime=True))
    elapsed = time.monotonic() - began
    assert len(frames) == 10 and 9 / 25 - 0.02 <= elapsed < 2.0
    gaps = np.diff([f.t_mono for f in frames])
    assert np.median(gaps) == pytest.approx(1 / 25, abs=0.015)


def test_video_file_loops_with_increasing_ids(video):
    frames = []
    source = CameraSource(CameraConfig(source=str(video), realtime=False, loop=True), frames.append)
    source.start()
    _wait_for(lambda: len(frames) >= 25)
    source.stop()
    source.join(2)
    ids = [f.frame_id for f in frames]
    assert ids == list(range(len(ids)))
    assert not source.finished and source.status()["state"] == "stopped"


def test_image_folder_in_order_with_a_corrupt_image_skipped(tmp_path):
    for i, name in enumerate(["img10.png", "img2.jpg", "img1.bmp"]):
        cv2.imwrite(str(tmp_path / name), np.full((20, 30, 3), 60 * (i + 1), np.uint8))
    (tmp_path / "img3.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (tmp_path / "notes.txt").write_text("not an image")
    cv2.imwrite(str(tmp_path / "img4.png"), np.full((20, 30), 200, np.uint8))  # grayscale -> BGR
    source, frames = _run_to_end(CameraConfig(source=str(tmp_path), realtime=False))
    # natural order: img1, img2, (img3 corrupt), img4, img10
    assert [int(f.image.mean()) for f in frames] == [180, 120, 200, 60]
    assert all(f.image.shape == (20, 30, 3) for f in frames)
    status = source.status()
    assert source.finished and status["skipped"] == 1 and "img3.png" in status["error"]


def test_missing_file_and_empty_folder_are_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="not a device index"):
        CameraSource(CameraConfig(source=str(tmp_path / "nope.mp4")), lambda f: None)
    with pytest.raises(SourceError, match="no readable images"):
        CameraSource(CameraConfig(source=str(tmp_path)), lambda f: None).start()


def test_corrupt_video_file_is_a_clear_error_at_start(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"x" * 1000)
    with pytest.raises(SourceError, match="cannot open this video file"):
        CameraSource(CameraConfig(source=str(bad)), lambda f: None).start()


def test_passwords_in_stream_urls_never_reach_status_or_errors():
    url = "rtsp://admin:s3cret@10.0.0.5:554/stream1"
    never_opens = FakeCamera(["fail"] * 100)
    source = CameraSource(CameraConfig(source=url, reconnect_initial_s=0.01), lambda f: None, open_capture=never_opens)
    source.start()
    _wait_for(lambda: len(never_opens.opens) >= 2)
    status = source.status()
    assert status["source"] == "rtsp://admin:***@10.0.0.5:554/stream1"
    assert "s3cret" not in str(status) and "rtsp://admin:***@" in status["error"]


def test_source_kinds():
    assert source_kind(0) == source_kind("2") == source_kind("/dev/video3") == "device"
    assert source_kind("rtsp://10.0.0.5/stream") == source_kind("http://cam/mjpg") == "url"
    assert source_kind("nvarguscamerasrc ! video/x-raw(memory:NVMM) ! appsink") == "gstreamer"


def test_gstreamer_pipeline_without_gstreamer_says_use_system_opencv(monkeypatch):
    monkeypatch.setattr(camera_module.cv2, "getBuildInformation", lambda: "  Video I/O:\n    GStreamer:  NO\n")
    with pytest.raises(SourceError, match="python3-opencv"):
        CameraSource(CameraConfig(source="videotestsrc ! appsink"), lambda f: None)
    assert gstreamer_available("    GStreamer:                   YES (1.16.3)\n")


# ---- live sources with a fake capture ---------------------------------------------------------------


class FakeCamera:
    """A capture following a script: each open() takes the next plan entry.

    "fail": the device does not open; ("frames", n): n frames then a failed read (unplugged);
    ("stall", n): n frames then read() blocks until released (a frozen stream); "ok": frames forever.
    """

    def __init__(self, plan: list) -> None:
        self.plan = list(plan)
        self.opens: list[float] = []
        self.released = threading.Event()
        self.captures: list[_FakeCapture] = []

    def __call__(self, source):
        self.opens.append(time.monotonic())
        step = self.plan.pop(0) if self.plan else "ok"
        capture = _FakeCapture(step, self.released)
        self.captures.append(capture)
        return capture


class _FakeCapture:
    def __init__(self, step, released: threading.Event) -> None:
        self.step = step
        self.released = released
        self.count = 0

    def isOpened(self) -> bool:
        return self.step != "fail"

    def read(self):
        kind, limit = (self.step, None) if isinstance(self.step, str) else self.step
        if limit is not None and self.count >= limit:
            if kind == "stall":
                self.released.wait(10)
            return False, None
        self.count += 1
        time.sleep(0.002)
        return True, np.zeros((8, 8, 3), np.uint8)

    def get(self, prop):
        return 0.0

    def set(self, prop, value):
        return True

    def release(self) -> None:
        pass


def _live(plan, **overrides):
    settings = {"source": 0, "reconnect_initial_s": 0.01, "reconnect_max_s": 0.04, "stall_timeout_s": 0.3}
    settings.update(overrides)
    fake = FakeCamera(plan)
    frames = []
    source = CameraSource(CameraConfig(**settings), frames.append, open_capture=fake)
    return source, fake, frames


def test_camera_failing_mid_stream_reconnects_and_continues():
    source, _, frames = _live([("frames", 5), "fail", "fail", ("frames", 5), "ok"])
    source.start()
    _wait_for(lambda: len(frames) >= 30)
    status = source.status()
    source.stop()
    source.join(2)
    ids = [f.frame_id for f in frames]
    assert ids == list(range(len(ids)))  # monotonic ids across reconnects, none repeated
    assert status["reconnects"] == 4 and status["state"] == "running" and status["error"] is None
    assert source.status()["state"] == "stopped"


def test_reconnect_backoff_grows_and_is_bounded():
    source, fake, _ = _live(["fail"] * 100, reconnect_initial_s=0.01, reconnect_max_s=0.05)
    source.start()
    time.sleep(0.6)
    status = source.status()
    source.stop()
    source.join(2)
    gaps = np.diff(fake.opens)
    assert status["state"] == "reconnecting" and "not found" in status["error"]
    assert gaps[0] < gaps[2]  # exponential at first
    assert gaps.max() < 0.05 + 0.15  # never beyond reconnect_max_s (plus scheduling slack)
    assert 6 <= len(fake.opens) <= 60


def test_stalled_stream_is_detected_and_replaced():
    source, fake, frames = _live([("stall", 3), "ok"], stall_timeout_s=0.2)
    source.start()
    _wait_for(lambda: len(frames) >= 10)
    status = source.status()
    source.stop()
    fake.released.set()  # let the abandoned reader finish
    source.join(2)
    assert len(fake.opens) == 2 and status["reconnects"] == 1
    assert [f.frame_id for f in frames] == list(range(len(frames)))
    stall_gap = max(np.diff([f.t_mono for f in frames]))
    assert 0.2 <= stall_gap < 1.5


def test_failing_emit_does_not_stop_capture():
    calls = []

    def broken_emit(frame):
        calls.append(frame.frame_id)
        raise RuntimeError("bug downstream")

    source = CameraSource(CameraConfig(source=0, stall_timeout_s=1.0), broken_emit, open_capture=FakeCamera([]))
    source.start()
    _wait_for(lambda: len(calls) >= 5)
    source.stop()
    source.join(2)
    assert source.status()["reconnects"] == 0


def test_stop_is_prompt_while_reconnecting():
    source, fake, _ = _live(["fail"] * 100, reconnect_initial_s=5.0, reconnect_max_s=5.0)
    source.start()
    _wait_for(lambda: len(fake.opens) == 1)
    began = time.monotonic()
    source.stop()
    source.join(2)
    assert time.monotonic() - began < 0.5 and source.status()["state"] == "stopped"
