"""Speech front end: features independent of block size, endpointing on synthetic signals."""

from __future__ import annotations

import numpy as np
import pytest

from edge.speech.frontend import Endpointer, LogMel, VadConfig, log_mel


def tone_bursts(rate: int = 16000) -> np.ndarray:
    """0.6 s quiet, 0.5 s voiced-like burst, 0.8 s quiet, 0.4 s burst, 0.8 s quiet."""
    rng = np.random.default_rng(0)
    parts = []
    for quiet_s, burst_s in ((0.6, 0.5), (0.8, 0.4)):
        parts.append(rng.standard_normal(int(quiet_s * rate)) * 1e-4)
        t = np.arange(int(burst_s * rate)) / rate
        voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 15))
        parts.append(0.1 * voice * np.hanning(len(t)) ** 0.2 + rng.standard_normal(len(t)) * 1e-4)
    parts.append(rng.standard_normal(int(0.8 * rate)) * 1e-4)
    return np.concatenate(parts).astype(np.float32)


@pytest.mark.parametrize("chunk", [1, 7, 160, 320, 399, 400, 1000, 4096])
def test_log_mel_does_not_depend_on_chunk_size(chunk: int) -> None:
    audio = np.random.default_rng(1).standard_normal(16000 + 123).astype(np.float32) * 0.1
    whole = log_mel(audio)
    stream = LogMel()
    pieces = [stream.push(audio[i : i + chunk]) for i in range(0, len(audio), chunk)]
    streamed = np.concatenate(pieces)
    assert streamed.shape == whole.shape == (1 + (len(audio) - 400) // 160, 40)
    np.testing.assert_allclose(streamed, whole, rtol=0, atol=1e-5)


def test_log_mel_tracks_loudness() -> None:
    t = np.arange(16000) / 16000
    loud = log_mel(0.5 * np.sin(2 * np.pi * 440 * t))
    quiet = log_mel(0.005 * np.sin(2 * np.pi * 440 * t))
    # 40 dB quieter = power / 10^4 = log difference of ln(1e4) in the bins holding the tone
    peak = loud[10].argmax()
    assert loud[10, peak] - quiet[10, peak] == pytest.approx(np.log(1e4), abs=0.05)


def test_endpointer_finds_two_utterances_with_their_times() -> None:
    feats = log_mel(tone_bursts())
    segments = Endpointer(VadConfig(end_silence_frames=30)).push(feats)
    assert len(segments) == 2
    first, second = segments
    # bursts at 0.6-1.1 s and 1.9-2.3 s; frames are 10 ms; pre/post roll widen the segments a little
    assert 30 <= first.start_frame <= 60 and 110 <= first.end_frame <= 130
    assert 165 <= second.start_frame <= 190 and 230 <= second.end_frame <= 250
    assert not first.forced and len(first.features) == first.end_frame - first.start_frame


def test_endpointer_is_chunk_invariant_and_flushes() -> None:
    feats = log_mel(tone_bursts()[: int(2.1 * 16000)])  # the stream stops inside the second burst
    whole = Endpointer().push(feats)
    ep = Endpointer()
    pieces = [s for i in range(0, len(feats), 3) for s in ep.push(feats[i : i + 3])]
    assert [(s.start_frame, s.end_frame) for s in pieces] == [(s.start_frame, s.end_frame) for s in whole]
    assert len(pieces) == 1
    tail = ep.flush()
    assert len(tail) == 1 and tail[0].forced and tail[0].end_frame == len(feats)


def test_steady_hum_is_not_speech() -> None:
    t = np.arange(3 * 16000) / 16000
    hum = 0.05 * np.sin(2 * np.pi * 50 * t) + 0.02 * np.sin(2 * np.pi * 150 * t)
    noise = np.random.default_rng(2).standard_normal(len(t)) * 1e-3
    ep = Endpointer()
    assert ep.push(log_mel(hum + noise)) == [] and ep.flush() == []


def test_endpointer_cuts_overlong_speech() -> None:
    rng = np.random.default_rng(3)
    quiet = rng.standard_normal(8000) * 1e-4
    babble = rng.standard_normal(16000 * 3) * 0.1 * np.repeat(rng.uniform(0.3, 1, 30), 1600)
    segments = Endpointer(VadConfig(max_frames=100)).push(log_mel(np.concatenate([quiet, babble])))
    assert segments and all(s.forced and len(s.features) == 100 for s in segments)
