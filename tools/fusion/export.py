"""Export a trained fusion checkpoint to FP32 ONNX with its metadata, check parity with torch, and record it in
models/manifest.yaml.

    python tools/fusion/export.py --checkpoint work/fusion/run/best.pt --data work/fusion/data/val

Metadata (ONNX metadata_props): classes (JSON list), input_size (WxH of the crop), inputs, vocabulary, charset,
version. Parity: the ONNX model, run through edge.runtime like at the station, must give the torch
probabilities within 1e-4 on the given data.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dataset as ds
from model import INPUT_NAMES, FusionNet, example_inputs

from edge.fusion.codes import CLASSES
from edge.fusion.features import CHARSET, IMAGE_SIZE, MAX_CHARS, TEXT_DIM, VOCABULARY
from edge.runtime import ModelSession, sha256_of, update_manifest_entry

VERSION = "1.1.0"
RECIPE = {
    "data": "python tools/fusion/make_data.py --out work/fusion/data --train 10000 --val 1500 --test 3000 "
            "(rendered parts: tools/fusion/render.py, 12 fonts for train/val, 2 held-out fonts for test; "
            "crops cut by edge.vision.parts exactly as at the station)",
    "ocr_and_speech_inputs": "SIMULATED from the ground truth by tools/fusion/simulate.py, not produced by the "
            "edge OCR/speech models (they did not exist when this was trained): OCR = printed text with "
            "confusable-character substitutions (O/0, 1/I, 5/S, 8/B...), drops and Beta-distributed confidences, "
            "damaged where the renderer smudged/faded/cut the print, 2% whole lines missed; speech = operator "
            "silent 30%, says pass/fail right most of the time (misses subtle defects, rarely flags good parts), "
            "adds the defect number (fail one..four) 55% of the time; recogniser drops 4%, confuses 6% of words, "
            "rejects low-confidence utterances",
    "real_ocr_events": "python tools/fusion/real_events.py --data work/fusion/data/{val,test,train} --out "
            "work/fusion/data_real/{val,test,train} (train: --limit 4000): the same parts re-rendered and read by the "
            "edge.ocr CRNN (int8) as its stage reads a frame; speech stays simulated (no speech model existed yet)",
    "train": "python tools/fusion/train.py --data work/fusion/data --data work/fusion/data_real --out work/fusion/run2 "
             "--epochs 14 (10,000 parts with simulated OCR + 4,000 with real OCR; 1 CPU thread, AdamW, cosine LR, "
             "label smoothing 0.05, modality dropout)",
    "export": "python tools/fusion/export.py --checkpoint work/fusion/run2/best.pt --data work/fusion/data/val",
    "quantize": "python tools/fusion/quantize.py --calibration work/fusion/data_real/val --check work/fusion/data/test",
}
REPO = Path(__file__).resolve().parents[2]


def load_model(checkpoint: Path) -> tuple[FusionNet, dict]:
    state = torch.load(checkpoint, weights_only=False, map_location="cpu")
    model = FusionNet()
    model.load_state_dict(state["model"])
    model.eval()
    return model, state


def metadata() -> dict[str, str]:
    return {
        "model": "fusion",
        "version": VERSION,
        "classes": json.dumps(list(CLASSES)),
        "input_size": f"{IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}",
        "inputs": json.dumps(list(INPUT_NAMES)),
        "charset": CHARSET,
        "max_chars": str(MAX_CHARS),
        "vocabulary": json.dumps(VOCABULARY),
    }


class WithSoftmax(torch.nn.Module):
    """Probabilities out of the graph, so the runtime needs no softmax of its own."""

    def __init__(self, inner: FusionNet) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.inner(*inputs), dim=1)


def export(model: FusionNet, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    axes = {name: {0: "batch"} for name in INPUT_NAMES} | {"probabilities": {0: "batch"}}
    wrapper = WithSoftmax(model).eval()
    torch.onnx.export(  # the TorchScript exporter: stable for this small static graph
        wrapper, example_inputs(2), str(path), input_names=list(INPUT_NAMES),
        output_names=["probabilities"], dynamic_axes=axes, opset_version=17, dynamo=False,
    )
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for key, value in metadata().items():
        proto.metadata_props.add(key=key, value=value)
    proto.doc_string = "edge fusion model: part inspection verdict from image, OCR text and operator speech"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def parity(model: FusionNet, path: Path, arrays: ds.Arrays, limit: int = 512) -> float:
    """Largest absolute difference of probabilities between torch and the ONNX file (via edge.runtime)."""
    model.eval()
    index = np.arange(min(limit, len(arrays)))
    feeds = arrays.feeds(index)
    with torch.no_grad():
        expected = torch.softmax(model(**{k: torch.from_numpy(v) for k, v in feeds.items()}), dim=1).numpy()
    session = ModelSession(path, providers=["cpu"], required_metadata=["classes", "input_size", "version"])
    (got,) = session.run(feeds)
    return float(np.abs(got - expected).max())


def file_entry(path: Path) -> dict:
    return {"file": path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=Path("work/fusion/run/best.pt"))
    parser.add_argument("--data", type=Path, default=Path("work/fusion/data/val"), help="dataset folder for parity")
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--name", default="fusion")
    args = parser.parse_args(argv)
    model, state = load_model(args.checkpoint)
    path = args.models_dir / f"{args.name}-fp32.onnx"
    export(model, path)
    diff = parity(model, path, ds.load(args.data))
    print(f"wrote {path} ({path.stat().st_size} bytes); parity max |p_onnx - p_torch| = {diff:.2e}")
    if diff > 1e-4:
        raise SystemExit(f"parity check failed: {diff:.2e} > 1e-4")
    update_manifest_entry(args.models_dir, args.name, {
        "version": VERSION,
        "description": "fusion CNN: part inspection verdict (" + ", ".join(CLASSES) + ") from the part crop, "
                       "HOG/LBP features, OCR output and operator speech",
        "files": {"fp32": file_entry(path)},
        "inputs": {name: desc for name, desc in zip(INPUT_NAMES, (
            "float32 [B,1,64,96] gray part crop 0..1", "float32 [B,602] HOG+LBP+stats (edge.vision.features)",
            f"float32 [B,{TEXT_DIM}] OCR summary (edge.fusion.features.text_features)", "int64 [B,24] char ids of serial|lot",
            "float32 [B,24] per-char OCR confidence", "float32 [B,36] bag of spoken words (speech_features)",
            "float32 [B,3] modality present: image, text, speech"))},
        "outputs": {"probabilities": "float32 [B,5] softmax over classes"},
        "metadata": metadata(),
        "recipe": RECIPE | {"training_args": {k: v for k, v in (state.get("args") or {}).items()
                                              if k in ("data", "epochs", "batch", "lr", "seed")}},
        "license": "weights trained here from generated data only (no third-party data or weights); "
                   "label fonts from Debian font packages are only used to render training images",
        "export": {"checkpoint_epoch": state.get("epoch"), "parity_max_abs_diff": diff,
                   "command": f"python tools/fusion/export.py --checkpoint {args.checkpoint} --data {args.data}"},
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
