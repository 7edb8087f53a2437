"""The audio front end: streaming resampler, ring buffer and hop cutting (no sound card needed)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from edge.sources.audio import StreamResampler, _filter_bank, resample
from edge.sources.hops import AudioRing, HopCutter

RATES = [(44100, 16000), (48000, 16000), (8000, 16000), (22050, 16000), (16000, 16000)]


def _direct_resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Textbook definition, one output at a time: y[k] = sum_i x[i] * h[i*up - k*down + half]."""
    from math import ceil, gcd

    g = gcd(from_rate, to_rate)
    up, down = to_rate // g, from_rate // g
    taps = _filter_bank(up, down)
    half = (len(taps) - 1) // 2
    out = np.zeros(ceil(len(x) * up / down))
    for k in range(len(out)):
        for i in range(len(x)):
            t = i * up - k * down + half
            if 0 <= t < len(taps):
                out[k] += x[i] * taps[t]
    return out


@pytest.mark.parametrize("from_rate,to_rate", [(44100, 16000), (8000, 16000), (48000, 16000)])
def test_resampler_matches_direct_formula(from_rate, to_rate):
    x = np.random.default_rng(3).standard_normal(300)
    np.testing.assert_allclose(resample(x, from_rate, to_rate), _direct_resample(x, from_rate, to_rate), atol=1e-5)


@pytest.mark.parametrize("from_rate,to_rate", RATES)
def test_resampler_is_block_size_invariant(from_rate, to_rate):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(from_rate // 3 + 17).astype(np.float32)
    whole = resample(x, from_rate, to_rate)
    streaming = StreamResampler(from_rate, to_rate)
    pieces, i = [], 0
    for size in [0, 1, 2, 3, 511, 1, 4096, 7, 333] * 200:
        if i >= len(x):
            break
        pieces.append(streaming.process(x[i : i + size]))
        i += size
    pieces.append(streaming.process(x[i:], final=True))
    streamed = np.concatenate(pieces)
    assert len(streamed) == len(whole) == -(-len(x) * to_rate // from_rate)
    np.testing.assert_allclose(streamed, whole, atol=1e-6)


def test_resampler_keeps_passband_and_removes_aliases():
    t = np.arange(44100) / 44100
    kept = resample(np.sin(2 * np.pi * 1000 * t), 44100, 16000)[2000:-2000]
    aliased = resample(np.sin(2 * np.pi * 11000 * t), 44100, 16000)[2000:-2000]
    assert abs(np.sqrt(2) * kept.std() - 1.0) < 0.01
    assert np.abs(aliased).max() < 0.01  # 11 kHz is above 16 kHz's Nyquist and must not fold to 5 kHz


def test_resampler_history_stays_bounded():
    streaming = StreamResampler(44100, 16000)
    for _ in range(500):
        streaming.process(np.zeros(441, np.float32))
    assert len(streaming.history) < 1000


def test_ring_returns_blocks_in_order():
    ring = AudioRing(10)
    ring.write(np.arange(6, dtype=np.float32))
    assert ring.read(0).samples.tolist() == list(range(6))
    ring.write(np.arange(6, 14, dtype=np.float32))
    got = ring.read(0)
    assert got.samples.tolist() == list(range(6, 14)) and got.lost == 0


def test_ring_overrun_keeps_newest_and_counts_loss():
    ring = AudioRing(10)
    ring.write(np.arange(8, dtype=np.float32))
    ring.write(np.arange(8, 25, dtype=np.float32))  # bigger than the ring on its own
    got = ring.read(0)
    assert got.samples.tolist() == list(range(15, 25))
    assert got.lost == 15 and ring.overruns == 1 and ring.lost_samples == 15


def test_ring_under_concurrent_writes_loses_nothing_silently():
    """A fast producer thread and a slow reader: every sample is either read, in order, or counted lost."""
    import threading

    ring = AudioRing(capacity=3000, wake_after=100)
    total = 200_000
    rng = np.random.default_rng(5)
    sizes = rng.integers(1, 700, 2000)

    def produce():
        written = 0
        for size in sizes:
            size = int(min(size, total - written))
            if size <= 0:
                break
            ring.write(np.arange(written, written + size, dtype=np.float32))  # value = sample index
            written += size
            if written % 5 == 0:
                time.sleep(0.0002)  # bursts and pauses, like a loaded machine

    producer = threading.Thread(target=produce)
    producer.start()
    next_index, received, lost = 0, 0, 0
    while producer.is_alive() or ring._written > next_index:
        got = ring.read(timeout=0.001)
        lost += got.lost
        next_index += got.lost
        if len(got.samples):
            expected = np.arange(next_index, next_index + len(got.samples), dtype=np.float32)
            np.testing.assert_array_equal(got.samples, expected)
            next_index += len(got.samples)
            received += len(got.samples)
        if received % 3 == 0:
            time.sleep(0.002)  # a reader that sometimes lags
    producer.join()
    written = int(min(sizes.sum(), total))
    assert received + lost == next_index == written
    assert ring.lost_samples == lost
    assert received > 1000 and lost > 0  # both paths were exercised


def test_ring_read_times_out_empty():
    got = AudioRing(10).read(timeout=0.01)
    assert len(got.samples) == 0 and got.lost == 0


def test_hop_cutter_exact_hops_offsets_and_timestamps():
    cutter = HopCutter("mic", 16000, 16000, 320)
    x = np.random.default_rng(1).standard_normal(16000).astype(np.float32)
    chunks, i = [], 0
    for size in [1, 319, 1000, 7, 4000, 10673]:
        chunks += cutter.push(x[i : i + size], t_mono=100.0 + (i + size) / 16000, t_wall=5.0)
        i += size
    assert i == len(x)
    assert [c.offset for c in chunks] == [320 * n for n in range(50)]
    np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks]), x)
    for c in chunks:  # sample n was recorded at 100 + n/16000 in this made-up clock
        assert c.t_mono == pytest.approx(100.0 + c.offset / 16000, abs=1e-9)
    end = cutter.finish(t_mono=101.0, t_wall=6.0)
    assert len(end) == 1 and end[0].end_of_stream and not np.any(end[0].samples)


def test_hop_cutter_gap_advances_offset():
    cutter = HopCutter("mic", 16000, 16000, 160)
    cutter.push(np.zeros(400, np.float32), 1.0, 1.0)
    cutter.gap(0.5)
    after = cutter.push(np.ones(160, np.float32), 2.0, 2.0)
    assert after[0].offset == round((400 / 16000 + 0.5) * 16000)
    assert np.all(after[0].samples == 1.0)  # the partial hop from before the gap was dropped


def test_hop_timestamps_ignore_late_deliveries_and_never_decrease():
    cutter = HopCutter("mic", 16000, 16000, 160)
    chunks = []
    for n in range(50):  # block n (160 samples) truly ends at 10 + (n+1)*0.01; every 7th arrives 50 ms late
        late = 0.05 if n % 7 == 3 else 0.0
        chunks += cutter.push(np.zeros(160, np.float32), t_mono=10 + (n + 1) * 0.01 + late, t_wall=0.0)
    times = [c.t_mono for c in chunks]
    assert times == sorted(times)
    np.testing.assert_allclose(times, [10 + c.offset / 16000 for c in chunks], atol=2e-4)  # drift allowance only
