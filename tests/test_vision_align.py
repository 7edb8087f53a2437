"""Keypoint alignment recovers a known homography, so ROIs drawn on a reference follow the part."""

import cv2
import numpy as np
import pytest

from edge.vision.align import Aligner


def _reference() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.full((240, 320), 90, np.uint8)
    for _ in range(40):
        x, y = int(rng.integers(0, 300)), int(rng.integers(0, 220))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(5, 30)), y + int(rng.integers(5, 30))), int(rng.integers(0, 255)), -1)
    cv2.putText(img, "SN-4821937", (40, 120), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 20, 2)
    cv2.putText(img, "LOT 2411-B07", (40, 170), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 240, 2)
    return img


def _known_homography() -> np.ndarray:
    rotation = cv2.getRotationMatrix2D((160, 120), 9.0, 0.95)
    h = np.vstack([rotation, [0, 0, 1]])
    h[0, 2] += 14
    h[1, 2] -= 8
    h[2, :2] = [1.5e-4, -1.0e-4]  # a little perspective
    return h


@pytest.mark.parametrize("method", ["sift", "orb"])
def test_alignment_recovers_known_homography(method):
    reference = _reference()
    truth = _known_homography()
    frame = cv2.warpPerspective(reference, truth, (320, 240))
    aligner = Aligner(reference, method=method)
    result = aligner.align(frame)
    assert result is not None and result.inliers >= 12
    roi = (40, 95, 200, 35)  # where the serial is printed on the reference
    x, y, w, h = roi
    corners = np.float32([[x, y], [x + w, y], [x + w, y + h], [x, y + h]]).reshape(-1, 1, 2)
    expected = cv2.perspectiveTransform(corners, truth).reshape(-1, 2)
    assert np.abs(result.map_roi(roi) - expected).max() < 2.0
    warped = aligner.warp_to_reference(frame, result)
    assert warped.shape == reference.shape


def test_alignment_refuses_an_unrelated_image():
    aligner = Aligner(_reference())
    noise = np.random.default_rng(1).integers(0, 255, (240, 320)).astype(np.uint8)
    assert aligner.align(noise) is None


def test_reference_without_texture_is_a_clear_error():
    with pytest.raises(ValueError, match="too little texture"):
        Aligner(np.full((100, 100), 128, np.uint8))
