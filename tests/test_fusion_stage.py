"""The fusion stage on synthetic frames + OCR + speech events, and the committed model with modalities missing."""

import sys
from pathlib import Path

import numpy as np
import pytest

from edge.events import Event, Frame
from edge.fusion.codes import CLASSES
from edge.fusion.model import FusionModel
from edge.fusion.settings import FusionConfig
from edge.fusion.stage import FusionStage
from edge.runtime import ModelSession, load_manifest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "fusion"))
render = pytest.importorskip("render")  # Pillow (dev extra) renders the parts
simulate = pytest.importorskip("simulate")


@pytest.fixture(scope="module")
def model() -> FusionModel:
    manifest = load_manifest()
    if not manifest.has("fusion", "int8"):
        pytest.fail("models/manifest.yaml has no int8 fusion model; run tools/fusion/export.py and quantize.py")
    return FusionModel(ModelSession.from_manifest(manifest, "fusion", "int8", providers=["cpu"]))


def _frames(spec, start_id=0):
    """Empty belt, the part coming in from the left, standing still, leaving to the right."""
    rng = np.random.default_rng(0)
    bg = render.conveyor_background(640, 480, rng)
    part, alpha = render.render_part(spec)
    xs = [None] * 5 + [-60, 120, 320, 320, 320, 320, 320, 520, 700] + [None] * 3
    frames = []
    for i, x in enumerate(xs):
        image = bg if x is None else render.place_part(bg, part, alpha, (x, 240), 4.0, 1.0)[0]
        frames.append(Frame("cam", start_id + i, i * 0.1, i * 0.1, image))
    return frames


def _speech(words, t_end):
    return Event("speech", "mic", {"transcript": " ".join(words), "confidence": 0.9, "rejected": False,
                                   "t_start": t_end - 0.5, "t_end": t_end,
                                   "words": [{"word": w, "confidence": 0.9, "start": 0, "end": 0} for w in words]},
                 t_mono=t_end)


def test_stage_emits_one_inspection_with_joined_codes_words_and_snapshot(model):
    spec = render.random_spec(np.random.default_rng(3), "surface_defect", expected_lot="2411-B07")
    stage = FusionStage(model, FusionConfig(expected_lots=["2411-B07"], join_grace_s=0.3))
    events = []
    for frame in _frames(spec):
        events += stage.process(frame)
        if frame.frame_id == 9:  # OCR read a still frame; the operator spoke while the part stood there
            ocr = {"text": " ".join(spec.printed_lines), "confidence": 0.95, "voted": True,
                   "lines": [{"text": t, "confidence": 0.95, "char_confidences": [0.95] * len(t), "box": [0, 0, 1, 1]}
                             for t in spec.printed_lines]}
            events += stage.process(Event("ocr", "cam", ocr, t_mono=0.9, frame_id=9))
            events += stage.process(_speech(["fail", "four"], t_end=1.0))
    events += stage.flush()
    inspections = [e for e in events if e.kind == "inspection"]
    assert len(inspections) == 1
    data = inspections[0].data
    assert data["verdict"] in CLASSES and abs(sum(data["probabilities"].values()) - 1) < 1e-3
    assert data["codes"]["serial"] == spec.serial and data["codes"]["lot_expected"]
    assert data["words"] == ["fail", "four"] and data["present"] == {"image": True, "text": True, "speech": True}
    assert set(data["latency_ms"]) >= {"features", "fusion"}
    assert inspections[0].snapshot[:2] == b"\xff\xd8"  # JPEG
    assert data["verdict"] == "surface_defect"


def test_speech_of_another_part_is_not_joined(model):
    spec = render.random_spec(np.random.default_rng(4), "ok", expected_lot="2411-B07")
    stage = FusionStage(model, FusionConfig(join_grace_s=0.2), ocr_running=False)
    events = list(stage.process(_speech(["fail"], t_end=0.1)))  # said long before the part arrived
    for frame in _frames(spec):
        events += stage.process(frame)
    events += stage.flush()
    (inspection,) = [e for e in events if e.kind == "inspection"]
    assert inspection.data["words"] == [] and inspection.data["present"]["text"] is False


def _parts(cls, n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        spec = render.random_spec(rng, cls)
        frame, background, _ = render.render_scene(spec)
        from edge.vision.parts import crop_part, find_part

        crop = crop_part(frame, find_part(frame, background), (96, 64))
        out.append((spec, crop, simulate.simulate_ocr(spec, rng), simulate.simulate_speech(["pass"], rng)))
    return out


def test_missing_modalities_still_give_sensible_verdicts(model):
    """Image alone finds missing labels; text alone (no image) finds wrong codes; nothing crashes without input."""
    missing = _parts("label_missing", 8, 1)
    image_only = [model.predict(crop, None, None, [spec.expected_lot]).verdict for spec, crop, _, _ in missing]
    assert image_only.count("label_missing") >= 6
    wrong = _parts("wrong_code", 8, 2)
    text_only = [model.predict(None, ocr, None, [spec.expected_lot]).verdict for spec, _, ocr, _ in wrong]
    assert text_only.count("wrong_code") >= 6
    nothing = model.predict(None, None, None, [])
    assert nothing.verdict in CLASSES and abs(sum(nothing.probabilities.values()) - 1) < 1e-3
    assert nothing.present == {"image": False, "text": False, "speech": False}


def test_inputs_match_the_model_file(model):
    names = [name for name, _, _ in model.session.inputs]
    assert names == ["image", "classic", "text", "chars", "char_conf", "speech", "present"]
    assert model.classes == list(CLASSES)
