"""Whole-image reading: find (or cut) lines, recognise them, apply region rules and validators.

Shared by the `edge ocr` command and the pipeline stage so both read an image the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.ocr.localize import LineCrop, crop_rois, find_lines
from edge.ocr.recognizer import LineResult, Recognizer
from edge.ocr.settings import OcrConfig, OcrRegion
from edge.ocr.validators import get_validator


@dataclass(frozen=True)
class ReadLine:
    text: str
    confidence: float
    char_confidences: list[float]
    box: tuple[int, int, int, int]
    valid: bool | None
    validator: str | None
    region: str | None = None

    def to_dict(self) -> dict:
        """The event/JSON form the fusion helper consumes (keep these keys)."""
        return {
            "text": self.text,
            "confidence": round(float(self.confidence), 4),
            "char_confidences": [round(float(c), 4) for c in self.char_confidences],
            "box": [int(v) for v in self.box],
            "valid": self.valid,
            "validator": self.validator,
        }


def _check(region: OcrRegion | None, result: LineResult) -> tuple[bool | None, str | None]:
    """(valid, validator name): a pattern miss or a failed validator makes the line invalid."""
    if region is None:
        return None, None
    valid: bool | None = None
    name = region.validator
    if region.pattern is not None:
        valid = bool(result.matched)
        name = name or "pattern"
    check = get_validator(region.validator, region.expected_values)
    if check is not None:
        valid = (valid is not False) and check(result.text)
    return valid, name


class ImageReader:
    """Regions with a `box` are cut at fixed positions; regions without one are rules for found lines:
    each found line takes the first rule it can satisfy (else the first rule, flagged invalid)."""

    def __init__(self, recognizer: Recognizer, config: OcrConfig, pattern: str | None = None) -> None:
        self.recognizer = recognizer
        self.config = config
        self.fixed = [r for r in config.regions if r.box is not None]
        self.rules = [r for r in config.regions if r.box is None]
        if pattern is not None:
            self.rules = [OcrRegion(name="pattern", pattern=pattern)]
        self.free_rule = self.rules[0] if self.rules else None

    def _best_rule(self, logp: np.ndarray) -> tuple[LineResult, OcrRegion | None]:
        """The first rule whose pattern and validator the line satisfies; otherwise greedy text, invalid."""
        if not self.rules:
            return self.recognizer.decode(logp), None
        for rule in self.rules:
            result = self.recognizer.decode(logp, rule.pattern, rule.charset)
            if _check(rule, result)[0] is not False:
                return result, rule
        if len(self.rules) == 1:
            return self.recognizer.decode(logp, self.rules[0].pattern, self.rules[0].charset), self.rules[0]
        return self.recognizer.decode(logp), None

    def _recognise(self, crops: list[LineCrop], region: OcrRegion | None, crop_band: bool) -> list[LineResult]:
        if not crops:
            return []
        pattern = region.pattern if region else None
        allowed = region.charset if region else None
        return self.recognizer.recognize([c.image for c in crops], pattern=pattern, allowed=allowed,
                                         crop_band=crop_band)

    def read_line(self, image: np.ndarray) -> ReadLine:
        """The whole image is one text line (`edge ocr --crop`)."""
        h, w = image.shape[:2]
        crop = LineCrop(image, (0, 0, w, h))
        result = self._recognise([crop], self.free_rule, crop_band=True)[0]
        valid, name = _check(self.free_rule, result)
        return ReadLine(result.text, result.confidence, result.char_confidences, crop.box, valid, name,
                        self.free_rule.name if self.free_rule else None)

    def read_image(self, image: np.ndarray) -> list[ReadLine]:
        """Fixed regions when configured, otherwise lines found by localisation; top to bottom."""
        out: list[ReadLine] = []
        if self.fixed:
            for region in self.fixed:
                crops = crop_rois(image, [region.box])
                for crop, result in zip(crops, self._recognise(crops, region, crop_band=True)):
                    valid, name = _check(region, result)
                    out.append(ReadLine(result.text, result.confidence, result.char_confidences, crop.box,
                                        valid, name, region.name))
            return out
        crops = find_lines(image, max_lines=self.config.max_lines)
        if not crops:
            return out
        for crop, logp in zip(crops, self.recognizer.line_log_probs([c.image for c in crops], crop_band=False)):
            plain = self.recognizer.decode(logp)
            if len(plain.text) < self.config.min_chars or plain.confidence < self.config.min_confidence:
                continue
            result, rule = self._best_rule(logp)
            if rule is None and self.rules and not self.config.keep_unmatched:
                continue
            valid, name = _check(rule, result) if rule else ((False, None) if self.rules else (None, None))
            out.append(ReadLine(result.text, result.confidence, result.char_confidences, crop.box, valid, name,
                                rule.name if rule else None))
        return out


def join_lines(lines: list[ReadLine]) -> tuple[str, float]:
    """One string for a whole image (lines joined by a space, top to bottom) and the weakest line's confidence."""
    if not lines:
        return "", 0.0
    return " ".join(line.text for line in lines if line.text), min(line.confidence for line in lines)
