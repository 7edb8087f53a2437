"""Classic text-line localisation: lines found top to bottom, deskewed, fixed ROIs clipped."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.ocr.localize import crop_rois, find_lines

FIXTURES = Path(__file__).parent / "fixtures" / "ocr"


def test_two_line_label_gives_two_lines_in_reading_order():
    lines = find_lines(cv2.imread(str(FIXTURES / "label_two_lines.png")))
    assert len(lines) == 2
    (x0, y0, w0, h0), (x1, y1, w1, h1) = lines[0].box, lines[1].box
    assert y0 < y1 and abs(x0 - x1) < 10 and w0 > 3 * h0 and w1 > 3 * h1


def test_rotated_label_is_deskewed():
    label = cv2.imread(str(FIXTURES / "label_two_lines.png"), cv2.IMREAD_GRAYSCALE)
    canvas = np.full((400, 600), 240, np.uint8)
    canvas[100:300, 90:510] = label
    rotated = cv2.warpAffine(canvas, cv2.getRotationMatrix2D((300, 200), 8, 1.0), (600, 400),
                             borderValue=240)
    lines = find_lines(rotated)
    assert len(lines) == 2
    assert all(abs(abs(line.angle) - 8) < 2.5 for line in lines)
    for line in lines:  # an upright crop is wide and flat
        assert line.image.shape[1] > 4 * line.image.shape[0]


def test_blank_image_has_no_lines():
    assert find_lines(np.full((200, 300), 128, np.uint8)) == []


def test_rois_are_clipped_to_the_image():
    crops = crop_rois(np.zeros((100, 100, 3), np.uint8), [(80, 80, 50, 50), (0, 0, 2, 2)])
    assert len(crops) == 1 and crops[0].box == (80, 80, 20, 20)
