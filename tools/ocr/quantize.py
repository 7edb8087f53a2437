"""Quantise the FP32 CRNN to INT8 with onnxruntime; measure the candidate recipes and keep the best.

Recipes (all per-channel INT8 weights):
  static        every Conv/MatMul static QDQ (calibrated activations), with Relu and MaxPool in the same
                quantised domain so no dequantize/quantize pair sits between layers; the LSTM stays FP32
  static+dyn    as `static`, then the LSTM dynamically quantised (DynamicQuantizeLSTM)
  static+dyn-fp32-first  as `static+dyn`, but the first conv block (conv, relu, max pool) stays FP32: with one
                input channel an INT8 convolution cannot use its dot-product kernels and ran ~10x slower than
                the FP32 one (onnxruntime profiler, tools/ocr/speed.py), and it holds 0.03% of the weights
  dynamic       every supported op dynamically quantised (no calibration)
Calibration data: real-looking lines = the real-dev TRAIN split (never the held-out split we score on)
plus synthetic training-font lines, one line per batch, padded/cropped to 256 pixels wide.

    python tools/ocr/quantize.py --fp32 models/ocr-crnn-fp32.onnx --out models/ocr-crnn-int8.onnx
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import realdata
from common import open_recognizer, read_one_by_one, score_real
from export import set_metadata
from make_data import load

from edge.ocr.preprocess import normalize_line, to_tensor
from edge.runtime import read_metadata, sha256_of, update_manifest_entry

CALIBRATION_WIDTH = 256


def fixed_width(line: np.ndarray, width: int = CALIBRATION_WIDTH) -> np.ndarray:
    """Crop or pad (with the line's background) to one width: histogram calibrators need equal shapes."""
    line = line[:, :width]
    if line.shape[1] < width:
        background = int(np.median(line[:, -2:]))
        line = np.pad(line, ((0, 0), (0, width - line.shape[1])), constant_values=background)
    return line


class LineCalibrationReader(CalibrationDataReader):
    """Feeds one normalised line at a time (batch 1, padded or cropped to CALIBRATION_WIDTH)."""

    def __init__(self, lines: list[np.ndarray]) -> None:
        self.lines = [fixed_width(line) for line in lines]
        self.index = 0

    def get_next(self):
        if self.index >= len(self.lines):
            return None
        line = self.lines[self.index]
        self.index += 1
        return {"image": to_tensor([line])}

    def rewind(self) -> None:
        self.index = 0


def calibration_lines(count: int, synthetic: Path | None, seed: int = 0) -> list[np.ndarray]:
    rng = random.Random(seed)
    real = realdata.load_lines("train")
    rng.shuffle(real)
    lines = [normalize_line(realdata.read_image(x)) for x in real[: count // 2]]
    if synthetic and synthetic.is_file():
        images, _ = load(synthetic)
        lines += rng.sample(images, min(len(images), count - len(lines)))
    return lines


# the first conv block, by its node names in the exported graph (tools/ocr/export.py)
FIRST_CONV, FIRST_RELU, FIRST_POOL = ("/features/features.0/features.0.0/Conv", "/features/features.0/features.0.2/Relu",
                                      "/features/features.1/MaxPool")


def pool_before_relu(model: onnx.ModelProto) -> onnx.ModelProto:
    """Conv -> Relu -> MaxPool becomes Conv -> MaxPool -> Relu in the first block (the same function: ReLU is
    monotonic, so it commutes with max). Then onnxruntime runs the FP32 pool in its blocked layout instead of
    its plain one (measured 8 us vs 300-450 us per line), and the ReLU on a quarter of the values."""
    nodes = {node.name: node for node in model.graph.node}
    relu, pool = nodes[FIRST_RELU], nodes[FIRST_POOL]
    conv_out, pool_out = relu.input[0], pool.output[0]
    pool.input[0], pool.output[0] = conv_out, pool_out + "_before_relu"
    relu.input[0], relu.output[0] = pool_out + "_before_relu", pool_out
    order = list(model.graph.node)
    order.remove(relu)
    order.insert(order.index(pool) + 1, relu)
    del model.graph.node[:]
    model.graph.node.extend(order)
    return model


def quantise(recipe: str, fp32: Path, out: Path, calib: list[np.ndarray], method: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        source = fp32
        if recipe.endswith("fp32-first"):
            source = Path(tmp) / "swapped.onnx"
            onnx.save(pool_before_relu(onnx.load(str(fp32))), str(source))
        quant_pre_process(str(source), str(pre), skip_symbolic_shape=True)
        calibrate = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                     "percentile": CalibrationMethod.Percentile}[method]
        if recipe in ("static", "static+dyn", "static+dyn-fp32-first"):
            stage = Path(tmp) / "static.onnx" if recipe.startswith("static+dyn") else out
            quantize_static(str(pre), str(stage), LineCalibrationReader(calib), quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=["Conv", "Relu", "MaxPool", "MatMul"], per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=calibrate,
                            nodes_to_exclude=[FIRST_CONV, FIRST_POOL, FIRST_RELU] if recipe.endswith("fp32-first") else None,
                            extra_options={"CalibPercentile": 99.99} if method == "percentile" else None)
            if recipe.startswith("static+dyn"):
                quantize_dynamic(str(stage), str(out), op_types_to_quantize=["LSTM"], per_channel=True,
                                 weight_type=QuantType.QInt8)
        elif recipe == "dynamic":
            quantize_dynamic(str(pre), str(out), op_types_to_quantize=["Conv", "MatMul", "LSTM"], per_channel=True,
                             weight_type=QuantType.QInt8)
        else:
            raise SystemExit(f"unknown recipe {recipe}")
    props = read_metadata(fp32)
    props["quantisation"] = f"{recipe}; per-channel int8 weights; calibration {method}"
    set_metadata(out, props)
    onnx.checker.check_model(onnx.load(str(out)))


def measure(path: Path, lines: list[realdata.RealLine], images: list[np.ndarray]) -> dict:
    preds, _ = read_one_by_one(open_recognizer(path), images)
    scores = score_real(preds, lines)
    return {"cer": {k: round(v[0], 4) for k, v in scores.items()},
            "acc": {k: round(v[1], 4) for k, v in scores.items()},
            "bytes": path.stat().st_size, "preds": preds}


def model_latency(paths: dict[str, Path], images: list[np.ndarray], passes: int = 3, block: int = 20
                  ) -> dict[str, float]:
    """p50 ms per line of each model alone (preprocessing is the same for all, so it is left out), batch 1.

    The models take turns, `block` lines each, over several passes: measured one after another, the
    candidates' p50s moved by more than the differences between them on this shared machine.
    """
    sessions = {name: open_recognizer(path).session for name, path in paths.items()}
    tensors = [to_tensor([normalize_line(image)]) for image in images]
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(passes):
        for first in range(0, len(tensors), block):
            for name, session in sessions.items():
                session.run({"image": tensors[first]})  # re-warm this model's caches; not timed
                for x in tensors[first: first + block]:
                    start = time.perf_counter()
                    session.run({"image": x})
                    seconds[name].append(time.perf_counter() - start)
    return {name: round(float(np.median(values)) * 1000, 3) for name, values in seconds.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fp32", type=Path, default=Path("models/ocr-crnn-fp32.onnx"))
    parser.add_argument("--out", type=Path, default=Path("models/ocr-crnn-int8.onnx"))
    parser.add_argument("--recipes", nargs="+", default=["static", "static+dyn", "static+dyn-fp32-first", "dynamic"])
    parser.add_argument("--calibration", default="percentile", choices=["minmax", "entropy", "percentile"])
    parser.add_argument("--calibration-lines", type=int, default=200)
    parser.add_argument("--synthetic", type=Path, default=Path("work/ocr/data/train_a.npz"))
    parser.add_argument("--no-manifest", action="store_true")
    args = parser.parse_args()

    calib = calibration_lines(args.calibration_lines, args.synthetic)
    lines = realdata.load_lines("heldout")
    images = [realdata.read_image(x) for x in lines]
    fp32 = measure(args.fp32, lines, images)
    print(f"fp32: CER {fp32['cer']} acc {fp32['acc']}", flush=True)
    results = {}
    work = Path(tempfile.mkdtemp())
    paths = {recipe: work / f"{recipe.replace('+', '_')}.onnx" for recipe in args.recipes}
    for recipe, candidate in paths.items():
        quantise(recipe, args.fp32, candidate, calib, args.calibration)
        results[recipe] = measure(candidate, lines, images)
        r = results[recipe]
        print(f"{recipe}: CER {r['cer']} acc {r['acc']}, {r['bytes']} bytes", flush=True)
    print("timing the models in turns ...", flush=True)
    for name, ms in model_latency(paths | {"fp32": args.fp32}, images).items():
        (fp32 if name == "fp32" else results[name])["model_p50_ms"] = ms
        print(f"  {name}: model p50 {ms:.3f} ms per line", flush=True)
    # Fastest among candidates within 0.5 points of FP32's pooled CER; otherwise simply the best CER.
    fp32_cer = fp32["cer"]["pooled"]
    close = [r for r in results if results[r]["cer"]["pooled"] <= fp32_cer + 0.005]
    pool = close or list(results)
    chosen = min(pool, key=lambda r: (results[r]["model_p50_ms"] if close else results[r]["cer"]["pooled"]))
    shutil.copy(work / f"{chosen.replace('+', '_')}.onnx", args.out)
    shutil.rmtree(work)
    print(f"chosen: {chosen} -> {args.out}")
    summary = {r: {k: v for k, v in results[r].items() if k != "preds"} for r in results}
    summary["fp32"] = {k: v for k, v in fp32.items() if k != "preds"}
    print(json.dumps(summary, indent=1))
    if not args.no_manifest:
        update_manifest_entry(args.out.parent, "ocr", {
            "files": {"int8": {"file": args.out.name, "sha256": sha256_of(args.out), "bytes": args.out.stat().st_size}},
            "quantisation": {
                "chosen": chosen, "calibration": f"{args.calibration}, {len(calib)} lines (real-dev train split "
                "+ synthetic training fonts)",
                "candidates_on_real_dev_heldout": summary,
                "command": "python tools/ocr/quantize.py --fp32 models/ocr-crnn-fp32.onnx --out models/ocr-crnn-int8.onnx",
            },
        })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
