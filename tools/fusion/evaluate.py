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
import dataset as ds
from metrics import accuracy, confusion, macro_f1

from edge.errors import EdgeError
from edge.fusion.codes import CLASSES
from edge.fusion.model import FusionModel
from edge.runtime import ModelSession, load_manifest

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
    ocr_reader = real_ocr(manifest, precision)
    listen = real_speech(manifest, precision)
    audio, rate = None, 16000
    if listen:
        from edge.sources.audio import read_wav, resample

        audio, rate = read_wav(REPO / "edge" / "demo" / "demo.wav")
        audio = resample(audio, rate, 16000)
    per_part = []
    for visit in visits:
        trigger_ms = sum(frame_ms.get(f, 0.0) for f in range(visit.first_frame_id, (visit.last_frame_id or i) + 1))
        start = time.perf_counter()
        crop = part_crop(visit)
        ocr = ocr_reader(visit.best_frame.image) if ocr_reader else None
        speech = None
        if listen:  # the audio of the part's visit (the stage gets utterances; here we pay for recognising them)
            a, b = int(visit.t_arrive * 16000) - 8000, int((visit.t_leave or visit.t_arrive) * 16000) + 16000
            speech = listen(audio[max(0, a) : b])
        ocr_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        model.predict(crop, ocr, speech, ["2411-B07"])
        per_part.append(trigger_ms + ocr_ms + (time.perf_counter() - start) * 1000)
    return {
        "parts": len(visits),
        "frames": i,
        "p50_ms": round(float(np.percentile(per_part, 50)), 2) if per_part else None,
        "p99_ms": round(float(np.percentile(per_part, 99)), 2) if per_part else None,
        "parts_per_s": round(1000.0 / float(np.mean(per_part)), 1) if per_part else None,
        "includes": ["part trigger on every frame", "crop", "fusion features+model"]
        + (["ocr (one read of the best frame)"] if ocr_reader else [])
        + (["speech (recognising the visit's audio)"] if listen else []),
        "excluded": ([] if ocr_reader else ["ocr (no ocr model in models/manifest.yaml)"])
        + ([] if listen else ["speech (no speech model in models/manifest.yaml)"]),
    }


def real_ocr(manifest, precision: str):
    """frame -> OCR event data through edge.ocr (as its stage reads a frame), or None without an OCR model."""
    if not manifest.has("ocr", precision):
        return None
    from edge.ocr.reader import ImageReader, join_lines
    from edge.ocr.recognizer import Recognizer
    from edge.ocr.settings import OcrConfig

    try:
        reader = ImageReader(Recognizer.from_manifest(manifest, precision, providers=["cpu"], threads=1), OcrConfig())
    except EdgeError as exc:  # e.g. the OCR model is being replaced right now: measure without it, say so
        print(f"evaluate: OCR model unusable, left out: {exc}", file=sys.stderr)
        return None

    def read(image: np.ndarray) -> dict:
        lines = reader.read_image(image)
        text, confidence = join_lines(lines)
        return {"text": text, "confidence": round(float(confidence), 4), "lines": [ln.to_dict() for ln in lines],
                "voted": False}

    return read


def real_speech(manifest, precision: str):
    """16 kHz audio -> merged speech event data through edge.speech, or None without a speech model."""
    if not manifest.has("speech", precision):
        return None
    from edge.fusion.features import merge_speech
    from edge.speech.recognizer import Recognizer, SpeechModel
    from edge.speech.settings import SpeechConfig

    try:
        model = SpeechModel.load(manifest, "speech", precision, ["cpu"], 1)
    except EdgeError as exc:
        print(f"evaluate: speech model unusable, left out: {exc}", file=sys.stderr)
        return None
    config = SpeechConfig()

    def listen(audio: np.ndarray) -> dict:
        recognizer = Recognizer(model, config)
        utterances = recognizer.push(audio) + recognizer.flush()
        events = [{"transcript": u.transcript, "words": u.words(), "confidence": float(u.confidence),
                   "rejected": bool(u.decoded.rejected)} for u in utterances if u.decoded.words]
        return merge_speech(events) or {"words": [], "transcript": "", "confidence": 0.0, "rejected": False}

    return listen


