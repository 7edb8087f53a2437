"""Find text lines in a full image with classic OpenCV, or cut fixed regions of interest from the config.

Gradient magnitude -> Otsu -> horizontal closing joins characters into line blobs -> connected components
-> geometric filters -> deskew each line by its minimum-area rectangle. No model: cheap, predictable, and
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
    box: tuple[int, int, int, int]  # x, y, w, h in the original image
    angle: float = 0.0


def _line_mask(gray: np.ndarray) -> np.ndarray:
    """Binary mask where text lines are blobs."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    gradient = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, kernel)
    _, binary = cv2.threshold(gradient, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    h, w = gray.shape
    join = max(5, w // 90)
    closed = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (join, 1)))
    return cv2.morphologyEx(closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (2, 2)))


def _deskewed_crop(gray: np.ndarray, rect: tuple, pad: float) -> tuple[np.ndarray, float]:
    """Cut a rotated rectangle out upright, with a margin proportional to its height."""
    (cx, cy), (rw, rh), angle = rect
    if rw < rh:  # OpenCV reports some near-horizontal boxes as tall ones rotated by 90 degrees
        rw, rh, angle = rh, rw, angle - 90
    if angle < -45:
        angle += 180
    if angle > 45:
        angle -= 180
    if abs(angle) > MAX_DESKEW_DEGREES:
        angle = 0.0
    margin = pad * rh
    out_w, out_h = int(rw + 2 * margin), int(rh + 2 * margin)
    m = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    m[0, 2] += out_w / 2 - cx
    m[1, 2] += out_h / 2 - cy
    crop = cv2.warpAffine(gray, m, (max(out_w, 4), max(out_h, 4)), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    return crop, float(angle)


def find_lines(image: np.ndarray, min_height: int = 8, max_lines: int = 32) -> list[LineCrop]:
    """Text lines of a full image, top to bottom (then left to right)."""
    gray = to_gray(image)
    h, w = gray.shape
    scale = min(1.0, MAX_ANALYSIS_WIDTH / w)
    work = cv2.resize(gray, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else gray
    mask = _line_mask(work)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    lines: list[LineCrop] = []
    wh, ww = work.shape
    for contour in contours:
        x, y, bw, bh = cv2.boundingRect(contour)
        rect = cv2.minAreaRect(contour)
        long_side, short_side = max(rect[1]), min(rect[1])
        if short_side < min_height * scale or bh > 0.6 * wh or long_side < 1.2 * short_side:
            continue
        if cv2.contourArea(contour) < 0.35 * bw * bh and long_side < 3 * short_side:
            continue
        full_rect = ((rect[0][0] / scale, rect[0][1] / scale), (rect[1][0] / scale, rect[1][1] / scale), rect[2])
        crop, angle = _deskewed_crop(gray, full_rect, pad=0.15)
        box = (int(x / scale), int(y / scale), int(bw / scale), int(bh / scale))
        lines.append(LineCrop(crop, box, angle))
    lines.sort(key=lambda line: (line.box[1] + line.box[3] / 2, line.box[0]))
    return _reading_order(lines)[:max_lines]


def _reading_order(lines: list[LineCrop]) -> list[LineCrop]:
    """Top to bottom; boxes whose vertical centres overlap form one row, read left to right."""
    rows: list[list[LineCrop]] = []
    for line in lines:
        centre = line.box[1] + line.box[3] / 2
        if rows:
            last = rows[-1][0]
            if abs(centre - (last.box[1] + last.box[3] / 2)) < 0.5 * min(last.box[3], line.box[3]):
                rows[-1].append(line)
                continue
        rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda ln: ln.box[0])]


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
