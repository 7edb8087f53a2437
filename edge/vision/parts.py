"""Find a part on the belt against the learned empty background, and cut it out upright.

The station's camera is fixed, so "what is not the belt" is the part: a per-pixel difference to a background
image, cleaned by morphology, the largest blob, its rotated bounding rectangle. The crop is rotated back to
horizontal so the fusion model and the OCR see the label the same way whatever the pose on the belt.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class PartBox:
    """A part found in a frame: rotated rectangle (centre, size with width >= height, angle in degrees)."""

    center: tuple[float, float]
    size: tuple[float, float]
    angle: float
    area_fraction: float
    touches_edge: bool

    @property
    def corners(self) -> np.ndarray:
        """4x2 float32: top-left, top-right, bottom-right, bottom-left of the upright part."""
        (cx, cy), (w, h), a = self.center, self.size, np.deg2rad(self.angle)
        ux, uy = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
        c = np.array([cx, cy])
        return np.array(
            [c - ux * w / 2 - uy * h / 2, c + ux * w / 2 - uy * h / 2, c + ux * w / 2 + uy * h / 2, c - ux * w / 2 + uy * h / 2],
            np.float32,
        )

    def bounding_rect(self) -> tuple[int, int, int, int]:
        x, y, w, h = cv2.boundingRect(self.corners.astype(np.int32))
        return int(x), int(y), int(w), int(h)


def _gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame


def foreground_mask(frame: np.ndarray, background: np.ndarray, threshold: int = 40) -> np.ndarray:
    """uint8 0/255 mask of pixels that differ from the background by more than `threshold` gray levels."""
    diff = cv2.absdiff(_gray(frame), _gray(background))
    diff = cv2.GaussianBlur(diff, (5, 5), 0)
    mask = (diff > threshold).astype(np.uint8) * 255
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))  # rectangular: separable, so cheap
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel, iterations=2)


def _upright(rect: tuple) -> tuple[tuple[float, float], tuple[float, float], float]:
    """cv2.minAreaRect's (centre, (w, h), angle) turned into width >= height and angle in (-90, 90]."""
    (cx, cy), (w, h), angle = rect
    if w < h:
        w, h, angle = h, w, angle + 90.0
    angle = (angle + 90.0) % 180.0 - 90.0
    return (float(cx), float(cy)), (float(w), float(h)), float(angle)


def find_part(frame: np.ndarray, background: np.ndarray, threshold: int = 40, min_area: float = 0.02) -> PartBox | None:
    """The largest foreground blob covering at least `min_area` of the frame, or None."""
    mask = foreground_mask(frame, background, threshold)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    contour = max(contours, key=cv2.contourArea)
    h, w = mask.shape
    area = cv2.contourArea(contour) / float(h * w)
    if area < min_area:
        return None
    x, y, bw, bh = cv2.boundingRect(contour)
    touches = x <= 1 or y <= 1 or x + bw >= w - 1 or y + bh >= h - 1
    center, size, angle = _upright(cv2.minAreaRect(contour))
    return PartBox(center=center, size=size, angle=angle, area_fraction=area, touches_edge=touches)


def crop_part(frame: np.ndarray, box: PartBox, size: tuple[int, int] = (96, 64), margin: float = 0.0) -> np.ndarray:
    """The part rotated upright and resized to `size` (width, height); same channels as `frame`."""
    out_w, out_h = size
    src = box.corners
    if margin:
        c = src.mean(axis=0)
        src = c + (src - c) * (1.0 + margin)
    dst = np.array([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]], np.float32)
    matrix = cv2.getAffineTransform(src[:3].astype(np.float32), dst[:3])
    return cv2.warpAffine(frame, matrix, (out_w, out_h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


_GROW = cv2.getStructuringElement(cv2.MORPH_RECT, (15, 15))


class BackgroundModel:
    """The empty belt: the median of the first frames, then a slow running average of pixels seen as belt.

    Slow adaptation follows daylight changes without absorbing a part that stands still for a few seconds.
    """

    def __init__(self, learn_frames: int = 5, rate: float = 0.02, threshold: int = 40) -> None:
        self.learn_frames = learn_frames
        self.rate = rate
        self.threshold = threshold
        self._first: list[np.ndarray] = []
        self.image: np.ndarray | None = None

    @property
    def ready(self) -> bool:
        return self.image is not None

    def update(self, frame: np.ndarray, part: PartBox | None = None) -> None:
        gray = _gray(frame)
        if self.image is None:
            self._first.append(gray)
            if len(self._first) >= self.learn_frames:
                self.image = np.median(np.stack(self._first), axis=0).astype(np.float32)
                self._first = []
            return
        keep = np.ones(gray.shape, np.float32)
        if part is not None:
            cv2.fillConvexPoly(keep, part.corners.astype(np.int32), 0.0)
            keep = cv2.erode(keep, _GROW)  # leave the shadow around the part out as well
        self.image += self.rate * keep * (gray.astype(np.float32) - self.image)

    def background(self) -> np.ndarray:
        if self.image is None:
            raise RuntimeError("background not learned yet")
        return self.image.astype(np.uint8)
