"""Export the trained speech model to FP32 ONNX with its metadata, check parity with torch, update the manifest.

    python tools/speech/export.py --ckpt work/speech/ckpt/last.pt --out models/speech-v1-fp32.onnx

Parity: onnxruntime and torch log-probabilities on held-out utterances must agree within --tolerance and give
the same greedy transcripts; the command fails otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from model import SpeechNet, count_parameters
from train import FeatureSet, greedy
from vocab import LABELS

from edge.runtime import sha256_of, update_manifest_entry
from edge.speech.frontend import FeatureParams

MODEL_NAME = "speech"
VERSION = "1"
FSDD_NOTICE = (
    "Trained in part on the Free Spoken Digit Dataset (Zohar Jackson and contributors), CC BY-SA 4.0, "
    "commit 26eb9aaf76e81b692f806f9140c2d2777410d7a1; synthetic speech from espeak-ng (GPL-3.0 program, "
    "output not covered), flite and festival voices (free licenses); no mbrola voices."
)


def load_model(ckpt: Path) -> SpeechNet:
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    model = SpeechNet(n_labels=len(state["labels"]), channels=state["channels"])
    model.load_state_dict(state["model"])
    model.eval()
    return model


def metadata() -> dict[str, str]:
    meta = FeatureParams().to_metadata()
    meta.update(
        {
            "model": MODEL_NAME,
            "version": VERSION,
            "vocabulary": json.dumps(LABELS),
            "blank_index": "0",
            "output_stride": "4",
            "normalization": "per-utterance mean per mel bin (inside the graph)",
            "license": FSDD_NOTICE,
        }
    )
    return meta


def export(model: SpeechNet, path: Path) -> None:
    dummy = torch.randn(1, 120, FeatureParams().n_mels)
    torch.onnx.export(
        model,
        (dummy,),
        str(path),
        input_names=["features"],
        output_names=["log_probs"],
        dynamic_axes={"features": {1: "frames"}, "log_probs": {1: "steps"}},
        opset_version=17,
        dynamo=False,
    )
    proto = onnx.load(str(path))
    for key, value in metadata().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = "edge speech commands and digits: log-mel (batch, frames, 40) -> word CTC log-probs"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def onnx_accuracy(path: Path, data: FeatureSet, limit: int = 0) -> tuple[float, list[np.ndarray]]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    outputs, correct = [], 0
    n = len(data) if not limit else min(limit, len(data))
    for i in range(n):
        x, _, _, _ = data.batch(np.array([i]))
        out = session.run(None, {"features": x.numpy()})[0][0]
        outputs.append(out)
        correct += greedy(out) == data.targets[i]
    return correct / n, outputs


def manifest_entry(path: Path, precision: str, model: SpeechNet | None = None) -> dict:
    entry = {
        "version": VERSION,
        "description": "Spoken digits and operator commands (word-level CTC, DS-CNN); "
        "log-mel 40 x 10 ms in, per-40 ms word posteriors out",
        "files": {precision: {"file": path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size}},
        "inputs": [
            {
                "name": "features",
                "shape": [1, "frames", 40],
                "dtype": "float32",
                "meaning": "log-mel frames from edge.speech.frontend.LogMel",
            }
        ],
        "outputs": [
            {
                "name": "log_probs",
                "shape": [1, "steps", len(LABELS)],
                "dtype": "float32",
                "meaning": "log-softmax over vocabulary; steps = ceil(ceil(frames/2)/2)",
            }
        ],
        "vocabulary": LABELS,
        "license": FSDD_NOTICE,
    }
    if model is not None:
        entry["parameters"] = count_parameters(model)
    return entry


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", type=Path, default=Path("work/speech/ckpt/last.pt"))
    ap.add_argument("--data", type=Path, default=Path("work/speech/data"))
    ap.add_argument("--out", type=Path, default=ROOT / "models" / f"speech-v{VERSION}-fp32.onnx")
    ap.add_argument("--tolerance", type=float, default=1e-3)
    ap.add_argument("--no-manifest", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model = load_model(args.ckpt)
    export(model, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {count_parameters(model)} parameters)")

    worst, mismatched, checked = 0.0, 0, 0
    results = {}
    for name in ("synth", "fsdd"):
        data = FeatureSet(args.data / f"val_{name}.npz")
        accuracy, outputs = onnx_accuracy(args.out, data)
        results[name] = accuracy
        with torch.no_grad():
            for i in range(0, len(data), 7):
                x, _, _, _ = data.batch(np.array([i]))
                ref = model(x)[0].numpy()
                worst = max(worst, float(np.abs(ref - outputs[i]).max()))
                mismatched += greedy(ref) != greedy(outputs[i])
                checked += 1
    print(
        f"parity: max |torch - onnx| = {worst:.2e} over {checked} utterances, {mismatched} transcripts differ"
    )
    print(f"onnx fp32 utterance accuracy (greedy): synth {results['synth']:.4f} fsdd {results['fsdd']:.4f}")
    if worst > args.tolerance or mismatched:
        print("PARITY FAILED", file=sys.stderr)
        return 1
    if not args.no_manifest:
        entry = manifest_entry(args.out, "fp32", model)
        entry["recipe"] = {
            "data": "python tools/speech/make_data.py --workers 2",
            "train": "python tools/speech/train.py --minutes 40",
            "export": f"python tools/speech/export.py --ckpt {args.ckpt}",
            "quantize": "python tools/speech/quantize.py",
            "summary": "espeak-ng (6 English voices x 100 variants + 12 other-language voices reading English), "
            "flite kal/kal16/slt/rms, festival kal_diphone/cmu_us_slt_arctic_hts; single words, 2-4 word "
            "sequences, OOV words as <unk>, non-speech; augmented (speed, reverb, headset/USB/8 kHz channel, "
            "noise 0-30 dB SNR, gain, shift); FSDD speakers george, jackson, lucas, yweweler. Held out: "
            "espeak-ng en-gb-scotland, en-029, pl, hi; flite awb; FSDD speakers nicolas, theo.",
        }
        entry["parity_fp32"] = {
            "max_abs_diff": worst,
            "transcripts_differ": mismatched,
            "utterances": checked,
        }
        entry["validation_fp32"] = {
            "synth_heldout_utt_acc": round(results["synth"], 4),
            "fsdd_heldout_utt_acc": round(results["fsdd"], 4),
        }
        update_manifest_entry(args.out.parent, MODEL_NAME, entry)
        print(f"updated {args.out.parent / 'manifest.yaml'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
