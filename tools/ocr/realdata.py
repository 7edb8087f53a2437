"""The real-dev lines (SROIE receipts, US plates): a fixed 50/50 split and the folder-specific scoring.

Split: by receipt for SROIE (all lines of one receipt fall on the same side, so receipt style cannot leak)
and by file for plates, using a hash of the name, so it never changes between runs or machines.
Scoring (from the data set's README): SROIE case-insensitive; plates on letters and digits only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REAL_DEV = Path("/work/shared/data/ocr/real-dev")


@dataclass(frozen=True)
class RealLine:
    path: Path
    folder: str
    label: str


def split_of(relpath: str) -> str:
    """'train' or 'heldout' for one labels.tsv path."""
    parts = relpath.split("/")
    folder, name = parts[-2], parts[-1]
    key = name.split("_")[0] if folder == "sroie" else name
    digest = hashlib.sha256(f"{folder}/{key}".encode()).digest()
    return "train" if digest[0] % 2 == 0 else "heldout"


def load_lines(split: str | None = None, root: Path = REAL_DEV) -> list[RealLine]:
    """Lines of one split ('train', 'heldout') or all (None), in labels.tsv order."""
    lines = []
    for row in (root / "labels.tsv").read_text().splitlines():
        if not row.strip():
            continue
        rel, label = row.split("\t", 1)
        if split is None or split_of(rel) == split:
            lines.append(RealLine(root / rel, rel.split("/")[-2], label))
    return lines


def read_image(line: RealLine) -> np.ndarray:
    image = cv2.imread(str(line.path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read {line.path}")
    return image


def normalise_for_scoring(text: str, folder: str) -> str:
    """What the README says to compare: case-insensitive for SROIE, alphanumerics only for plates."""
    if folder == "plate":
        return re.sub(r"[^0-9A-Z]", "", text.upper())
    return " ".join(text.upper().split())


def training_label(line: RealLine) -> str:
    """Label used when fine-tuning: plates carry just the registration, receipts their (upper-case) text."""
    return line.label.strip()
