"""Pipeline stage: when a part is complete, join its frame, OCR and speech events and emit one inspection.

Consumes frames (for the part trigger and the crop), `ocr` events (joined by frame id, else by time) and
`speech` events (joined by when the utterance started: from shortly before the part arrived until
`join_grace_s` after it left). The record is emitted `join_grace_s` after the part left, so late OCR and
speech results still make it in.

Event(kind="inspection", frame_id=<best frame>, snapshot=<JPEG of that frame with the part outlined>, data={
  verdict, probabilities {class: p}, codes {serial, serial_pattern_ok, serial_check_ok, lot, lot_pattern_ok,
  lot_expected}, words [...], transcript, present {image, text, speech}, part {index, t_arrive, t_leave,
  box}, ocr_events, speech_events, model_version, latency_ms {features, fusion, record_after_leave}})
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import cv2
import numpy as np

from edge.config import EdgeConfig
from edge.events import Event, Frame
from edge.fusion.features import IMAGE_SIZE, merge_speech
from edge.fusion.model import FusionModel
from edge.fusion.settings import FusionConfig
from edge.pipeline.stage import Item, Stage
from edge.runtime import Manifest
from edge.vision.parts import crop_part
from edge.vision.trigger import IntervalTrigger, PartTrigger, PartVisit

log = logging.getLogger(__name__)
SPEECH_LEAD_S = 1.0  # an utterance may start this long before the part counts as arrived (settling takes frames)
HORIZON_S = 30.0  # OCR/speech events older than this that matched no part are forgotten


def choose_ocr(events: list[Event]) -> dict | None:
    """The OCR result to trust for a part: a voted one if any, else the read with most lines, then most
    characters (a part half in view reads short), then confidence."""
    if not events:
        return None
    voted = [e for e in events if e.data.get("voted")]
    pool = voted or events
    best = max(pool, key=lambda e: (len(e.data.get("lines") or []), len(str(e.data.get("text") or "")),
                                    float(e.data.get("confidence") or 0.0), e.t_mono))
    return dict(best.data)


class PartStage(Stage):
    """Part trigger + joining of OCR and speech events to a part; subclasses decide what a complete part
    becomes (an inspection record here, a dataset sample in `edge record`)."""

    name = "parts"
    consumes = ("frame", "ocr", "speech")
    drop_when_full = False  # its inbox also carries OCR/speech events, which must never be dropped

    def __init__(self, settings: FusionConfig, ocr_running: bool = True, speech_running: bool = True) -> None:
        self.settings = settings
        self.ocr_running = ocr_running
        self.speech_running = speech_running
        if settings.trigger == "interval":
            self.trigger: PartTrigger | IntervalTrigger = IntervalTrigger(
                settings.interval_s, settings.diff_threshold, settings.min_part_area, settings.background_frames
            )
        else:
            self.trigger = PartTrigger(settings.diff_threshold, settings.min_part_area, settings.background_frames)
        self.pending: list[PartVisit] = []
        self.ocr_events: list[Event] = []
        self.speech_events: list[Event] = []
        self.now = 0.0

    # ---- input ------------------------------------------------------------------------------------------

    def process(self, item: Item) -> Iterable[Event]:
        if isinstance(item, Frame):
            self.now = max(self.now, item.t_mono)
            self.pending.extend(self.trigger.update(item))
        elif isinstance(item, Event) and item.kind == "ocr":
            self.ocr_events.append(item)
        elif isinstance(item, Event) and item.kind == "speech":
            self.speech_events.append(item)
        return self._emit_ready(final=False)

    def flush(self) -> Iterable[Event]:
        self.pending.extend(self.trigger.finish(self.now))
        return self._emit_ready(final=True)

    def close(self) -> None:
        self.pending.clear()

    # ---- joining ----------------------------------------------------------------------------------------

    def _ocr_for(self, visit: PartVisit) -> list[Event]:
        def belongs(e: Event) -> bool:
            if e.frame_id is not None and visit.frame_ids:
                return e.frame_id in visit.frame_ids
            return visit.t_arrive <= e.t_mono <= (visit.t_leave or self.now)

        taken = [e for e in self.ocr_events if belongs(e)]
        self.ocr_events = [e for e in self.ocr_events if e not in taken]
        return taken

    def _speech_for(self, visit: PartVisit) -> list[Event]:
        def started(e: Event) -> float:
            duration = float(e.data.get("t_end") or 0.0) - float(e.data.get("t_start") or 0.0)
            return e.t_mono - max(0.0, duration)

        end = (visit.t_leave or self.now) + self.settings.join_grace_s
        taken = [e for e in self.speech_events if visit.t_arrive - SPEECH_LEAD_S <= started(e) <= end]
        self.speech_events = [e for e in self.speech_events if e not in taken]
        return sorted(taken, key=lambda e: e.t_mono)

    def _forget_old(self) -> None:
        oldest = self.now - HORIZON_S
        self.ocr_events = [e for e in self.ocr_events if e.t_mono >= oldest]
        self.speech_events = [e for e in self.speech_events if e.t_mono >= oldest]

    def _emit_ready(self, final: bool) -> list[Event]:
        out = []
        while self.pending and (final or self.now >= (self.pending[0].t_leave or 0.0) + self.settings.join_grace_s):
            visit = self.pending.pop(0)
            ocr_events, speech_events = self._ocr_for(visit), self._speech_for(visit)
            event = self.complete(visit, part_crop(visit), ocr_events, speech_events)
            if event is not None:
                out.append(event)
        self._forget_old()
        return out

    def joined_inputs(self, ocr_events: list[Event], speech_events: list[Event]) -> tuple[dict | None, dict | None]:
        """The OCR and speech data for the model; "ran but found nothing" differs from "not running"."""
        ocr = choose_ocr(ocr_events)
        if ocr is None and self.ocr_running:
            ocr = {"text": "", "confidence": 0.0, "lines": []}
        speech = merge_speech([dict(e.data) for e in speech_events])
        if speech is None and self.speech_running:
            speech = {"words": [], "transcript": "", "confidence": 0.0, "rejected": False}
        return ocr, speech

    def complete(
        self, visit: PartVisit, crop: np.ndarray, ocr_events: list[Event], speech_events: list[Event]
    ) -> Event | None:
        raise NotImplementedError


def part_crop(visit: PartVisit) -> np.ndarray:
    """The part upright at the model's crop size (the whole frame when no part outline is known)."""
    frame = visit.best_frame
    if visit.best_box is not None:
        return crop_part(frame.image, visit.best_box, IMAGE_SIZE)
    return cv2.resize(frame.image, IMAGE_SIZE, interpolation=cv2.INTER_AREA)


