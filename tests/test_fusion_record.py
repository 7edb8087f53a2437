"""`edge record` pieces end to end: parts passing the camera -> dataset folder -> relabel -> a few training steps."""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.config import parse_config
from edge.errors import InputError
from edge.events import AudioChunk, Event, Frame
from edge.fusion import record

TOOLS = Path(__file__).resolve().parents[1] / "tools" / "fusion"
sys.path.insert(0, str(TOOLS))
render = pytest.importorskip("render")


def _speech(words, t_end):
    return Event("speech", "mic", {"transcript": " ".join(words), "confidence": 0.9, "rejected": False,
                                   "t_start": t_end - 0.4, "t_end": t_end,
                                   "words": [{"word": w, "confidence": 0.9, "start": 0, "end": 0} for w in words]},
                 t_mono=t_end)


def _record_parts(folder: Path, said: list[list[str]]) -> record.RecordStage:
    config = parse_config("fusion: {expected_lots: ['2411-B07'], join_grace_s: 0.2}")
    dataset = record.Dataset(folder)
    dataset.create(source="test")
    stage = record.RecordStage(dataset, config, label=None, ocr_running=True, speech_running=True)
    rng = np.random.default_rng(0)
    bg = render.conveyor_background(640, 480, rng)
    classes = ["ok", "surface_defect", "label_missing"]
    t, frame_id = 0.0, 0
    xs = [None] * 5
    for k, words in enumerate(said):
        spec = render.random_spec(rng, classes[k % 3], expected_lot="2411-B07")
        part, alpha = render.render_part(spec)
        for x in [None, -60, 150, 320, 320, 320, 320, 500, 700, None, None] if k else xs + [-60, 150, 320, 320, 320, 320, 500, 700, None, None]:
            image = bg if x is None else render.place_part(bg, part, alpha, (x, 240), 0.0, 1.0)[0]
            stage.process(AudioChunk("mic", int(t * 16000), 16000, t, t, np.zeros(1600, np.float32)))
            stage.process(Frame("cam", frame_id, t, t, image))
            if x == 320 and words:
                stage.process(_speech(words, t))
                words = []
            t += 0.1
            frame_id += 1
    list(stage.flush())
    return stage


def test_record_label_by_voice_relabel_and_train(tmp_path):
    folder = tmp_path / "parts"
    stage = _record_parts(folder, [["pass"], ["fail", "four"], ["fail"], ["pass"]])
    assert stage.count == 4
    samples = record.Dataset(folder).read()
    assert [s["label"] for s in samples] == ["ok", "surface_defect", None, "ok"]
    assert samples[2]["voice_hint"] == "fail"
    for s in samples:
        assert (folder / s["crop"]).is_file() and (folder / s["snapshot"]).is_file() and (folder / s["audio"]).is_file()
        assert s["ocr"] == {"text": "", "confidence": 0.0, "lines": []}  # OCR running, nothing read in this test
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["samples"] == 4 and manifest["unlabelled"] == 1

    with pytest.raises(InputError, match="no sample with id"):
        record.relabel(folder, ["nope"], "ok")
    args = argparse.Namespace(list=None, relabel=folder, id=[samples[2]["id"]], label="label_missing")
    assert record.run(args) == 0
    assert record.Dataset(folder).read()[2]["label"] == "label_missing"

    import train  # tools/fusion/train.py

    out = tmp_path / "run"
    assert train.main(["--data", str(folder), "--out", str(out), "--epochs", "1", "--batch", "2", "--max-steps", "2"]) == 0
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["train"] + summary["val"] == 4
    assert train.main(["--data", str(folder), "--out", str(out), "--epochs", "2", "--batch", "2", "--max-steps", "3",
                       "--resume"]) == 0
    assert json.loads((out / "summary.json").read_text())["steps"] == 3


def test_record_cli_needs_out(tmp_path):
    from edge.errors import ConfigError

    args = argparse.Namespace(list=None, relabel=None, out=None)
    with pytest.raises(ConfigError, match="--out"):
        record.run(args)
