"""The part renderer (tools/fusion/render.py) is deterministic and prints what each class promises."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "fusion"))
render = pytest.importorskip("render")  # needs Pillow (the train/dev extras)

from edge.fusion.codes import CLASSES, check_codes, luhn_digit, make_serial, serial_valid


def test_luhn_check_digit():
    assert luhn_digit("7992739871") == "3"  # the textbook example: 79927398713 is valid
    serial = make_serial("482193")
    assert serial_valid(serial) == (True, True)
    wrong = serial[:-1] + str((int(serial[-1]) + 1) % 10)
    assert serial_valid(wrong) == (True, False)
    assert serial_valid("SN-48219") == (False, False)


def test_same_seed_same_pixels_different_seed_different_pixels():
    spec = render.random_spec(np.random.default_rng(7), "ok")
    a, _, corners_a = render.render_scene(spec)
    b, _, corners_b = render.render_scene(spec)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(corners_a, corners_b)
    other = render.random_spec(np.random.default_rng(8), "ok")
    assert not np.array_equal(a, render.render_scene(other)[0])


@pytest.mark.parametrize("cls", CLASSES)
def test_printed_codes_follow_the_class(cls):
    rng = np.random.default_rng(11)
    for _ in range(10):
        spec = render.random_spec(rng, cls)
        codes = check_codes(spec.printed_lines, [spec.expected_lot])
        all_good = codes["serial_check_ok"] and codes["lot_expected"]
        if cls == "label_missing":
            assert spec.printed_lines == []
        elif cls == "wrong_code":
            assert not all_good
        else:
            assert all_good
        part, alpha = render.render_part(spec)
        assert part.shape == (render.PART_H, render.PART_W, 3) and alpha.max() == 1.0