def snapshot_jpeg(visit: PartVisit, good: bool, quality: int) -> bytes | None:
    """The best frame with the part outlined (green ok, red otherwise) as JPEG."""
    image = visit.best_frame.image.copy()
    if visit.best_box is not None:
        color = (0, 200, 0) if good else (0, 0, 255)
        cv2.polylines(image, [visit.best_box.corners.astype(np.int32)], True, color, 2)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes() if ok else None


class FusionStage(PartStage):
    name = "fusion"

    def __init__(
        self,
        model: FusionModel,
        settings: FusionConfig,
        source_id: str = "fusion",
        ocr_running: bool = True,
        speech_running: bool = True,
    ) -> None:
        super().__init__(settings, ocr_running, speech_running)
        self.model = model
        self.source_id = source_id
        self.inspections = 0

    def complete(
        self, visit: PartVisit, crop: np.ndarray, ocr_events: list[Event], speech_events: list[Event]
    ) -> Event | None:
        ocr, speech = self.joined_inputs(ocr_events, speech_events)
        result = self.model.predict(crop, ocr, speech, self.settings.expected_lots)
        self.inspections += 1
        data: dict[str, Any] = {
            "verdict": result.verdict,
            "probabilities": result.probabilities,
            "codes": result.codes,
            "words": result.words,
            "transcript": (speech or {}).get("transcript", ""),
            "present": result.present,
            "part": part_info(visit, self.now),
            "ocr_events": [e.id for e in ocr_events],
            "speech_events": [e.id for e in speech_events],
            "model_version": self.model.version,
            "latency_ms": {
                "features": round(result.features_ms, 2),
                "fusion": round(result.model_ms, 2),
                "record_after_leave": round(max(0.0, self.now - (visit.t_leave or self.now)) * 1000.0, 1),
            },
        }
        return Event(
            kind="inspection",
            source_id=self.source_id,
            data=data,
            t_mono=time.monotonic(),
            frame_id=visit.best_frame.frame_id,
            snapshot=snapshot_jpeg(visit, result.verdict == "ok", self.settings.snapshot_quality),
        )


def part_info(visit: PartVisit, now: float) -> dict:
    return {
        "index": visit.index,
        "t_arrive": round(visit.t_arrive, 3),
        "t_leave": round(visit.t_leave or now, 3),
        "box": _box_dict(visit),
    }


def _box_dict(visit: PartVisit) -> dict | None:
    box = visit.best_box
    if box is None:
        return None
    return {"center": [round(v, 1) for v in box.center], "size": [round(v, 1) for v in box.size],
            "angle": round(box.angle, 1)}


def build_stage(config: EdgeConfig, manifest: Manifest) -> FusionStage:
    """The stage the app builds when `fusion.enabled`; OCR/speech count as running when their stage will run."""
    precision = config.runtime.precision
    ocr_running = config.ocr.enabled and config.camera.enabled and manifest.has("ocr", precision)
    speech_running = config.speech.enabled and config.microphone.enabled and manifest.has("speech", precision)
    if not ocr_running:
        log.warning("fusion: no OCR stage is running; verdicts come from the image (and speech) only")
    return FusionStage(
        FusionModel.from_config(config, manifest), config.fusion, source_id=config.camera.id,
        ocr_running=ocr_running, speech_running=speech_running,
    )
