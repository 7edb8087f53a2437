"""Dataset folders for the fusion model, generated (make_data.py) or recorded at a station (`edge record`).

A folder holds `samples.jsonl`, one JSON object per part:
  {"id", "label" (a class name, or null if not labelled yet), "ocr": OCR event data or null,
   "speech": speech event data or null, "expected_lots": [...], "crop": "crops/<id>.png" | "image_index": i, ...}
and either `crops/*.png` (recorded) or `images.npy` [N, 64, 96] uint8 (generated, faster to load).
The text and speech features are computed here with edge.fusion.features, exactly as the runtime does.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from edge.fusion.codes import CLASSES
from edge.fusion.features import classic_input, image_input, speech_features, text_features


@dataclass
class Arrays:
    image: np.ndarray  # [N, 1, 64, 96] float32
    classic: np.ndarray
    text: np.ndarray
    chars: np.ndarray
    char_conf: np.ndarray
    speech: np.ndarray
    present: np.ndarray  # [N, 3]
    labels: np.ndarray  # [N] int64 (-1 = unlabelled)
    ids: list

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> Arrays:
        return Arrays(*(getattr(self, f)[index] for f in ("image", "classic", "text", "chars", "char_conf", "speech",
                                                           "present", "labels")), [self.ids[i] for i in index])

    def feeds(self, index: np.ndarray | slice | None = None) -> dict:
        sel = slice(None) if index is None else index
        return {k: getattr(self, k)[sel] for k in ("image", "classic", "text", "chars", "char_conf", "speech", "present")}


def read_samples(folder: Path) -> list[dict]:
    path = Path(folder) / "samples.jsonl"
    if not path.is_file():
        raise SystemExit(f"{folder} is not a fusion dataset (no samples.jsonl); record one with `edge record`")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load(folder: Path, labelled_only: bool = True) -> Arrays:
    """Read a dataset folder into model inputs; the classic features are cached in classic.npy.

    Unlabelled samples (recorded, not yet labelled) are skipped with a note, since they cannot be trained on.
    """
    folder = Path(folder)
    samples = read_samples(folder)
    if labelled_only:
        unlabelled = [s["id"] for s in samples if s.get("label") not in CLASSES]
        if unlabelled:
            print(f"{folder}: skipping {len(unlabelled)} unlabelled samples (e.g. {unlabelled[0]}); label them with "
                  f"`edge record --relabel {folder} --id ID --label CLASS`", flush=True)
            samples = [s for s in samples if s.get("label") in CLASSES]
    images_npy = folder / "images.npy"
    images = np.load(images_npy) if images_npy.is_file() else None
    crops = []
    for s in samples:
        if "image_index" in s and images is not None:
            crops.append(images[s["image_index"]])
        else:
            crop = cv2.imread(str(folder / s["crop"]), cv2.IMREAD_GRAYSCALE)
            if crop is None:
                raise SystemExit(f"{folder / s['crop']}: missing or unreadable crop image")
            crops.append(crop)
    cache = folder / "classic.npy"  # only for generated sets (recorded ones change as parts are added/labelled)
    if images is not None and cache.is_file() and len(np.load(cache, mmap_mode="r")) == len(samples):
        classic = np.load(cache)
    else:
        classic = np.stack([classic_input(c) for c in crops]) if crops else np.zeros((0, 602), np.float32)
        if images is not None:
            np.save(cache, classic)
    text, chars, char_conf, speech, present = [], [], [], [], []
    for s in samples:
        t, c, cc, _ = text_features(s.get("ocr"), s.get("expected_lots") or [])
        sp, _ = speech_features(s.get("speech"))
        text.append(t)
        chars.append(c)
        char_conf.append(cc)
        speech.append(sp)
        present.append([1.0, float(s.get("ocr") is not None), float(s.get("speech") is not None)])
    labels = np.array([CLASSES.index(s["label"]) if s.get("label") in CLASSES else -1 for s in samples], np.int64)
    if not samples:
        raise SystemExit(f"{folder}: no labelled samples to use")
    return Arrays(
        image=np.stack([image_input(c) for c in crops]).astype(np.float32),
        classic=classic.astype(np.float32),
        text=np.stack(text),
        chars=np.stack(chars),
        char_conf=np.stack(char_conf),
        speech=np.stack(speech),
        present=np.array(present, np.float32),
        labels=labels,
        ids=[s["id"] for s in samples],
    )