def operator_audio(words: list[str], rng: np.random.Generator, seconds: float = 2.5) -> np.ndarray:
    """What the microphone hears while a part is under the camera: espeak-ng saying `words` over hiss."""
    import subprocess
    import tempfile

    from edge.sources.audio import read_wav, resample

    audio = (rng.standard_normal(int(seconds * 16000)) * 0.003).astype(np.float32)
    if words:
        voice = str(rng.choice(["en-us", "en", "en-us+m3", "en-us+f2", "en+m5"]))
        with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(int(rng.integers(120, 170))), "-w", tmp.name,
                            " ".join(words)], check=True)
            speech, rate = read_wav(tmp.name)
        speech = resample(speech, rate, 16000)[: len(audio) - 4000]
        start = int(rng.integers(1600, len(audio) - len(speech)))
        audio[start : start + len(speech)] += 0.5 * speech / max(1e-6, float(np.abs(speech).max()))
    return audio


def evaluate_real(model: FusionModel, manifest, precision: str, data: Path, count: int, seed: int = 5) -> dict:
    """Re-render `count` test parts and feed the fusion model what the REAL OCR and speech models produce
    (instead of the simulated events it was trained on); also times OCR and speech per part."""

    from make_data import render_sample

    from edge.vision.parts import crop_part, find_part

    ocr, listen = real_ocr(manifest, precision), real_speech(manifest, precision)
    if ocr is None and listen is None:
        return {"skipped": "no OCR or speech model in models/manifest.yaml"}
    samples = ds.read_samples(data)[:count]
    labels, predicted, ocr_ms, speech_ms = [], [], [], []
    rng = np.random.default_rng(seed)
    for s in samples:
        index = int(s["id"].split("-")[1])
        _, frame, background, _ = render_sample("test", index, seed)
        crop = crop_part(frame, find_part(frame, background), (96, 64))
        t0 = time.perf_counter()
        ocr_data = ocr(frame) if ocr else s["ocr"]
        t1 = time.perf_counter()
        speech_data = listen(operator_audio(s["said"], rng)) if listen else s["speech"]
        t2 = time.perf_counter()
        ocr_ms.append((t1 - t0) * 1000)
        speech_ms.append((t2 - t1) * 1000)
        labels.append(CLASSES.index(s["label"]))
        predicted.append(CLASSES.index(model.predict(crop, ocr_data, speech_data, s["expected_lots"]).verdict))
    labels_a, predicted_a = np.array(labels), np.array(predicted)
    return {
        "parts": len(samples),
        "ocr": "edge.ocr model" if ocr else "simulated",
        "speech": "edge.speech model on espeak-ng audio" if listen else "simulated",
        "macro_f1_all": round(macro_f1(labels_a, predicted_a, len(CLASSES)), 4),
        "accuracy_all": round(accuracy(labels_a, predicted_a), 4),
        "confusion": confusion(labels_a, predicted_a, len(CLASSES)).tolist(),
        "ocr_ms_p50": round(float(np.percentile(ocr_ms, 50)), 2) if ocr else None,
        "speech_ms_p50_per_2_5_s_of_audio": round(float(np.percentile(speech_ms, 50)), 2) if listen else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "work" / "fusion" / "data")
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--json", action="store_true", help="print one JSON object (default)")
    parser.add_argument("--markdown", action="store_true", help="also print the docs/BENCHMARKS.md table")
    parser.add_argument("--real", type=int, default=100, help="test parts to re-render and time through the real "
                        "OCR/speech models")
    parser.add_argument("--real-data", type=Path, default=REPO / "work" / "fusion" / "data_real" / "test",
                        help="the test split with real OCR events (tools/fusion/real_events.py); skipped if absent")
    parser.add_argument("--update-manifest", action="store_true", help="store the metrics in models/manifest.yaml")
    parser.add_argument("--write-docs", action="store_true", help="replace the '## Fusion' section of docs/BENCHMARKS.md")
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
    if (args.real_data / "samples.jsonl").is_file():
        real = ds.load(args.real_data)
        result["real_ocr_test"] = {"data": str(args.real_data), "parts": len(real),
                                   "note": "OCR events from the edge.ocr model on the re-rendered frames; speech simulated"}
        result["macro_f1_real_ocr"] = {
            name: round(macro_f1(real.labels, predict_onnx(sessions["int8"], real, mask), len(CLASSES)), 4)
            for name, mask in SETTINGS.items() if mask[1]}
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
    result["real_models"] = evaluate_real(model, manifest, "int8", args.data / "test", args.real) if args.real else {}
    singles = [result["macro_f1"][k] for k in ("image", "text", "speech")]
    result["all_minus_best_single"] = round(result["macro_f1"]["all"] - max(singles), 4)
    result["machine"] = f"{platform.machine()}, {__import__('os').cpu_count()} cores, onnxruntime 1 thread"
    result["command"] = "python tools/fusion/evaluate.py --json"
    print(json.dumps(result))
    if args.update_manifest:
        from edge.runtime import update_manifest_entry

        update_manifest_entry(args.models_dir, "fusion", {"metrics": {
            k: result[k] for k in ("test_parts", "macro_f1", "accuracy", "macro_f1_fp32", "int8_vs_fp32",
                                   "macro_f1_real_ocr", "fusion_latency_ms", "pipeline_per_part", "real_models",
                                   "machine", "command") if k in result}})
    if args.markdown:
        print(markdown(result), file=sys.stderr)
    if args.write_docs:
        write_section(REPO / "docs" / "BENCHMARKS.md", markdown(result))
    return 0


