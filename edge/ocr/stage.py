"""OCR pipeline stage: frames in, `ocr` events out (text, boxes, confidences, validation, vote).

Event data (the fusion helper consumes exactly this):
    {"text": str, "confidence": float, "voted": bool,
     "lines": [{"text", "confidence", "char_confidences": [...], "box": [x, y, w, h],
                "valid": bool | None, "validator": str | None}]}
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import cv2
import numpy as np

from edge.events import Event, Frame
from edge.ocr.reader import ImageReader, ReadLine, join_lines
from edge.ocr.recognizer import Recognizer
from edge.ocr.settings import OcrConfig
from edge.ocr.voting import FrameVoter
from edge.pipeline.stage import Item, Stage

log = logging.getLogger(__name__)
MOTION_SIZE = (160, 120)


class FrameGate:
    """Decides which frames are read: at a rate, every frame, or when the picture changed."""

    def __init__(self, config: OcrConfig) -> None:
        self.config = config
        self.last_time: float | None = None
        self.last_small: np.ndarray | None = None

    def _moved(self, image: np.ndarray) -> bool:
        small = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image, MOTION_SIZE,
                           interpolation=cv2.INTER_AREA)
        previous, self.last_small = self.last_small, small
        if previous is None:
            return True
        changed = np.count_nonzero(cv2.absdiff(small, previous) > 25) / small.size
        return changed >= self.config.motion_threshold

    def wants(self, frame: Frame) -> bool:
        trigger = self.config.trigger
        if trigger == "every_frame":
            return True
        if trigger == "motion":
            return self._moved(frame.image)
        if self.last_time is None or frame.t_mono - self.last_time >= 1.0 / self.config.rate_hz - 1e-6:
            self.last_time = frame.t_mono
            return True
        return False


class OcrStage(Stage):
    name = "ocr"
    consumes = ("frame",)
    drop_when_full = True

    def __init__(self, reader: ImageReader, config: OcrConfig) -> None:
        self.reader = reader
        self.config = config
        self.gate = FrameGate(config)
        self.voter = FrameVoter(config.vote_frames, config.vote_min)

    def _voted_lines(self, source_id: str, lines: list[ReadLine]) -> tuple[list[dict], bool]:
        """Replace each line's text by its recent-frame winner; voted only if every line reached the quorum."""
        out, all_voted = [], True
        for line in lines:
            # A matched rule names the slot; otherwise the line's position (coarse grid) does.
            x, y, w, h = line.box
            slot = line.region or f"{(x + w // 2) // 64},{(y + h // 2) // 32}"
            key = f"{source_id}/{slot}"
            vote = self.voter.add(key, line.text, line.confidence)
            data = line.to_dict()
            if vote.text != line.text:
                data.update(text=vote.text, confidence=round(vote.confidence, 4), char_confidences=[])
                data["valid"] = None if line.valid is None else data["valid"]
            all_voted &= vote.voted
            out.append(data)
        return out, all_voted and bool(out)

    def process(self, item: Item) -> Iterable[Event]:
        if not isinstance(item, Frame) or not self.gate.wants(item):
            return []
        lines = self.reader.read_image(item.image)
        if not lines:
            return []
        line_data, voted = self._voted_lines(item.source_id, lines)
        text = " ".join(d["text"] for d in line_data if d["text"])
        confidence = min(d["confidence"] for d in line_data)
        data = {"text": text, "confidence": round(float(confidence), 4), "lines": line_data, "voted": voted}
        return [Event(kind="ocr", source_id=item.source_id, frame_id=item.frame_id, t_mono=item.t_mono,
                      t_wall=item.t_wall, data=data)]

    def close(self) -> None:
        self.voter.reset()


def build_stage(config, manifest) -> OcrStage:
    """Called by the app with the whole EdgeConfig and the loaded Manifest."""
    precision = config.ocr.precision or config.runtime.precision
    recognizer = Recognizer.from_manifest(manifest, precision, providers=config.runtime.providers,
                                          threads=config.runtime.threads, beam=config.ocr.beam)
    return OcrStage(ImageReader(recognizer, config.ocr), config.ocr)


__all__ = ["OcrStage", "build_stage", "join_lines"]
