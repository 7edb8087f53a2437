"""The committed demo media replayed through the fusion stage: every part found once, at the right time,
with the operator's words joined, and most verdicts right even without an OCR model."""

import json
from pathlib import Path

import cv2
import pytest

from edge.events import Event, Frame
from edge.fusion.model import FusionModel
from edge.fusion.settings import FusionConfig
from edge.fusion.stage import FusionStage
from edge.runtime import ModelSession, load_manifest

DEMO = Path(__file__).resolve().parents[1] / "edge" / "demo"


def test_demo_video_gives_one_inspection_per_part():
    truth = json.loads((DEMO / "demo_truth.json").read_text())
    manifest = load_manifest()
    if not manifest.has("fusion", "int8"):
        pytest.fail("no fusion model committed")
    model = FusionModel(ModelSession.from_manifest(manifest, "fusion", "int8", providers=["cpu"]))
    stage = FusionStage(model, FusionConfig(expected_lots=truth["expected_lots"]), ocr_running=False)
    utterances = [p for p in truth["parts"] if p["utterance"]]
    capture = cv2.VideoCapture(str(DEMO / "demo.mp4"))
    events, index = [], 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        t = index / truth["video"]["fps"]
        while utterances and utterances[0]["t_end"] + 0.3 <= t:  # the speech stage reports ~0.3 s after the end
            said = utterances.pop(0)
            words = [{"word": w, "confidence": 0.9, "start": 0, "end": 0} for w in said["utterance"].split()]
            events += stage.process(Event("speech", "mic", {"transcript": said["utterance"], "words": words,
                                                            "confidence": 0.9, "t_start": said["t_start"],
                                                            "t_end": said["t_end"], "rejected": False},
                                          t_mono=said["t_end"]))
        events += stage.process(Frame("demo", index, t, t, image))
        index += 1
    events += stage.flush()
    inspections = [e.data for e in events if e.kind == "inspection"]
    assert len(inspections) == len(truth["parts"]) == 10
    for record, part in zip(inspections, truth["parts"]):
        assert abs(record["part"]["t_arrive"] - part["t_arrive"]) < 0.6
        assert record["words"] == part["utterance"].split()
    right = sum(r["verdict"] == p["class"] for r, p in zip(inspections, truth["parts"]))
    assert right >= 8, [(r["verdict"], p["class"]) for r, p in zip(inspections, truth["parts"])]
