"""Align a frame to a reference image of the part/label with keypoints (SIFT, or ORB where SIFT is too slow).

With the homography from reference to frame, regions of interest drawn once on the reference (where the serial
and the lot code are printed) follow a part that is shifted, rotated or seen slightly in perspective.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Alignment:
    homography: np.ndarray  # 3x3, maps reference pixel coordinates to frame pixel coordinates
    inliers: int
    matches: int

    def map_points(self, points: np.ndarray) -> np.ndarray:
        pts = np.asarray(points, np.float32).reshape(-1, 1, 2)
        return cv2.perspectiveTransform(pts, self.homography).reshape(-1, 2)

    def map_roi(self, roi: tuple[float, float, float, float]) -> np.ndarray:
        """Corners (4x2) in the frame of an (x, y, w, h) rectangle drawn on the reference."""
        x, y, w, h = roi
        return self.map_points(np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32))


def _gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


class Aligner:
    """Keypoints of the reference are computed once; `align(frame)` matches the frame against them."""

    def __init__(self, reference: np.ndarray, method: str = "sift", max_features: int = 1000, ratio: float = 0.75) -> None:
        if method == "sift":
            self.detector = cv2.SIFT_create(nfeatures=max_features)
            norm = cv2.NORM_L2
        elif method == "orb":
            self.detector = cv2.ORB_create(nfeatures=max_features)
            norm = cv2.NORM_HAMMING
        else:
            raise ValueError(f"alignment method must be 'sift' or 'orb', not {method!r}")
        self.matcher = cv2.BFMatcher(norm)
        self.ratio = ratio
        self.reference_shape = reference.shape[:2]
        self.ref_points, self.ref_desc = self.detector.detectAndCompute(_gray(reference), None)
        if self.ref_desc is None or len(self.ref_points) < 4:
            raise ValueError("the reference image has too little texture for keypoints; use a sharper reference")

    def align(self, frame: np.ndarray, min_inliers: int = 12) -> Alignment | None:
        """Homography reference -> frame by ratio-test matches and RANSAC, or None if it is not trustworthy."""
        points, desc = self.detector.detectAndCompute(_gray(frame), None)
        if desc is None or len(points) < 4:
            return None
        pairs = self.matcher.knnMatch(self.ref_desc, desc, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < self.ratio * p[1].distance]
        if len(good) < max(4, min_inliers):
            return None
        src = np.float32([self.ref_points[m.queryIdx].pt for m in good]).reshape(-1, 1, 2)
        dst = np.float32([points[m.trainIdx].pt for m in good]).reshape(-1, 1, 2)
        homography, inlier_mask = cv2.findHomography(src, dst, cv2.RANSAC, 3.0)
        if homography is None:
            return None
        inliers = int(inlier_mask.sum())
        if inliers < min_inliers:
            return None
        return Alignment(homography=homography, inliers=inliers, matches=len(good))

    def warp_to_reference(self, frame: np.ndarray, alignment: Alignment) -> np.ndarray:
        """The frame resampled into the reference's coordinates (ROIs can then be cut at fixed places)."""
        h, w = self.reference_shape
        return cv2.warpPerspective(frame, np.linalg.inv(alignment.homography), (w, h))
