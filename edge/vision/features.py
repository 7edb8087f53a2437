"""Classic descriptors of an image region: HOG (shape/edges) and LBP histograms (texture).

Plain numpy + OpenCV, because the OpenCV 5 wheels have no HOGDescriptor and scikit-image is a heavy runtime
dependency for a Raspberry Pi. The HOG follows Dalal & Triggs as scikit-image implements it (central
differences, unsigned orientations, cell histograms averaged over the cell, L2-Hys block normalisation),
so results can be checked against skimage.feature.hog.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-5


def _gray_float(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3:
        image = image.astype(np.float32) @ np.array([0.114, 0.587, 0.299], np.float32)  # BGR -> luma
    return np.asarray(image, np.float64)


def hog(image: np.ndarray, orientations: int = 9, cell: int = 16, block: int = 2) -> np.ndarray:
    """HOG descriptor of a gray or BGR image, shape (blocks_y * blocks_x * block * block * orientations,)."""
    img = _gray_float(image)
    if img.shape[0] < cell * block or img.shape[1] < cell * block:
        raise ValueError(f"hog: image {img.shape[:2]} is smaller than one block of {block}x{block} cells of {cell} px")
    g_row = np.zeros_like(img)
    g_col = np.zeros_like(img)
    g_row[1:-1, :] = img[2:, :] - img[:-2, :]
    g_col[:, 1:-1] = img[:, 2:] - img[:, :-2]
    magnitude = np.hypot(g_row, g_col)
    angle = np.rad2deg(np.arctan2(g_row, g_col)) % 180.0
    bins = np.minimum((angle / (180.0 / orientations)).astype(np.int64), orientations - 1)
    cells_y, cells_x = img.shape[0] // cell, img.shape[1] // cell
    mag = magnitude[: cells_y * cell, : cells_x * cell]
    idx = bins[: cells_y * cell, : cells_x * cell]
    hist = np.zeros((cells_y, cells_x, orientations))
    one_hot = np.zeros(mag.shape + (orientations,))
    np.put_along_axis(one_hot, idx[..., None], mag[..., None], axis=-1)
    hist = one_hot.reshape(cells_y, cell, cells_x, cell, orientations).sum(axis=(1, 3)) / (cell * cell)
    blocks = []
    for y in range(cells_y - block + 1):
        for x in range(cells_x - block + 1):
            b = hist[y : y + block, x : x + block].ravel()
            b = b / np.sqrt(np.sum(b**2) + _EPS**2)
            b = np.minimum(b, 0.2)
            b = b / np.sqrt(np.sum(b**2) + _EPS**2)
            blocks.append(b)
    return np.concatenate(blocks).astype(np.float32)


def _riu2_table() -> np.ndarray:
    """Map each 8-bit LBP code to its rotation-invariant uniform label: number of 1 bits (0..8), or 9 if the
    circular pattern has more than two 0/1 transitions (noise-like texture)."""
    table = np.empty(256, np.int64)
    for code in range(256):
        bits = [(code >> i) & 1 for i in range(8)]
        transitions = sum(bits[i] != bits[(i + 1) % 8] for i in range(8))
        table[code] = sum(bits) if transitions <= 2 else 9
    return table


_RIU2 = _riu2_table()
_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))  # clockwise


def lbp_codes(image: np.ndarray) -> np.ndarray:
    """Rotation-invariant uniform LBP (8 neighbours, radius 1) of each interior pixel, labels 0..9."""
    img = _gray_float(image)
    center = img[1:-1, 1:-1]
    code = np.zeros(center.shape, np.int64)
    h, w = img.shape
    for bit, (dy, dx) in enumerate(_NEIGHBOURS):
        neighbour = img[1 + dy : h - 1 + dy, 1 + dx : w - 1 + dx]
        code |= (neighbour >= center).astype(np.int64) << bit
    return _RIU2[code]


def lbp_histogram(image: np.ndarray, grid: tuple[int, int] = (2, 3)) -> np.ndarray:
    """Normalised 10-bin LBP histograms of a grid of regions (rows, cols), concatenated."""
    codes = lbp_codes(image)
    rows, cols = grid
    h, w = codes.shape
    out = []
    for r in range(rows):
        for c in range(cols):
            region = codes[r * h // rows : (r + 1) * h // rows, c * w // cols : (c + 1) * w // cols]
            hist = np.bincount(region.ravel(), minlength=10).astype(np.float32)
            out.append(hist / max(1.0, hist.sum()))
    return np.concatenate(out)


def classic_features(crop: np.ndarray) -> np.ndarray:
    """The classic feature vector of a part crop (the fusion model's fourth input): HOG + LBP + intensity stats."""
    gray = _gray_float(crop)
    stats = np.array([gray.mean() / 255.0, gray.std() / 128.0], np.float32)
    return np.concatenate([hog(gray), lbp_histogram(gray), stats]).astype(np.float32)


def classic_feature_size(height: int, width: int, cell: int = 16, block: int = 2, grid: tuple[int, int] = (2, 3)) -> int:
    blocks = (height // cell - block + 1) * (width // cell - block + 1)
    return blocks * block * block * 9 + grid[0] * grid[1] * 10 + 2
