"""Helpers shared by quantize.py and evaluate.py: run an ONNX file over lines, score per folder."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import realdata
from metrics import cer_and_accuracy

from edge.ocr import decode
from edge.ocr.preprocess import WIDTH_MULTIPLE, normalize_line, to_tensor
from edge.ocr.recognizer import REQUIRED_METADATA, Recognizer
from edge.runtime import ModelSession, limit_opencv_threads


def open_recognizer(path: Path, threads: int = 1) -> Recognizer:
    """The recognizer as `edge ocr` runs it with runtime.threads = `threads` (OpenCV capped the same way)."""
    limit_opencv_threads(threads)
    session = ModelSession(path, providers=["cpu"], threads=threads, required_metadata=REQUIRED_METADATA)
    return Recognizer(session)


def read_one_by_one(recognizer: Recognizer, images: list[np.ndarray], normalised: bool = False
                    ) -> tuple[list[str], list[float]]:
    """Greedy text per line and per-line latency (preprocess + inference + decode), batch size 1."""
    texts, seconds = [], []
    for image in images:
        start = time.perf_counter()
        line = image if normalised else normalize_line(image)
        logits = recognizer.session.run({recognizer.input_name: to_tensor([line])})[0]
        steps = line.shape[1] // WIDTH_MULTIPLE
        texts.append(decode.greedy(decode.log_softmax(logits[0, :steps]), recognizer.charset).text.strip())
        seconds.append(time.perf_counter() - start)
    return texts, seconds


def score_real(preds: list[str], lines: list[realdata.RealLine]) -> dict[str, tuple[float, float, int]]:
    """{folder: (CER, exact accuracy, n)} plus 'pooled', with the README's per-folder normalisation."""
    out = {}
    pairs_all = []
    for folder in sorted({line.folder for line in lines}):
        pairs = [(realdata.normalise_for_scoring(p, line.folder), realdata.normalise_for_scoring(line.label, line.folder))
                 for p, line in zip(preds, lines) if line.folder == folder]
        out[folder] = cer_and_accuracy(pairs)
        pairs_all += pairs
    out["pooled"] = cer_and_accuracy(pairs_all)
    return out


def score_plain(preds: list[str], refs: list[str]) -> tuple[float, float, int]:
    return cer_and_accuracy(zip(preds, refs))
