"""Turn the other stages' outputs into the fusion model's inputs.

Shared by the runtime stage and by tools/fusion (training), so the model sees the same numbers in both places.
Inputs of the ONNX model (batch dimension first):
  image     float32 [B, 1, 64, 96]  gray part crop, upright, scaled to 0..1
  classic   float32 [B, 602]        HOG + LBP + intensity stats of the crop (edge.vision.features)
  text      float32 [B, 25]         OCR summary: code checks (exact and confusable-tolerant), confidences
  chars     int64   [B, 24]         the read serial and lot, one id per character (0 = padding)
  char_conf float32 [B, 24]         the OCR confidence of each of those characters
  speech    float32 [B, 36]         bag of vocabulary words (max confidence each), counts, "fail <digit>" code
  present   float32 [B, 3]          1 where the modality ran: image, text (OCR), speech
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import cv2
import numpy as np

from edge.fusion.codes import check_codes
from edge.vision.features import classic_features

IMAGE_SIZE = (96, 64)  # width, height of the part crop
CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ -|"  # id = index + 2; 1 = unknown character; 0 = padding
MAX_CHARS = 24
VOCABULARY = ["zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "yes", "no", "start", "stop", "pass", "fail", "next", "back", "repeat", "cancel", "go", "forward", "left", "right", "up", "down", "on", "off"]
DIGITS = {"zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
TEXT_DIM = 25
SPEECH_DIM = len(VOCABULARY) + 3 + 4
CLASSIC_DIM = 602


def image_input(crop: np.ndarray) -> np.ndarray:
    """[1, 64, 96] float32 in 0..1 from a BGR or gray crop of any size."""
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    if gray.shape[::-1] != IMAGE_SIZE:
        gray = cv2.resize(gray, IMAGE_SIZE, interpolation=cv2.INTER_AREA)
    return (gray.astype(np.float32) / 255.0)[None]


def classic_input(crop: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    if gray.shape[::-1] != IMAGE_SIZE:
        gray = cv2.resize(gray, IMAGE_SIZE, interpolation=cv2.INTER_AREA)
    return classic_features(gray)


def _ocr_lines(ocr: Mapping[str, Any] | None) -> list[dict]:
    """Lines of an OCR event's data, each with text and per-character confidences (filled in if absent)."""
    if not ocr:
        return []
    lines = []
    for line in ocr.get("lines") or []:
        text = str(line.get("text") or "").strip().upper()
        if not text:
            continue
        confs = list(line.get("char_confidences") or [])
        if len(confs) != len(text):  # a recognizer that gives only a line confidence: spread it over the chars
            confs = [float(line.get("confidence", 0.0))] * len(text)
        lines.append({"text": text, "conf": np.asarray(confs, np.float32), "line_conf": float(line.get("confidence", 0.0))})
    if not lines and ocr.get("text"):  # an event with only a joined text
        text = str(ocr["text"]).strip().upper()
        lines.append({"text": text, "conf": np.full(len(text), float(ocr.get("confidence", 0.0)), np.float32),
                      "line_conf": float(ocr.get("confidence", 0.0))})
    return lines


def text_features(ocr: Mapping[str, Any] | None, expected_lots: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """(text [25], chars [24], char_conf [24], codes) from an OCR event's data; codes go into the record."""
    lines = _ocr_lines(ocr)
    codes = check_codes([line["text"] for line in lines], list(expected_lots))
    feats = np.zeros(TEXT_DIM, np.float32)
    chars = np.zeros(MAX_CHARS, np.int64)
    char_conf = np.zeros(MAX_CHARS, np.float32)
    feats[0] = min(len(lines), 4) / 4.0
    feats[1:7] = [codes["serial"] is not None, codes["serial_pattern_ok"], codes["serial_check_ok"],
                  codes["lot"] is not None, codes["lot_pattern_ok"], codes["lot_expected"]]
    if lines:
        conf = np.concatenate([line["conf"] for line in lines])
        line_conf = np.array([line["line_conf"] for line in lines], np.float32)
        feats[7:12] = [conf.mean(), conf.min(), conf.std(), (conf < 0.5).mean(), (conf < 0.8).mean()]
        feats[12:14] = [line_conf.mean(), line_conf.min()]
        feats[14] = min(conf.size, 40) / 20.0
    for slot, key in ((15, "serial"), (18, "lot")):
        line = next((ln for ln in lines if ln["text"] == codes[key]), None)
        if line is not None and line["conf"].size:
            feats[slot : slot + 3] = [line["conf"].mean(), line["conf"].min(), min(len(line["text"]), 16) / 10.0]
    feats[21] = 1.0 if lines else 0.0
    if lines:
        feats[22:25] = [codes["serial_pattern_fuzzy"], codes["serial_check_fuzzy"], codes["lot_distance"]]
    ordered = [codes["serial"], codes["lot"]]
    ordered = [t for t in ordered if t] or [line["text"] for line in lines[:2]]
    joined, joined_conf = "", []
    for text in ordered:
        line = next(ln for ln in lines if ln["text"] == text)
        if joined:
            joined += "|"
            joined_conf.append(1.0)
        joined += text
        joined_conf.extend(line["conf"].tolist())
    for i, ch in enumerate(joined[:MAX_CHARS]):
        pos = CHARSET.find(ch)
        chars[i] = pos + 2 if pos >= 0 else 1
        char_conf[i] = joined_conf[i]
    return feats, chars, char_conf, codes


def speech_features(speech: Mapping[str, Any] | None) -> tuple[np.ndarray, list[str]]:
    """(speech [36], words heard) from a speech event's data (or several events' words merged)."""
    feats = np.zeros(SPEECH_DIM, np.float32)
    if not speech or speech.get("rejected"):
        return feats, []
    words = [(str(w.get("word", "")).lower(), float(w.get("confidence", 0.0))) for w in speech.get("words") or []]
    words = [(w, c) for w, c in words if w in VOCABULARY]
    n = len(VOCABULARY)
    for word, conf in words:
        i = VOCABULARY.index(word)
        feats[i] = max(feats[i], conf)
    feats[n] = min(len(words), 5) / 5.0
    feats[n + 1] = float(np.mean([c for _, c in words])) if words else 0.0
    feats[n + 2] = float(speech.get("confidence", feats[n + 1]) or 0.0)
    for (word, conf), (nxt, nconf) in pairwise(words):
        if word == "fail" and DIGITS.get(nxt, 0) in (1, 2, 3, 4):  # station convention: fail <defect number>
            feats[n + 2 + DIGITS[nxt]] = max(feats[n + 2 + DIGITS[nxt]], min(conf, nconf))
    return feats, [w for w, _ in words]


def merge_speech(events: Sequence[Mapping[str, Any]]) -> dict | None:
    """Several utterances about one part become one word list (in time order), rejected ones dropped."""
    kept = [e for e in events if not e.get("rejected")]
    if not kept:
        return {"words": [], "transcript": "", "confidence": 0.0, "rejected": False} if events else None
    words = [w for e in kept for w in e.get("words") or []]
    return {
        "words": words,
        "transcript": " ".join(str(e.get("transcript", "")) for e in kept).strip(),
        "confidence": float(np.mean([float(e.get("confidence", 0.0)) for e in kept])),
        "rejected": False,
    }
