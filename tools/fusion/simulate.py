"""Noise models standing in for the OCR and speech stages while their models are not trained yet.

They produce event data in exactly the formats those stages emit (see edge/fusion/features.py), from the
ground truth of a rendered part: what is printed and how it is damaged, what the operator says. The numbers
(substitution rates, confidence distributions, miss rates) are assumptions chosen to resemble a small CRNN
and a small keyword model, not measurements; they are recorded in the manifest recipe.
"""

from __future__ import annotations

import numpy as np
from render import LABEL_BOX, PartSpec

from edge.fusion.features import VOCABULARY

CONFUSABLE = {
    "0": "OD8", "O": "0DQ", "D": "0O", "Q": "O0", "1": "I7L", "I": "1L", "L": "1I", "7": "1T", "T": "7",
    "5": "S6", "S": "58", "8": "B3S", "B": "8", "2": "Z", "Z": "2", "6": "G5", "G": "6C", "3": "8", "4": "A",
    "A": "4", "9": "g", "-": "_", " ": "",
}
WORD_CONFUSION = {
    "pass": ("back", "yes"), "fail": ("five", "yes"), "next": ("six", "yes"), "one": ("on", "no"),
    "two": ("go", "zero"), "three": ("repeat", "stop"), "four": ("forward", "off"),
}
DEFECT_CODE = {"label_missing": "one", "print_defect": "two", "wrong_code": "three", "surface_defect": "four"}


def _good_conf(rng: np.random.Generator, n: int, quality: float) -> np.ndarray:
    """Confidences of correctly read characters: mostly 0.9-1.0, lower on a poor image."""
    return np.clip(1.0 - rng.beta(1.2, 18.0 * quality, n), 0.05, 1.0)


def _damage(spec: PartSpec, line_index: int, n_chars: int) -> np.ndarray:
    """Per character damage 0..1 of one printed line, from where the renderer put the defect."""
    damage = np.zeros(n_chars)
    if spec.cls != "print_defect":
        return damage
    boxes = spec.extras.get("line_boxes") or []
    if line_index >= len(boxes):
        return damage
    x0, y0, x1, y1 = boxes[line_index]
    centers = x0 + (np.arange(n_chars) + 0.5) * (x1 - x0) / max(n_chars, 1)
    s = 0.25 + 0.75 * spec.severity
    if spec.defect == "faded":
        return np.full(n_chars, 0.25 + 0.6 * s)
    if "smudge" in spec.extras:
        cx, cy, rx, ry = spec.extras["smudge"]
        if abs((y0 + y1) / 2 - cy) < ry + (y1 - y0) / 2:
            damage = np.clip(1.0 - np.abs(centers - cx) / rx, 0, 1) * (0.5 + 0.5 * s)
    if "cut" in spec.extras:
        r0, r1, cut = spec.extras["cut"]
        if r0 <= (y0 + y1) / 2 < r1:
            damage[centers > cut] = 2.0  # not printed at all
    if "bands" in spec.extras:
        damage[:] = 0.35 + 0.4 * s
    return damage


def simulate_ocr(spec: PartSpec, rng: np.random.Generator, quality: float = 1.0) -> dict:
    """OCR event data for a part: the printed lines read with confusions, drops and confidences."""
    lines = []
    if spec.cls == "label_missing":
        if rng.random() < 0.1:  # a spurious read of the plate's edges or residue
            text = "".join(rng.choice(list("1IL-7"), size=int(rng.integers(1, 4))))
            conf = rng.uniform(0.15, 0.55, len(text))
            lines.append(_line(text, conf))
        return _event(lines)
    x_off, y_off = LABEL_BOX[:2]
    for index, printed in enumerate(spec.printed_lines):
        if rng.random() < 0.02:  # whole line missed by the detector
            continue
        damage = _damage(spec, index, len(printed))
        text, confs = [], []
        for ch, d in zip(printed, damage):
            if d >= 2.0:
                continue
            p_sub = 0.004 + 0.02 * (1 - quality) + 0.6 * d
            p_drop = 0.002 + 0.25 * d
            roll = rng.random()
            if roll < p_drop:
                continue
            if roll < p_drop + p_sub and ch in CONFUSABLE and CONFUSABLE[ch]:
                text.append(str(rng.choice(list(CONFUSABLE[ch]))))
                confs.append(rng.uniform(0.2, 0.75) * (1 - 0.4 * d))
            else:
                text.append(ch)
                confs.append(float(_good_conf(rng, 1, quality)[0]) * (1 - 0.55 * d))
        if text:
            x0, y0, x1, y1 = (spec.extras.get("line_boxes") or [(0, 0, 0, 0)] * 2)[index]
            lines.append(_line("".join(text), np.asarray(confs), [x_off + x0, y_off + y0, x1 - x0, y1 - y0]))
    return _event(lines)


