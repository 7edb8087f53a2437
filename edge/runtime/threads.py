"""The CPU thread budget (`runtime.threads`) applied to OpenCV as well as to onnxruntime."""

from __future__ import annotations

import cv2


def limit_opencv_threads(threads: int) -> None:
    """Cap OpenCV's worker pool at `threads` (process-wide).

    edge already runs capture, OCR, speech and fusion side by side; OpenCV splitting one small crop across
    cores on top of that costs more than it saves. Measured on the real OCR lines with one core busy:
    line preprocessing p50 203 us with OpenCV's default pool vs 166 us with one thread.
    """
    cv2.setNumThreads(threads)
