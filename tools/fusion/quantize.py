"""Quantize the FP32 fusion model to INT8 (static, QDQ, per-channel weights) and check it against FP32.

    python tools/fusion/quantize.py --calibration work/fusion/data/val --check work/fusion/data/test

The calibration reader feeds real generated parts (all modalities present, plus some with modalities
missing, as at a station). Accepted only if INT8 macro-F1 is within 1 point of FP32 on --check and the file
is <= 1 MB; then recorded in models/manifest.yaml.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dataset as ds
from export import REPO, file_entry
from metrics import macro_f1

from edge.fusion.codes import CLASSES
from edge.runtime import ModelSession, update_manifest_entry

MAX_BYTES = 1_000_000


class FusionCalibration(CalibrationDataReader):
    """Batches of parts; every fourth batch has one modality switched off, so ranges cover those inputs too."""

    def __init__(self, arrays: ds.Arrays, batches: int = 16, batch: int = 32) -> None:
        masks = [(1, 1, 1), (1, 1, 1), (1, 1, 1), (1, 0, 1), (1, 1, 0)]
        self.items = []
        for b in range(min(batches, int(np.ceil(len(arrays) / batch)))):
            feeds = arrays.feeds(np.arange(b * batch, min((b + 1) * batch, len(arrays))))
            feeds["present"] = feeds["present"] * np.array(masks[b % len(masks)], np.float32)
            self.items.append(feeds)
        self.position = 0

    def get_next(self) -> dict | None:
        if self.position >= len(self.items):
            return None
        self.position += 1
        return self.items[self.position - 1]

    def rewind(self) -> None:
        self.position = 0


def score(path: Path, arrays: ds.Arrays) -> float:
    session = ModelSession(path, providers=["cpu"])
    probs = np.concatenate([session.run(arrays.feeds(np.arange(s, min(s + 256, len(arrays)))))[0]
                            for s in range(0, len(arrays), 256)])
    return macro_f1(arrays.labels, probs.argmax(1), len(CLASSES))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibration", type=Path, default=Path("work/fusion/data/val"))
    parser.add_argument("--check", type=Path, default=Path("work/fusion/data/test"))
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--name", default="fusion")
    args = parser.parse_args(argv)
    fp32 = args.models_dir / f"{args.name}-fp32.onnx"
    int8 = args.models_dir / f"{args.name}-int8.onnx"
    quantize_static(
        str(fp32), str(int8), FusionCalibration(ds.load(args.calibration)),
        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8, op_types_to_quantize=["Conv", "Gemm", "MatMul"],
    )
    check = ds.load(args.check)
    f1_fp32, f1_int8 = score(fp32, check), score(int8, check)
    size = int8.stat().st_size
    print(f"{int8}: {size} bytes; macro-F1 on {args.check} ({len(check)} parts): fp32 {f1_fp32:.4f} int8 {f1_int8:.4f}")
    if abs(f1_fp32 - f1_int8) > 0.01 or size > MAX_BYTES:
        raise SystemExit("INT8 model rejected: more than 1 point of macro-F1 away from FP32, or larger than 1 MB")
    update_manifest_entry(args.models_dir, args.name, {
        "files": {"int8": file_entry(int8)},
        "quantization": {
            "method": "onnxruntime quantize_static, QDQ, per-channel int8 weights, uint8 activations, Conv/Gemm/MatMul",
            "calibration": f"{args.calibration} (16 batches of 32 parts, some with a modality switched off)",
            "check": {"data": str(args.check), "parts": len(check), "macro_f1_fp32": round(f1_fp32, 4),
                      "macro_f1_int8": round(f1_int8, 4)},
            "command": f"python tools/fusion/quantize.py --calibration {args.calibration} --check {args.check}",
        },
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
