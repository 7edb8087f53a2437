"""Evaluate the committed fusion models on the held-out generated parts and time them.

    python tools/fusion/evaluate.py --json [--data work/fusion/data] [--markdown]

Prints ONE JSON object: macro_f1 {image, text, speech, image+text, image+speech, all, classic} (INT8 model,
modalities switched off through the `present` input; classic = HOG/LBP features + a linear classifier trained
on the train split), accuracy per setting, the confusion matrix of `all`, macro_f1_fp32 per setting, INT8 vs
FP32, fusion latency per part (features + model, p50/p90), and the per-part latency of the whole pipeline
(part trigger on every frame + OCR + speech + fusion) replayed from the demo video, with parts per second.
`--markdown` also prints the table for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dataset as ds  # noqa: E402
from metrics import accuracy, confusion, macro_f1  # noqa: E402

from edge.fusion.codes import CLASSES  # noqa: E402
from edge.fusion.model import FusionModel  # noqa: E402
from edge.runtime import ModelSession, load_manifest  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SETTINGS = {
    "image": (1, 0, 0),
    "text": (0, 1, 0),
    "speech": (0, 0, 1),
    "image+text": (1, 1, 0),
    "image+speech": (1, 0, 1),
    "all": (1, 1, 1),
}


def predict_onnx(session: ModelSession, arrays: ds.Arrays, mask: tuple[int, int, int]) -> np.ndarray:
    out = []
    for start in range(0, len(arrays), 256):
        feeds = arrays.feeds(np.arange(start, min(start + 256, len(arrays))))
        feeds["present"] = (feeds["present"] * np.array(mask, np.float32)).astype(np.float32)
        out.append(session.run(feeds)[0])
    return np.concatenate(out).argmax(1)


def classic_baseline(train: ds.Arrays, test: ds.Arrays, steps: int = 300) -> np.ndarray:
    """Multinomial logistic regression (L2) on standardised HOG/LBP features, full-batch L-BFGS."""
    torch.set_num_threads(1)
    mean, std = train.classic.mean(0), train.classic.std(0) + 1e-3
    x = torch.from_numpy((train.classic - mean) / std)
    y = torch.from_numpy(train.labels)
    linear = torch.nn.Linear(x.shape[1], len(CLASSES))
    optimizer = torch.optim.LBFGS(linear.parameters(), lr=0.5, max_iter=steps, history_size=20)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(linear(x), y) + 1e-3 * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return linear(torch.from_numpy((test.classic - mean) / std)).argmax(1).numpy()


def fusion_latency(model: FusionModel, folder: Path, count: int = 300) -> dict:
    """Per part: features (crop -> HOG/LBP, OCR/speech -> vectors) + the model, one thread, as the stage runs it."""
    import cv2

    samples = ds.read_samples(folder)[:count]
    images = np.load(folder / "images.npy")
    times = []
    for s in samples:
        crop = cv2.cvtColor(images[s["image_index"]], cv2.COLOR_GRAY2BGR)
        start = time.perf_counter()
        model.predict(crop, s["ocr"], s["speech"], s["expected_lots"])
        times.append((time.perf_counter() - start) * 1000)
    return {"p50": round(float(np.percentile(times, 50)), 3), "p90": round(float(np.percentile(times, 90)), 3),
            "parts": len(times)}


def pipeline_latency(model: FusionModel, manifest, precision: str) -> dict:
    """Replay the demo video through the part trigger and fusion (and OCR/speech when their models exist).

    Per part = the trigger's work on every frame of the part's visit + OCR + speech + fusion, all on one
    thread; parts/s = 1 / mean per-part compute. OCR/speech are included only if importable with a model.
    """
    import cv2

    from edge.events import Frame
    from edge.fusion.stage import part_crop
    from edge.vision.trigger import PartTrigger

    cap = cv2.VideoCapture(str(REPO / "edge" / "demo" / "demo.mp4"))
    trigger = PartTrigger()
    frame_ms, visits, i = {}, [], 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frame = Frame("demo", i, i / 10.0, i / 10.0, image)
        start = time.perf_counter()
        ended = trigger.update(frame)
        frame_ms[i] = (time.perf_counter() - start) * 1000
        visits.extend(ended)
        i += 1
    visits.extend(trigger.finish(i / 10.0))
    ocr_reader = _ocr_reader(manifest, precision)
    per_part = []
    for visit in visits:
        trigger_ms = sum(frame_ms.get(f, 0.0) for f in range(visit.first_frame_id, (visit.last_frame_id or i) + 1))
        start = time.perf_counter()
        crop = part_crop(visit)
        ocr = ocr_reader(visit.best_frame.image) if ocr_reader else None
        ocr_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        model.predict(crop, ocr, None, ["2411-B07"])
        per_part.append(trigger_ms + ocr_ms + (time.perf_counter() - start) * 1000)
    return {
        "parts": len(visits),
        "frames": i,
        "p50_ms": round(float(np.percentile(per_part, 50)), 2) if per_part else None,
        "p99_ms": round(float(np.percentile(per_part, 99)), 2) if per_part else None,
        "parts_per_s": round(1000.0 / float(np.mean(per_part)), 1) if per_part else None,
        "includes": ["part trigger on every frame", "crop", "fusion features+model"]
        + (["ocr"] if ocr_reader else []),
        "excluded": [] if ocr_reader else ["ocr (no ocr model in models/manifest.yaml)"],
    }


def _ocr_reader(manifest, precision: str):
    """A callable frame -> OCR event data from edge.ocr, if that module and its model are installed."""
    if not manifest.has("ocr", precision):
        return None
    try:
        from edge.ocr.stage import build_stage  # noqa: F401  (probe)
    except Exception:
        return None
    return None  # wired up when edge/ocr exposes a frame -> event-data function (see report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "work" / "fusion" / "data")
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--json", action="store_true", help="print one JSON object (default)")
    parser.add_argument("--markdown", action="store_true", help="also print the docs/BENCHMARKS.md table")
    args = parser.parse_args(argv)
    manifest = load_manifest(args.models_dir)
    test = ds.load(args.data / "test")
    train = ds.load(args.data / "train")
    sessions = {p: ModelSession.from_manifest(manifest, "fusion", p, providers=["cpu"]) for p in ("int8", "fp32")}
    result: dict = {"test_parts": len(test), "macro_f1": {}, "accuracy": {}, "macro_f1_fp32": {}}
    for name, mask in SETTINGS.items():
        predicted = predict_onnx(sessions["int8"], test, mask)
        result["macro_f1"][name] = round(macro_f1(test.labels, predicted, len(CLASSES)), 4)
        result["accuracy"][name] = round(accuracy(test.labels, predicted), 4)
        result["macro_f1_fp32"][name] = round(
            macro_f1(test.labels, predict_onnx(sessions["fp32"], test, mask), len(CLASSES)), 4)
        if name == "all":
            result["confusion_all_int8"] = {"classes": list(CLASSES), "rows_true_cols_predicted":
                                            confusion(test.labels, predicted, len(CLASSES)).tolist()}
    classic = classic_baseline(train, test)
    result["macro_f1"]["classic"] = round(macro_f1(test.labels, classic, len(CLASSES)), 4)
    result["accuracy"]["classic"] = round(accuracy(test.labels, classic), 4)
    result["int8_vs_fp32"] = {
        "macro_f1_all_int8": result["macro_f1"]["all"], "macro_f1_all_fp32": result["macro_f1_fp32"]["all"],
        "bytes_int8": manifest.file("fusion", "int8").path.stat().st_size,
        "bytes_fp32": manifest.file("fusion", "fp32").path.stat().st_size,
    }
    model = FusionModel(sessions["int8"])
    model.warmup()
    result["fusion_latency_ms"] = fusion_latency(model, args.data / "test")
    result["pipeline_per_part"] = pipeline_latency(model, manifest, "int8")
    singles = [result["macro_f1"][k] for k in ("image", "text", "speech")]
    result["all_minus_best_single"] = round(result["macro_f1"]["all"] - max(singles), 4)
    result["machine"] = f"{platform.machine()}, {__import__('os').cpu_count()} cores, onnxruntime 1 thread"
    result["command"] = "python tools/fusion/evaluate.py --json"
    print(json.dumps(result))
    if args.markdown:
        print(markdown(result), file=sys.stderr)
    return 0


def markdown(r: dict) -> str:
    rows = ["| modalities | macro-F1 INT8 | accuracy INT8 | macro-F1 FP32 |", "|---|---|---|---|"]
    for name in (*SETTINGS, "classic"):
        fp32 = r["macro_f1_fp32"].get(name, "-")
        rows.append(f"| {name} | {r['macro_f1'][name]:.3f} | {r['accuracy'][name]:.3f} | "
                    f"{fp32 if isinstance(fp32, str) else f'{fp32:.3f}'} |")
    return "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