def write_section(path: Path, section: str) -> None:
    """Replace only the '## Fusion' section (up to the next '## ' heading); other helpers own the rest."""
    text = path.read_text() if path.is_file() else "# Benchmarks\n\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == "## Fusion"), None)
    if start is None:
        new = text.rstrip("\n") + "\n\n" + section
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        new = "".join(lines[:start]) + section + ("\n" if end < len(lines) else "") + "".join(lines[end:])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)


def markdown(r: dict) -> str:
    """The "## Fusion" section of docs/BENCHMARKS.md, from one evaluation result."""
    real = r.get("macro_f1_real_ocr", {})
    rows = [
        "| modalities | macro-F1 INT8 | accuracy INT8 | macro-F1 FP32 | macro-F1 INT8, real OCR |",
        "|---|---|---|---|---|",
    ]
    for name in (*SETTINGS, "classic"):
        fp32 = r["macro_f1_fp32"].get(name)
        rows.append(f"| {name} | {r['macro_f1'][name]:.3f} | {r['accuracy'][name]:.3f} | "
                    f"{'-' if fp32 is None else f'{fp32:.3f}'} | {real[name]:.3f} |" if name in real else
                    f"| {name} | {r['macro_f1'][name]:.3f} | {r['accuracy'][name]:.3f} | "
                    f"{'-' if fp32 is None else f'{fp32:.3f}'} | - |")
    conf = r["confusion_all_int8"]
    crow = ["| true \\ predicted | " + " | ".join(conf["classes"]) + " |", "|---" * (len(conf["classes"]) + 1) + "|"]
    for cls, row in zip(conf["classes"], conf["rows_true_cols_predicted"]):
        crow.append(f"| {cls} | " + " | ".join(str(v) for v in row) + " |")
    p = r["pipeline_per_part"]
    i8 = r["int8_vs_fp32"]
    lines = [
        "## Fusion",
        "",
        (f"Command: `{r['command']}` (held-out generated parts: {r['test_parts']} test parts rendered with 2 "
         "fonts not used in training). Machine: 2-core x86-64 VM, no GPU, shared with other training jobs while "
         "measured; onnxruntime 1 thread."),
        "",
        ("Modalities are switched off through the model's `present` input (one model trained with modality "
         "dropout). The main columns use the OCR and speech events SIMULATED by tools/fusion/simulate.py; last "
         f"column: {r.get('real_ocr_test', {}).get('note', 'not measured')} "
         "(tools/fusion/real_events.py). `classic` = HOG+LBP features of the crop + logistic regression."),
        "",
        *rows,
        "",
        f"All modalities minus the best single modality: {r['all_minus_best_single']:+.3f} macro-F1.",
        "",
        "Confusion matrix, all modalities, INT8 (simulated events):",
        "",
        *crow,
        "",
        (f"- INT8 vs FP32: macro-F1 {i8['macro_f1_all_int8']:.3f} vs {i8['macro_f1_all_fp32']:.3f}; "
         f"files {i8['bytes_int8'] / 1e3:.0f} KB vs {i8['bytes_fp32'] / 1e3:.0f} KB."),
        (f"- Fusion per part (features from crop/OCR/speech + INT8 model), {r['fusion_latency_ms']['parts']} "
         f"parts: p50 {r['fusion_latency_ms']['p50']:.2f} ms, p90 {r['fusion_latency_ms']['p90']:.2f} ms."),
        (f"- Whole pipeline per part on the demo video ({p['parts']} parts, {p['frames']} frames; "
         f"{', '.join(p['includes'])}; not included: {', '.join(p['excluded']) or 'nothing'}): "
         f"p50 {p['p50_ms']} ms, p99 {p['p99_ms']} ms, {p['parts_per_s']} parts/s on one thread."),
    ]
    rm = r.get("real_models") or {}
    if rm.get("parts"):
        lines.append(f"- Re-rendered {rm['parts']} test parts through {rm['ocr']} / {rm['speech']}: macro-F1 "
                     f"{rm['macro_f1_all']:.3f}; OCR p50 {rm['ocr_ms_p50']} ms per frame.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
