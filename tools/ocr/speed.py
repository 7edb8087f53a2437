"""Where the OCR time goes, INT8 vs FP32: onnxruntime's per-operator kernel time, and batched reading.

    python tools/ocr/speed.py                 # both models in models/, 1 thread

1. Kernel time per operator type (onnxruntime profiler) over `--runs` single lines of random width, the two
   models taking turns: what quantization changes, without the per-call costs it cannot change.
2. The real held-out lines read the way `edge ocr` reads many crops (lines of similar width batched), with
   the two models taking turns `--repeats` times: the whole-command speed-up.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import onnxruntime as ort
import realdata
from common import open_recognizer

ROOT = Path(__file__).resolve().parents[2]


def kernel_profiles(models: dict[str, Path], runs: int, seed: int = 0) -> dict[str, collections.Counter]:
    """Microseconds per run spent in each operator type, the models taking turns on the same lines."""
    sessions = {}
    for name, model in models.items():
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.enable_profiling = True
        options.profile_file_prefix = f"/tmp/edge-ocr-profile-{name}-{os.getpid()}"
        sessions[name] = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    for _ in range(runs):
        width = int(rng.integers(60, 300)) // 4 * 4
        line = rng.random((1, 1, 32, width), dtype=np.float32)
        for session in sessions.values():
            session.run(None, {session.get_inputs()[0].name: line})
    profiles = {}
    for name, session in sessions.items():
        trace = Path(session.end_profiling())
        per_op: collections.Counter = collections.Counter()
        for event in json.loads(trace.read_text()):
            if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
                per_op[event["args"]["op_name"]] += event["dur"] / runs
        trace.unlink()
        profiles[name] = per_op
    return profiles


def batched_reading(models: dict[str, Path], repeats: int) -> dict[str, float]:
    """Median seconds to read every held-out real line with Recognizer.recognize (batched by width)."""
    images = [realdata.read_image(x) for x in realdata.load_lines("heldout")]
    recognizers = {name: open_recognizer(path) for name, path in models.items()}
    seconds: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, recognizer in recognizers.items():
            start = time.perf_counter()
            recognizer.recognize(images)
            seconds[name].append(time.perf_counter() - start)
    print(f"{len(images)} real lines, batched as `edge ocr` reads many crops, median of {repeats}:")
    return {name: float(np.median(s)) for name, s in seconds.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--int8", type=Path, default=ROOT / "models" / "ocr-crnn-int8.onnx")
    parser.add_argument("--fp32", type=Path, default=ROOT / "models" / "ocr-crnn-fp32.onnx")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    models = {"int8": args.int8, "fp32": args.fp32}

    totals = {}
    for name, per_op in kernel_profiles(models, args.runs).items():
        totals[name] = sum(per_op.values())
        print(f"{name}: kernel time {totals[name]:.0f} us per line ({args.runs} lines of width 60-300 px)")
        for op, us in per_op.most_common(8):
            print(f"  {op:24s} {us:8.1f} us  {100 * us / totals[name]:5.1f}%")
    print(f"kernel time FP32 / INT8: {totals['fp32'] / totals['int8']:.2f}x")

    batched = batched_reading(models, args.repeats)
    for name, seconds in batched.items():
        print(f"  {name}: {seconds:.3f} s")
    print(f"batched FP32 / INT8: {batched['fp32'] / batched['int8']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
