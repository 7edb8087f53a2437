"""WAV replay through the live audio path, and choosing between replay and microphone."""

from __future__ import annotations

import time
import wave

import numpy as np
import pytest

from edge.config import MicrophoneConfig
from edge.errors import SourceError
from edge.sources import microphone
from edge.sources.audio import read_wav, resample
from edge.sources.microphone import MicrophoneSource
from edge.sources.replay import WavReplaySource, open_audio_source
from tests.conftest import stop_all, track_started


@pytest.fixture(autouse=True)
def _stop_sources_after_each_test(monkeypatch):
    """Sources a failing test left running are stopped, so their threads never outlive the test."""
    started = track_started(monkeypatch, MicrophoneSource, WavReplaySource)
    yield
    stop_all(started)


def _write_8bit_stereo(path, seconds: float, rate: int = 44100):
    n = int(rate * seconds) + 13
    t = np.arange(n) / rate
    left = 128 + 100 * np.sin(2 * np.pi * 440 * t)
    right = 128 + 50 * np.sin(2 * np.pi * 660 * t)
    pcm = np.stack([left, right], axis=1).round().astype(np.uint8)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(1)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    return path


@pytest.fixture
def no_portaudio(monkeypatch):
    """Replay must work on machines without PortAudio."""

    def missing():
        raise OSError("PortAudio library not found")

    monkeypatch.setattr(microphone, "_import_sounddevice", missing)


def test_8bit_stereo_44k_file_gives_16k_hops(tmp_path, no_portaudio):
    path = _write_8bit_stereo(tmp_path / "cmd.wav", 0.5)
    chunks = []
    source = WavReplaySource(path, MicrophoneConfig(sample_rate=16000, hop_ms=20, realtime=False), chunks.append)
    source.start()
    source.join(5)
    expected = resample(*read_wav(path), 16000)
    assert source.finished and source.status()["state"] == "finished"
    assert len(chunks) == -(-len(expected) // 320)
    assert all(len(c.samples) == 320 and c.sample_rate == 16000 for c in chunks)
    assert [c.offset for c in chunks] == [320 * i for i in range(len(chunks))]
    assert [c.end_of_stream for c in chunks] == [False] * (len(chunks) - 1) + [True]
    got = np.concatenate([c.samples for c in chunks])
    np.testing.assert_allclose(got[: len(expected)], expected, atol=1e-6)
    assert not np.any(got[len(expected) :])  # the last hop is padded with silence
    assert 0.3 < np.abs(got).max() < 0.8  # (100/128 + 50/128)/2 at most: the channels were averaged


def test_realtime_replay_takes_the_file_duration(tmp_path):
    path = _write_8bit_stereo(tmp_path / "cmd.wav", 0.3)
    chunks = []
    source = WavReplaySource(path, MicrophoneConfig(realtime=True), chunks.append)
    began = time.monotonic()
    source.start()
    _wait = source.join(5)
    elapsed = time.monotonic() - began
    assert _wait is None and source.finished
    assert 0.28 <= elapsed < 1.5
    spread = chunks[-1].t_mono - chunks[0].t_mono
    assert spread == pytest.approx(chunks[-1].offset / 16000, abs=0.1)


def test_stop_ends_replay_early_without_end_of_stream(tmp_path):
    path = _write_8bit_stereo(tmp_path / "long.wav", 3.0)
    chunks = []
    source = WavReplaySource(path, MicrophoneConfig(realtime=True), chunks.append)
    source.start()
    time.sleep(0.1)
    source.stop()
    source.join(2)
    assert not source.finished and source.status()["state"] == "stopped"
    assert chunks and not any(c.end_of_stream for c in chunks)


def test_bad_wav_is_a_source_error(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(SourceError, match="bad.wav"):
        WavReplaySource(bad, MicrophoneConfig(), lambda c: None).start()


def test_open_audio_source_picks_replay_or_microphone(tmp_path, no_portaudio):
    path = _write_8bit_stereo(tmp_path / "cmd.wav", 0.1)
    assert isinstance(open_audio_source(MicrophoneConfig(device=str(path)), lambda c: None), WavReplaySource)
    assert isinstance(open_audio_source(MicrophoneConfig(device="USB"), lambda c: None), MicrophoneSource)
    assert isinstance(open_audio_source(MicrophoneConfig(), lambda c: None), MicrophoneSource)
    with pytest.raises(SourceError, match="does not exist"):
        open_audio_source(MicrophoneConfig(device=str(tmp_path / "missing.wav")), lambda c: None)


def test_replay_and_microphone_give_identical_chunks(tmp_path, monkeypatch):
    """The same samples through the microphone path (odd blocks) and replay give the same hops."""
    import test_sources_microphone as fakes

    path = _write_8bit_stereo(tmp_path / "cmd.wav", 0.25)
    samples, rate = read_wav(path)
    replayed = []
    replay = WavReplaySource(path, MicrophoneConfig(realtime=False), replayed.append)
    replay.start()
    replay.join(5)

    fake = fakes.FakeSoundDevice(default_samplerate=float(rate))
    monkeypatch.setattr(microphone, "_import_sounddevice", lambda: fake)
    live = []
    mic = MicrophoneSource(MicrophoneConfig(), live.append)
    mic.start()
    deadline = time.monotonic() + 5
    while not (fake.streams and fake.streams[0].active) and time.monotonic() < deadline:
        time.sleep(0.005)
    fake.streams[0].feed(samples, sizes=[777, 13, 2048])
    while len(live) < len(replayed) - 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    mic.stop()
    mic.join(2)
    assert len(live) >= len(replayed) - 2
    for a, b in zip(live, replayed):
        assert a.offset == b.offset
        np.testing.assert_allclose(a.samples, b.samples, atol=1e-6)
