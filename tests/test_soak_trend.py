"""The soak benchmark's leak measure: a steady leak must show, a noisy flat RSS must not."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from soak import rss_trend


def series(rss: np.ndarray) -> list[dict]:
    return [{"t_s": 10.0 * i, "rss_mb": float(r)} for i, r in enumerate(rss)]


def test_steady_leak_is_measured():
    minutes = np.arange(180) / 6.0  # 30 minutes, a sample every 10 s
    trend = rss_trend(series(200 + 0.5 * minutes), window_s=120)
    assert 13 < trend["growth"] < 15.5
    assert abs(trend["slope_mb_per_10min"] - 5.0) < 0.01


def test_swinging_but_flat_rss_is_not_a_leak():
    rng = np.random.default_rng(1)
    rss = 220 + rng.choice([-10.0, 0.0, 10.0], size=180)  # frames in flight come and go
    rss[0], rss[-1] = 210, 230  # an unlucky first and last sample: +20 MB by single samples
    trend = rss_trend(series(rss), window_s=120)
    assert abs(trend["growth"]) < 5
    assert abs(trend["slope_mb_per_10min"]) < 2