def _line(text: str, conf: np.ndarray, box: list | None = None) -> dict:
    conf = np.asarray(conf, float)
    return {
        "text": text,
        "confidence": round(float(np.exp(np.log(np.clip(conf, 1e-3, 1)).mean())), 4),
        "char_confidences": [round(float(c), 4) for c in conf],
        "box": box or [0, 0, 0, 0],
        "valid": None,
        "validator": None,
    }


def _event(lines: list[dict]) -> dict:
    return {
        "text": " ".join(line["text"] for line in lines),
        "confidence": round(float(min((line["confidence"] for line in lines), default=0.0)), 4),
        "lines": lines,
        "voted": False,
    }


def operator_words(spec: PartSpec, rng: np.random.Generator) -> list[str]:
    """What the operator says: right most of the time, silent on a third of the parts, codes sometimes."""
    if rng.random() < 0.3:
        return []
    sees = {
        "ok": 0.0,
        "label_missing": 0.97,
        "print_defect": 0.55 + 0.4 * spec.severity,
        "surface_defect": 0.45 + 0.5 * spec.severity,
        "wrong_code": 0.35,
    }[spec.cls]
    says_fail = rng.random() < sees if spec.cls != "ok" else rng.random() < 0.07
    if not says_fail:
        words = ["pass"]
    else:
        words = ["fail"]
        if rng.random() < 0.55:
            right = DEFECT_CODE.get(spec.cls)
            if right is None or rng.random() < 0.12:
                words.append(str(rng.choice(list(DEFECT_CODE.values()))))
            else:
                words.append(right)
    if rng.random() < 0.2:
        words.append("next")
    return words


def simulate_speech(words: list[str], rng: np.random.Generator, t0: float = 0.0) -> dict:
    """Speech event data for the spoken words: misses, confusions, confidences, low-confidence rejection."""
    heard = []
    t = t0
    for word in words:
        t_end = t + rng.uniform(0.3, 0.6)
        roll = rng.random()
        if roll < 0.04:
            t = t_end + 0.1
            continue
        if roll < 0.10:
            options = WORD_CONFUSION.get(word) or tuple(VOCABULARY)
            heard.append({"word": str(rng.choice(options)), "confidence": round(float(rng.uniform(0.25, 0.7)), 4),
                          "start": round(t, 3), "end": round(t_end, 3)})
        else:
            heard.append({"word": word, "confidence": round(float(np.clip(rng.beta(9, 1.5), 0, 1)), 4),
                          "start": round(t, 3), "end": round(t_end, 3)})
        t = t_end + rng.uniform(0.05, 0.2)
    if not words and rng.random() < 0.04:  # machine noise taken for a word
        heard.append({"word": str(rng.choice(VOCABULARY)), "confidence": round(float(rng.uniform(0.3, 0.6)), 4),
                      "start": round(t0, 3), "end": round(t0 + 0.3, 3)})
    confidence = float(np.mean([w["confidence"] for w in heard])) if heard else 0.0
    rejected = bool(heard) and confidence < 0.35
    return {
        "transcript": "" if rejected else " ".join(w["word"] for w in heard),
        "words": [] if rejected else heard,
        "confidence": round(confidence, 4),
        "t_start": heard[0]["start"] if heard else None,
        "t_end": heard[-1]["end"] if heard else None,
        "rejected": rejected,
    }
