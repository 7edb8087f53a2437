"""Find text lines in a full image with classic OpenCV, or cut fixed regions of interest from the config.

Gradient magnitude -> Otsu -> horizontal closing joins characters into line blobs -> the blobs' dominant
angle deskews the whole image -> again on the upright image -> connected components -> geometric filters. No model: cheap, predictable, and
good enough for labels and displays, which are high-contrast and roughly horizontal.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.ocr.preprocess import to_gray

MAX_ANALYSIS_WIDTH = 1280
MAX_DESKEW_DEGREES = 20.0


@dataclass(frozen=True)
class LineCrop:
    image: np.ndarray            # grayscale crop, deskewed
    box: tuple[int, int, int, int]  # x, y, w, h in the original image (axis-aligned hull)
    angle: float = 0.0               # deskew applied, degrees
    order: tuple[float, float] = (0.0, 0.0)  # (centre y, left x) in the deskewed image, for reading order


def _close(binary: np.ndarray, width: int) -> np.ndarray:
    closed = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (width, 1)))
    return cv2.morphologyEx(closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (2, 2)))


def _line_mask(gray: np.ndarray) -> np.ndarray:
    """Binary mask where text lines are blobs.

    Two passes: a small closing finds character/word blobs whose median height tells the text size;
    then a closing as wide as that height joins the words of one line without merging columns.
    """
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    gradient = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, kernel)
    _, binary = cv2.threshold(gradient, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    first = _close(binary, 5)
    count, _, stats, _ = cv2.connectedComponentsWithStats(first, connectivity=8)
    heights = stats[1:count, cv2.CC_STAT_HEIGHT]
    areas = stats[1:count, cv2.CC_STAT_AREA]
    heights = heights[(heights >= 8) & (heights < 0.25 * gray.shape[0]) & (areas >= 30)]
    if len(heights) == 0:
        return first
    text_height = float(np.median(heights))
    join = int(np.clip(text_height * 1.1, 5, gray.shape[1] // 8 + 5))
    closed = _close(binary, join)
    # Thin strokes that survive the closing are rules and label borders, not text: an opening as tall as
    # ~40 % of the text height removes them, so a line touching a border is not merged with it.
    k = max(3, int(0.4 * text_height))
    return cv2.morphologyEx(closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, k // 2), k)))


def _dominant_angle(mask: np.ndarray, min_height: int) -> float:
    """Median angle (degrees) of the elongated line blobs: the text's skew, if any."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    angles, weights = [], []
    for contour in contours:
        (_, _), (rw, rh), angle = cv2.minAreaRect(contour)
        if rw < rh:
            rw, rh, angle = rh, rw, angle - 90
        angle = (angle + 90) % 180 - 90
        if rh >= min_height and rw >= 2.5 * rh and abs(angle) <= MAX_DESKEW_DEGREES:
            angles.append(angle)
            weights.append(rw)
    if not angles:
        return 0.0
    order = np.argsort(angles)
    cumulative = np.cumsum(np.array(weights)[order])
    return float(np.array(angles)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def _rotate(gray: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotate by `angle` degrees on an enlarged canvas; returns the image and the 2x3 forward matrix."""
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(gray, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), m


def find_lines(image: np.ndarray, min_height: int = 8, max_lines: int = 32) -> list[LineCrop]:
    """Text lines of a full image, deskewed, in reading order (top to bottom, then left to right)."""
    gray = to_gray(image)
    h, w = gray.shape
    scale = min(1.0, MAX_ANALYSIS_WIDTH / w)
    if scale < 1:
        gray = cv2.resize(gray, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
    angle = _dominant_angle(_line_mask(gray), min_height)
    work, forward = (gray, None) if abs(angle) < 1.0 else _rotate(gray, angle)
    mask = _line_mask(work)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    inverse = cv2.invertAffineTransform(forward) if forward is not None else None
    wh = work.shape[0]
    boxes = [(int(x), int(y), int(bw), int(bh)) for x, y, bw, bh, area in stats[1:count]
             if min_height <= bh <= 0.5 * wh and bw >= 1.5 * bh and area >= 0.3 * bw * bh]
    lines: list[LineCrop] = []
    for x, y, bw, bh in _merge_row_neighbours(boxes):
        pad = int(0.15 * bh) + 1
        y0, y1 = max(0, y - pad), min(wh, y + bh + pad)
        x0, x1 = max(0, x - pad), min(work.shape[1], x + bw + pad)
        crop = work[y0:y1, x0:x1]
        corners = np.float32([[x, y], [x + bw, y], [x + bw, y + bh], [x, y + bh]])
        if inverse is not None:
            corners = corners @ inverse[:, :2].T + inverse[:, 2]
        corners /= scale
        bx, by = corners.min(axis=0)
        ex, ey = corners.max(axis=0)
        box = (int(max(0, bx)), int(max(0, by)), int(min(w, ex) - max(0, bx)), int(min(h, ey) - max(0, by)))
        lines.append(LineCrop(crop, box, angle, (y + bh / 2, x)))
    lines.sort(key=lambda line: line.order)
    return _reading_order(lines)[:max_lines]


def _merge_row_neighbours(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Join boxes of one row separated by less than a character height (a hyphen the filters cut out)."""
    boxes = sorted(boxes, key=lambda b: b[0])
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                overlap = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
                gap = b[0] - (a[0] + a[2])
                if overlap > 0.5 * min(a[3], b[3]) and gap < 1.2 * max(a[3], b[3]):
                    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
                    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
                    boxes[i] = (x0, y0, x1 - x0, y1 - y0)
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return boxes


def _reading_order(lines: list[LineCrop]) -> list[LineCrop]:
    """Top to bottom; boxes whose vertical centres overlap form one row, read left to right."""
    rows: list[list[LineCrop]] = []
    for line in lines:
        if rows:
            last = rows[-1][0]
            if abs(line.order[0] - last.order[0]) < 0.5 * min(last.image.shape[0], line.image.shape[0]):
                rows[-1].append(line)
                continue
        rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda ln: ln.order[1])]


def crop_rois(image: np.ndarray, rois: list[tuple[int, int, int, int]]) -> list[LineCrop]:
    """Fixed regions (x, y, w, h) for stations whose label position is known; clipped to the image."""
    gray = to_gray(image)
    h, w = gray.shape
    out = []
    for x, y, bw, bh in rois:
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(w, x + bw), min(h, y + bh)
        if x1 - x0 >= 4 and y1 - y0 >= 4:
            out.append(LineCrop(gray[y0:y1, x0:x1], (x0, y0, x1 - x0, y1 - y0)))
    return out
