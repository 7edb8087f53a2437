"""Copy a generated dataset split with the SIMULATED OCR (and speech) events replaced by what the real edge
models produce, so the fusion model can be trained/evaluated on real recogniser behaviour.

    python tools/fusion/real_events.py --data work/fusion/data/train --out work/fusion/data_real/train [--workers 2]

Each part is re-rendered from its seed (tools/fusion/make_data.render_sample), the frame is read by edge.ocr
exactly as its stage reads a frame; if a speech model is installed, the operator's words are spoken by espeak-ng
and recognised by edge.speech. The crop images are shared (same images.npy). Without an OCR model this refuses.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from evaluate import operator_audio, real_ocr, real_speech
from make_data import render_sample

from edge.runtime import load_manifest

_WORKER: dict = {}


def _init(precision: str, seed: int, split: str) -> None:
    manifest = load_manifest()
    _WORKER.update(ocr=real_ocr(manifest, precision), listen=real_speech(manifest, precision), seed=seed, split=split)


def _convert(sample: dict) -> dict:
    index = int(sample["id"].split("-")[1])
    _, frame, _, _ = render_sample(_WORKER["split"], index, _WORKER["seed"])
    out = dict(sample)
    out["ocr_simulated"] = sample["ocr"]
    out["ocr"] = _WORKER["ocr"](frame)
    if _WORKER["listen"] is not None:
        rng = np.random.default_rng([_WORKER["seed"], index, 99])
        out["speech_simulated"] = sample["speech"]
        out["speech"] = _WORKER["listen"](operator_audio(sample["said"], rng))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a generated split folder, e.g. work/fusion/data/train")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=5, help="the seed make_data.py used")
    parser.add_argument("--precision", default="int8")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    manifest = load_manifest()
    if not manifest.has("ocr", args.precision):
        raise SystemExit("no OCR model in models/manifest.yaml; nothing real to record")
    samples = [json.loads(line) for line in (args.data / "samples.jsonl").read_text().splitlines() if line.strip()]
    if args.limit:
        samples = samples[: args.limit]
    split = samples[0]["id"].split("-")[0]
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.copy(args.data / "images.npy", args.out / "images.npy")
    start = time.time()
    converted = []
    with Pool(args.workers, initializer=_init, initargs=(args.precision, args.seed, split)) as pool:
        for i, sample in enumerate(pool.imap(_convert, samples, chunksize=16)):
            converted.append(sample)
            if (i + 1) % 500 == 0:
                print(f"{i + 1}/{len(samples)} ({time.time() - start:.0f} s)", flush=True)
    with open(args.out / "samples.jsonl", "w") as fh:
        for sample in converted:
            fh.write(json.dumps(sample) + "\n")
    speech = "edge.speech" if real_speech(manifest, args.precision) else "simulated (no speech model)"
    (args.out / "manifest.json").write_text(json.dumps({
        "source": f"tools/fusion/real_events.py --data {args.data}", "ocr": "edge.ocr " + args.precision,
        "ocr_model_sha256": manifest.file("ocr", args.precision).sha256, "speech": speech, "count": len(converted),
    }, indent=1))
    print(f"{len(converted)} samples with real OCR in {time.time() - start:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
