"""Preprocessing: shapes, padding, batching by width, dominant-band crop, bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.errors import InputError
from edge.ocr.preprocess import (
    INPUT_HEIGHT,
    batches_by_width,
    dominant_text_band,
    normalize_line,
    to_gray,
    to_tensor,
)


def text_image(text: str, scale: float = 1.0, size=(60, 300)) -> np.ndarray:
    image = np.full((*size, 3), 230, np.uint8)
    cv2.putText(image, text, (10, int(size[0] * 0.7)), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), 2)
    return image


@pytest.mark.parametrize("shape", [(20, 100, 3), (64, 500), (120, 90, 4), (33, 7, 1)])
def test_normalised_lines_have_model_height_and_width_multiple_of_4(shape):
    line = normalize_line(np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8))
    assert line.shape[0] == INPUT_HEIGHT and line.shape[1] % 4 == 0 and line.dtype == np.uint8


def test_aspect_ratio_is_kept():
    line = normalize_line(text_image("ABC123", size=(64, 320)), crop_band=False)
    assert line.shape[1] == 160


def test_tensor_batch_pads_to_widest_line_with_background():
    short = np.full((32, 40), 200, np.uint8)
    long = np.full((32, 120), 50, np.uint8)
    batch = to_tensor([short, long])
    assert batch.shape == (2, 1, 32, 120) and batch.dtype == np.float32
    assert np.allclose(batch[0, 0, :, 40:], (200 - 127.5) / 127.5)
    assert batch.min() >= -1 and batch.max() <= 1


def test_batches_group_similar_widths():
    lines = [np.zeros((32, w), np.uint8) for w in (40, 400, 44, 420, 48)]
    groups = batches_by_width(lines, max_batch=8)
    assert sorted(i for g in groups for i in g) == [0, 1, 2, 3, 4]
    assert {0, 2, 4} in [set(g) for g in groups]


def test_dominant_band_keeps_the_big_text_of_a_plate_like_crop():
    plate = np.full((150, 300), 220, np.uint8)
    cv2.putText(plate, "state", (110, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 60, 1)
    cv2.putText(plate, "ABC 123", (20, 100), cv2.FONT_HERSHEY_SIMPLEX, 1.8, 10, 5)
    cv2.putText(plate, "slogan here", (90, 140), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 60, 1)
    y0, y1 = dominant_text_band(plate)
    assert 40 <= y0 <= 65 and 100 <= y1 <= 125


def test_bad_inputs_raise_input_error():
    with pytest.raises(InputError):
        to_gray(np.zeros((0, 0), np.uint8))
    with pytest.raises(InputError):
        normalize_line(np.zeros((2, 50), np.uint8))
