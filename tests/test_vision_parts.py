"""Part detection against the learned background, upright crops, and the arrive/leave trigger."""

import cv2
import numpy as np

from edge.events import Frame
from edge.vision.parts import BackgroundModel, crop_part, find_part
from edge.vision.trigger import IntervalTrigger, PartTrigger


def _belt(w=320, h=240) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.clip(55 + rng.normal(0, 3, (h, w, 3)), 0, 255).astype(np.uint8)


def _with_part(bg: np.ndarray, center, angle, size=(130, 80)) -> np.ndarray:
    frame = bg.copy()
    box = cv2.boxPoints((center, size, angle)).astype(np.int32)
    cv2.fillConvexPoly(frame, box, (170, 170, 170))
    # a dark mark in the part's top-left quarter tells which way up the crop came out
    (cx, cy), a = center, np.deg2rad(angle)
    mx, my = cx - 0.3 * size[0] * np.cos(a) + 0.25 * size[1] * np.sin(a), cy - 0.3 * size[0] * np.sin(a) - 0.25 * size[1] * np.cos(a)
    cv2.circle(frame, (int(mx), int(my)), 8, (20, 20, 20), -1)
    return frame


def test_find_part_recovers_pose_and_crop_is_upright():
    bg = _belt()
    frame = _with_part(bg, (170, 125), 12.0)
    box = find_part(frame, bg)
    assert box is not None and not box.touches_edge
    assert abs(box.center[0] - 170) < 3 and abs(box.center[1] - 125) < 3
    assert abs(box.angle - 12.0) < 2.0 and abs(box.size[0] - 130) < 6 and abs(box.size[1] - 80) < 6
    crop = cv2.cvtColor(crop_part(frame, box, (96, 64)), cv2.COLOR_BGR2GRAY)
    assert crop.shape == (64, 96)
    assert crop[:32, :48].mean() < crop[32:, 48:].mean() - 10  # the mark stays in the top-left quarter


def test_no_part_on_empty_belt():
    bg = _belt()
    assert find_part(bg, bg) is None


def test_part_at_the_edge_is_flagged():
    bg = _belt()
    box = find_part(_with_part(bg, (40, 120), 0.0), bg)
    assert box is not None and box.touches_edge


def test_background_model_learns_median_then_ignores_the_part():
    bg = _belt()
    model = BackgroundModel(learn_frames=3)
    for _ in range(3):
        model.update(bg)
    assert model.ready
    frame = _with_part(bg, (160, 120), 0.0)
    box = find_part(frame, model.background())
    for _ in range(50):
        model.update(frame, box)
    assert find_part(frame, model.background()) is not None  # a part standing still is not absorbed


def _sequence(bg, xs):
    frames = []
    for i, x in enumerate(xs):
        image = bg.copy() if x is None else _with_part(bg, (x, 120), 5.0)
        frames.append(Frame("cam", i, i * 0.1, i * 0.1, image))
    return frames


def test_trigger_reports_each_part_once_with_a_still_best_frame():
    bg = _belt()
    one_pass = [None] * 2 + [20, 90, 160, 160, 160, 160, 230, 300] + [None] * 2
    frames = _sequence(bg, [None] * 5 + one_pass + one_pass)
    trigger = PartTrigger(background_frames=5)
    visits = [v for f in frames for v in trigger.update(f)] + trigger.finish(frames[-1].t_mono)
    assert len(visits) == 2
    for visit in visits:
        assert abs(visit.best_box.center[0] - 160) < 3
        assert visit.t_leave > visit.t_arrive
        assert visit.best_frame.frame_id in visit.frame_ids


def test_interval_trigger_cuts_fixed_windows():
    bg = _belt()
    frames = _sequence(bg, [None] * 5 + [160] * 25)
    trigger = IntervalTrigger(interval_s=1.0, background_frames=5)
    visits = [v for f in frames for v in trigger.update(f)]
    assert len(visits) == 2
    assert visits[-1].best_box is not None


def test_a_part_present_at_start_leaves_one_ghost_that_is_absorbed():
    bg = _belt()
    start = _with_part(bg, (160, 120), 0.0)
    frames = [Frame("cam", i, i * 0.1, i * 0.1, start) for i in range(5)]  # learned WITH the part
    frames += [Frame("cam", 5 + i, 0.5 + i * 0.1, 0.5 + i * 0.1, bg) for i in range(80)]  # then it is taken away
    trigger = PartTrigger(background_frames=5, absorb_after_s=3.0)
    visits = [v for f in frames for v in trigger.update(f)]
    assert len(visits) == 1  # the "hole" once, then it is part of the background
    assert trigger.current is None and find_part(bg, trigger.background.background()) is None
