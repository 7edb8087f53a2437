"""Part trigger: say when a part has arrived under the camera and when it has left, and keep its best frame.

A part "arrives" when it is found away from the frame edges and has stopped moving for `settle_frames`
frames; it "leaves" when it touches an edge again or is gone for `gone_frames` frames. The best frame is
the stillest one seen while the part was settled (least motion blur), which is what the fusion model sees
and what the inspection record's snapshot shows.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.events import Frame
from edge.vision.parts import BackgroundModel, PartBox, find_part

# Approach frames kept for the next visit: the last few seconds before a part settles, bounded so that
# something moving in view for hours (a hand, a person) cannot grow it without limit.
APPROACH_FRAMES = 100


@dataclass
class PartVisit:
    """One part's stay under the camera."""

    index: int
    t_arrive: float  # monotonic
    first_frame_id: int
    best_frame: Frame
    best_box: PartBox | None  # None: no part outline (interval trigger without a detected part)
    best_motion: float
    t_leave: float | None = None
    last_frame_id: int | None = None
    frame_ids: set = field(default_factory=set)


@dataclass(frozen=True)
class _Seen:
    box: PartBox | None
    motion: float


class PartTrigger:
    """Feed frames in order; `update` returns the visits that ended with this frame (usually none)."""

    def __init__(
        self,
        threshold: int = 40,
        min_area: float = 0.02,
        background_frames: int = 5,
        settle_frames: int = 2,
        gone_frames: int = 2,
        max_width: int = 320,
        absorb_after_s: float = 60.0,
    ) -> None:
        self.threshold = threshold
        self.min_area = min_area
        self.settle_frames = settle_frames
        self.gone_frames = gone_frames
        self.max_width = max_width
        self.absorb_after_s = absorb_after_s
        self._last_small: np.ndarray | None = None
        self.background = BackgroundModel(background_frames, threshold=threshold)
        self.current: PartVisit | None = None
        self._still = 0
        self._missing = 0
        self._approach: deque[int] = deque(maxlen=APPROACH_FRAMES)
        self._previous_center: tuple[float, float] | None = None
        self._count = 0

    def _small(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """Detection runs on a downscaled gray copy: a part is large, and this keeps it ~1 ms a frame."""
        scale = min(1.0, self.max_width / image.shape[1])
        if scale < 1.0:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        return gray, scale

    def _look(self, frame: Frame) -> _Seen:
        small, scale = self._small(frame.image)
        self._last_small = small
        if not self.background.ready:
            self.background.update(small)
            return _Seen(None, 0.0)
        box = find_part(small, self.background.background(), self.threshold, self.min_area)
        self.background.update(small, box)
        if box is None:
            self._previous_center = None
            return _Seen(None, 0.0)
        full = PartBox(
            center=(box.center[0] / scale, box.center[1] / scale),
            size=(box.size[0] / scale, box.size[1] / scale),
            angle=box.angle,
            area_fraction=box.area_fraction,
            touches_edge=box.touches_edge,
        )
        motion = float(np.hypot(*(np.subtract(full.center, self._previous_center)))) if self._previous_center else 1e9
        self._previous_center = full.center
        return _Seen(full, motion)

    def update(self, frame: Frame) -> list[PartVisit]:
        seen = self._look(frame)
        ended: list[PartVisit] = []
        inside = seen.box is not None and not seen.box.touches_edge
        if self.current is None:
            still = inside and seen.motion < 3.0
            self._still = self._still + 1 if still else 0
            # frames with the whole part in view while it slows down also belong to it (OCR may have read them)
            if inside:
                self._approach.append(frame.frame_id)
            else:
                self._approach.clear()
            if self._still >= self.settle_frames:
                self.current = PartVisit(self._count, frame.t_mono, frame.frame_id, frame, seen.box, seen.motion)
                self.current.frame_ids.update(self._approach)
                self._approach.clear()
                self._count += 1
                self._missing = 0
            return ended
        visit = self.current
        if frame.t_mono - visit.t_arrive > self.absorb_after_s and self._last_small is not None:
            # Nothing stands still this long on a belt: it is part of the scene now (a part that was there when
            # the background was learned leaves a "hole" that looks like a part). Report it once, relearn.
            self.background.image = self._last_small.astype(np.float32)
            visit.t_leave, visit.last_frame_id = frame.t_mono, frame.frame_id
            self.current, self._still = None, 0
            return [visit]
        if inside:
            self._missing = 0
            visit.frame_ids.add(frame.frame_id)
            if seen.motion <= visit.best_motion:
                visit.best_frame, visit.best_box, visit.best_motion = frame, seen.box, seen.motion
            return ended
        self._missing += 1
        if seen.box is not None or self._missing >= self.gone_frames:  # at an edge (leaving), or gone
            visit.t_leave = frame.t_mono
            visit.last_frame_id = frame.frame_id
            ended.append(visit)
            self.current = None
            self._still = 0
        return ended

    def finish(self, t_mono: float) -> list[PartVisit]:
        """End of stream: a part still under the camera counts as complete."""
        if self.current is None:
            return []
        visit, self.current = self.current, None
        visit.t_leave = t_mono
        return [visit]


class IntervalTrigger:
    """For a fixed jig without a belt: one visit every `interval_s` seconds of frames, using the latest frame
    (and the part outline when one is found against the background)."""

    def __init__(self, interval_s: float, threshold: int = 40, min_area: float = 0.02, background_frames: int = 5) -> None:
        self.interval_s = interval_s
        self.parts = PartTrigger(threshold, min_area, background_frames)
        self.current: PartVisit | None = None
        self._count = 0

    def update(self, frame: Frame) -> list[PartVisit]:
        seen = self.parts._look(frame)
        box = seen.box if seen.box is not None and not seen.box.touches_edge else None
        if self.current is None:
            self.current = PartVisit(self._count, frame.t_mono, frame.frame_id, frame, box, seen.motion)
            self._count += 1
        visit = self.current
        visit.frame_ids.add(frame.frame_id)
        visit.best_frame, visit.best_box = frame, box if box is not None else visit.best_box
        if frame.t_mono - visit.t_arrive < self.interval_s:
            return []
        visit.t_leave, visit.last_frame_id = frame.t_mono, frame.frame_id
        self.current = None
        return [visit]

    def finish(self, t_mono: float) -> list[PartVisit]:
        if self.current is None:
            return []
        visit, self.current = self.current, None
        visit.t_leave = t_mono
        return [visit]
