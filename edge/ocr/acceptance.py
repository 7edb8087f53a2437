"""`edge check`: is the INT8 model as good as the FP32 one on the golden lines shipped with it?

Post-training quantisation can wreck a recognizer; the golden set (models/ocr-golden/, named in the
manifest) lets every box verify the pair it actually has before it produces records.
"""

from __future__ import annotations

from pathlib import Path

import cv2

from edge.errors import ModelError
from edge.ocr.recognizer import MODEL_NAME, Recognizer
from edge.runtime import Manifest
from edge.textdistance import edit_distance


def load_golden(manifest: Manifest) -> tuple[list, list[str]]:
    """The golden images and labels listed in the manifest's `ocr.golden` entry."""
    entry = manifest.models.get(MODEL_NAME, {}).get("golden")
    if not entry:
        raise ModelError("manifest entry 'ocr' has no `golden` set; re-run tools/ocr/quantize.py to ship one")
    folder = Path(manifest.directory) / entry["dir"]
    labels_path = folder / entry.get("labels", "labels.tsv")
    if not labels_path.is_file():
        raise ModelError(f"OCR golden set {labels_path} is missing; copy models/ocr-golden/ with the models")
    images, labels = [], []
    for row in labels_path.read_text().splitlines():
        if not row.strip():
            continue
        name, label = row.split("\t", 1)
        image = cv2.imread(str(folder / name), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise ModelError(f"OCR golden image {folder / name} is unreadable; copy models/ocr-golden/ again")
        images.append(image)
        labels.append(label)
    return images, labels


def _cer(recognizer: Recognizer, images: list, labels: list[str]) -> float:
    texts = [r.text for r in recognizer.recognize(images)]
    edits = sum(edit_distance(t, label) for t, label in zip(texts, labels))
    return edits / max(1, sum(len(label) for label in labels))


def check_int8_against_fp32(manifest: Manifest, config) -> str:
    """One-line summary when INT8 is acceptable; ModelError when its golden CER exceeds FP32's by too much."""
    images, labels = load_golden(manifest)
    providers, threads = config.runtime.providers, config.runtime.threads
    fp32 = _cer(Recognizer.from_manifest(manifest, "fp32", providers=providers, threads=threads), images, labels)
    int8 = _cer(Recognizer.from_manifest(manifest, "int8", providers=providers, threads=threads), images, labels)
    allowed = config.ocr.int8_max_cer_increase
    summary = f"ocr int8 CER {int8:.1%} vs fp32 {fp32:.1%} on {len(labels)} golden lines (allowed +{allowed:.1%})"
    if int8 > fp32 + allowed:
        raise ModelError(
            f"{summary}: the INT8 model is too inaccurate; set `ocr.precision: fp32` in the config "
            "or re-quantise with tools/ocr/quantize.py"
        )
    return summary
