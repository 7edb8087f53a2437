"""HOG and LBP descriptors: shapes, agreement with scikit-image's HOG, and the invariances they promise."""

import numpy as np
import pytest

from edge.vision.features import classic_feature_size, classic_features, hog, lbp_codes, lbp_histogram


def _image(seed: int = 0, shape=(64, 96)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.zeros(shape, np.float64)
    for _ in range(12):  # rectangles give real edges, not just noise
        y, x = rng.integers(0, shape[0] - 8), rng.integers(0, shape[1] - 8)
        img[y : y + rng.integers(4, 20), x : x + rng.integers(4, 30)] += rng.uniform(30, 120)
    return np.clip(img + rng.normal(0, 3, shape), 0, 255)


def test_hog_shape_and_matches_scikit_image():
    skimage_feature = pytest.importorskip("skimage.feature")
    img = _image()
    ours = hog(img, orientations=9, cell=16, block=2)
    ref = skimage_feature.hog(img, orientations=9, pixels_per_cell=(16, 16), cells_per_block=(2, 2), block_norm="L2-Hys")
    assert ours.shape == (3 * 5 * 2 * 2 * 9,) == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_hog_ignores_brightness_offset_and_contrast_gain():
    img = _image(1)
    base = hog(img)
    np.testing.assert_allclose(hog(img + 40.0), base, atol=1e-6)  # gradients do not see an offset
    np.testing.assert_allclose(hog(img * 1.7), base, atol=1e-4)  # block normalisation removes the gain


def test_hog_rejects_too_small_region():
    with pytest.raises(ValueError, match="smaller than one block"):
        hog(np.zeros((20, 20)))


def test_lbp_invariant_to_monotonic_gray_changes_and_90_degree_rotation():
    img = np.round(_image(2))
    codes = lbp_codes(img)
    assert codes.shape == (62, 94) and codes.min() >= 0 and codes.max() <= 9
    np.testing.assert_array_equal(lbp_codes(np.sqrt(img) * 10 + 5), codes)  # any increasing map keeps the order
    whole = lbp_histogram(img, grid=(1, 1))
    np.testing.assert_allclose(lbp_histogram(np.rot90(img), grid=(1, 1)), whole, atol=1e-6)
    assert whole.shape == (10,) and abs(whole.sum() - 1) < 1e-6


def test_lbp_histogram_tells_textures_apart():
    rng = np.random.default_rng(3)
    flat = np.full((64, 96), 100.0)
    noisy = rng.uniform(0, 255, (64, 96))
    assert np.abs(lbp_histogram(flat) - lbp_histogram(noisy)).sum() > 1.0


def test_classic_vector_size():
    vec = classic_features(_image(4).astype(np.uint8))
    assert vec.shape == (classic_feature_size(64, 96),) == (602,)
    assert vec.dtype == np.float32 and np.isfinite(vec).all()
