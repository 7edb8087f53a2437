"""The OCR pipeline stage: rate gating, event format, voting across frames."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import EdgeConfig
from edge.events import Frame
from edge.ocr.stage import build_stage
from edge.runtime import load_manifest

LABEL = cv2.imread(str(Path(__file__).parent / "fixtures" / "ocr" / "label_two_lines.png"))


def frame(t: float, index: int) -> Frame:
    image = np.full((480, 640, 3), 90, np.uint8)
    image[140:340, 110:530] = LABEL
    return Frame("cam0", index, t, 1000.0 + t, image)


@pytest.fixture(scope="module")
def manifest():
    return load_manifest()


def test_rate_gating_and_event_format(manifest):
    config = EdgeConfig.model_validate({"ocr": {"rate_hz": 2.0, "regions": [
        {"name": "lot", "pattern": r"LOT \d{4}[A-Z]"}, {"name": "expiry", "pattern": r"EXP \d{4}-\d{2}",
                                                         "validator": "date"}]}})
    stage = build_stage(config, manifest)
    events = [e for i, t in enumerate([0.0, 0.1, 0.2, 0.6]) for e in stage.process(frame(t, i))]
    assert [e.frame_id for e in events] == [0, 3]
    event = events[-1]
    assert event.kind == "ocr" and event.source_id == "cam0" and event.t_mono == 0.6
    data = json.loads(json.dumps(event.to_dict()))["data"]
    assert set(data) == {"text", "confidence", "lines", "voted"}
    assert data["voted"] is True  # two frames agreed
    assert data["text"] == "LOT 7734B EXP 2027-05"
    for line in data["lines"]:
        assert set(line) == {"text", "confidence", "char_confidences", "box", "valid", "validator"}
        assert len(line["box"]) == 4
    assert [line["valid"] for line in data["lines"]] == [True, True]
    assert [line["validator"] for line in data["lines"]] == ["pattern", "date"]


def test_fixed_roi_region(manifest):
    config = EdgeConfig.model_validate({"ocr": {"trigger": "every_frame", "regions": [
        {"name": "lot", "box": [130, 170, 260, 60], "pattern": r"LOT \d{4}[A-Z]"}]}})
    stage = build_stage(config, manifest)
    (event,) = stage.process(frame(0.0, 0))
    assert event.data["text"] == "LOT 7734B" and event.data["voted"] is False
    assert event.data["lines"][0]["box"] == [130, 170, 260, 60]


def test_motion_trigger_skips_still_frames(manifest):
    config = EdgeConfig.model_validate({"ocr": {"trigger": "motion"}})
    stage = build_stage(config, manifest)
    assert stage.process(frame(0.0, 0))
    assert not list(stage.process(frame(0.1, 1)))


def test_reads_the_demo_video_label(manifest):
    """Part 0 of the bundled demo stands under the camera at 1.6-2.9 s: serial with a Luhn check, lot code."""
    video = Path(__file__).resolve().parents[1] / "edge" / "demo" / "demo.mp4"
    if not video.is_file():
        pytest.skip("demo media not present")
    capture = cv2.VideoCapture(str(video))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 22)
    ok, image = capture.read()
    capture.release()
    assert ok
    config = EdgeConfig.model_validate({"ocr": {"trigger": "every_frame", "keep_unmatched": False, "regions": [
        {"name": "serial", "pattern": r"SN-\d{7}", "validator": "luhn"},
        {"name": "lot", "pattern": r"LOT \d{4}-[A-Z]\d{2}"}]}})
    (event,) = build_stage(config, manifest).process(Frame("demo", 22, 2.2, 0.0, image))
    assert event.data["text"] == "SN-7921240 LOT 2411-B07"
    assert [line["valid"] for line in event.data["lines"]] == [True, True]
    assert [line["validator"] for line in event.data["lines"]] == ["luhn", "pattern"]
