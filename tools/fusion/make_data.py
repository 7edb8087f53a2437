"""Generate the fusion dataset: rendered parts, their crops as the station's detector cuts them, and the OCR and
speech event data the other stages would produce (simulated from the ground truth, see simulate.py).

    python tools/fusion/make_data.py --out work/fusion/data [--train 10000 --val 1500 --test 3000] [--workers 2]

Each split is a dataset folder (see dataset.py). The test split uses fonts held out of training. No single
modality decides every class: wrong_code is only in the text, many surface defects only in the image, and the
operator's word adds evidence for subtle print and surface defects.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from render import available_fonts, random_spec, render_scene
from simulate import operator_words, simulate_ocr, simulate_speech

from edge.fusion.features import IMAGE_SIZE
from edge.vision.parts import crop_part, find_part

HELD_OUT_FONTS = ("croscore/Cousine-Bold.ttf", "freefont/FreeSansBold.ttf")


def split_fonts(split: str) -> list[str]:
    fonts = available_fonts()
    held = [f for f in fonts if f.endswith(HELD_OUT_FONTS)]
    return held if split == "test" and held else [f for f in fonts if f not in held]


def render_sample(split: str, index: int, seed: int):
    """(spec, frame, background, rng) of one sample; evaluate.py re-renders test parts with it for the real models."""
    rng = np.random.default_rng([seed, index, {"train": 0, "val": 1, "test": 2}[split]])
    spec = random_spec(rng, fonts=split_fonts(split))
    frame, background, _ = render_scene(spec)
    return spec, frame, background, rng


def make_sample(args: tuple[str, int, int]) -> tuple[np.ndarray, dict]:
    """One part: (gray crop [64, 96] uint8, sample record). Deterministic in (split, index, seed)."""
    split, index, seed = args
    spec, frame, background, rng = render_sample(split, index, seed)
    box = find_part(frame, background)
    if box is None:  # the detector must find every rendered part; fail loudly rather than train on a guess
        raise RuntimeError(f"{split} {index}: part not found by the detector")
    crop = crop_part(frame, box, IMAGE_SIZE)
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    quality = float(rng.uniform(0.6, 1.0))
    words = operator_words(spec, rng)
    record = {
        "id": f"{split}-{index:06d}",
        "label": spec.cls,
        "defect": spec.defect,
        "severity": round(spec.severity, 3),
        "printed": spec.printed_lines,
        "expected_lots": [spec.expected_lot],
        "said": words,
        "ocr": simulate_ocr(spec, rng, quality),
        "speech": simulate_speech(words, rng),
        "image_index": index,
    }
    return gray, record


def write_split(out: Path, split: str, count: int, seed: int, workers: int) -> None:
    folder = out / split
    folder.mkdir(parents=True, exist_ok=True)
    start = time.time()
    images, records = [], []
    jobs = [(split, i, seed) for i in range(count)]
    with Pool(workers) as pool:
        for i, (gray, record) in enumerate(pool.imap(make_sample, jobs, chunksize=32)):
            images.append(gray)
            records.append(record)
            if (i + 1) % 1000 == 0:
                print(f"{split}: {i + 1}/{count} ({time.time() - start:.0f} s)", flush=True)
    np.save(folder / "images.npy", np.stack(images))
    (folder / "classic.npy").unlink(missing_ok=True)
    with open(folder / "samples.jsonl", "w") as fh:
        for record in records:
            fh.write(json.dumps(record) + "\n")
    counts = {c: sum(r["label"] == c for r in records) for c in sorted({r["label"] for r in records})}
    (folder / "manifest.json").write_text(json.dumps({"source": "tools/fusion/make_data.py", "split": split,
                                                      "seed": seed, "count": count, "classes": counts}, indent=1))
    print(f"{split}: {count} samples in {time.time() - start:.0f} s: {counts}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("work/fusion/data"))
    parser.add_argument("--train", type=int, default=10000)
    parser.add_argument("--val", type=int, default=1500)
    parser.add_argument("--test", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    for split, count in (("val", args.val), ("test", args.test), ("train", args.train)):
        if count:
            write_split(args.out, split, count, args.seed, args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
