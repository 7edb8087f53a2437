"""Speech stage and the live microphone path (fake sounddevice): events, times, flush, latency."""

from __future__ import annotations

import io
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

from edge.config import EdgeConfig
from edge.events import AudioChunk
from edge.runtime import load_manifest
from edge.sources import microphone
from edge.sources.audio import read_wav, resample
from edge.speech.cli import build_recognizer, listen_microphone
from edge.speech.stage import build_stage

FIXTURES = Path(__file__).parent / "fixtures" / "speech"
RATE = 16000


def speech(name: str, rate: int = RATE) -> np.ndarray:
    samples, file_rate = read_wav(FIXTURES / name)
    return resample(samples, file_rate, rate) if file_rate != rate else samples


def quiet(seconds: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * rate)) * 1e-4).astype(np.float32)


def chunks(
    audio: np.ndarray,
    rate: int = RATE,
    hop: int = 320,
    source: str = "mic0",
    t0: float = 100.0,
    first_offset: int = 0,
    eos: bool = False,
) -> list[AudioChunk]:
    out = []
    for i, start in enumerate(range(0, len(audio) - hop + 1, hop)):
        offset = first_offset + start
        out.append(
            AudioChunk(
                source, offset, rate, t0 + start / rate, 1e9 + start / rate, audio[start : start + hop]
            )
        )
    if eos:
        last = out[-1]
        out[-1] = AudioChunk(last.source_id, last.offset, rate, last.t_mono, last.t_wall, last.samples, True)
    return out


@pytest.fixture(scope="module")
def stage():
    return build_stage(EdgeConfig(), load_manifest())


def test_stage_contract(stage) -> None:
    assert stage.consumes == ("audio",) and stage.drop_when_full is False


def test_one_event_per_utterance_with_stream_times(stage) -> None:
    audio = np.concatenate(
        [
            quiet(0.5),
            speech("pass__scotland.wav"),
            quiet(1.0, seed=1),
            speech("nine_one__scotland.wav"),
            quiet(1.0, seed=2),
        ]
    )
    events = [e for c in chunks(audio, first_offset=RATE * 10) for e in stage.process(c)]
    assert [e.data["transcript"] for e in events] == ["pass", "nine one"]
    first, second = events
    assert set(first.data) == {"transcript", "words", "confidence", "t_start", "t_end", "rejected"}
    assert first.kind == "speech" and first.source_id == "mic0" and first.data["rejected"] is False
    pass_len = len(speech("pass__scotland.wav")) / RATE
    # the stream starts at offset 10 s; "pass" spans 10.5 s .. 10.5 s + its length (pre/post roll allowed)
    assert (
        10.1 <= first.data["t_start"] <= 10.5
        and 10.5 + pass_len - 0.1 <= first.data["t_end"] <= 10.5 + pass_len + 0.3
    )
    word = first.data["words"][0]
    assert (
        word["word"] == "pass"
        and first.data["t_start"] <= word["start"] < word["end"] <= first.data["t_end"] + 1e-6
    )
    # t_mono: the chunk clock (t0 = 100 s at offset 10 s) + the utterance end
    assert first.t_mono == pytest.approx(100.0 + first.data["t_end"] - 10.0, abs=0.02)
    assert second.data["words"][0]["start"] > first.data["t_end"]
    assert stage.latencies and max(stage.latencies) < 0.3 * 5  # generous on a shared CI machine


def test_flush_ends_an_utterance_in_progress(stage) -> None:
    audio = np.concatenate([quiet(0.5), speech("stop__caribbean.wav")])  # no trailing silence
    events = [e for c in chunks(audio, source="mic1") for e in stage.process(c)]
    assert events == []
    flushed = list(stage.flush())
    assert [e.data["transcript"] for e in flushed] == ["stop"] and flushed[0].source_id == "mic1"


def test_end_of_stream_chunk_flushes_and_resamples_8khz(stage) -> None:
    audio = np.concatenate([quiet(0.4, 8000), speech("seven__fsdd_theo_12.wav", 8000)])
    events = [e for c in chunks(audio, rate=8000, hop=160, source="file", eos=True) for e in stage.process(c)]
    assert [e.data["transcript"] for e in events] == ["seven"]


def test_out_of_vocabulary_speech_is_a_rejected_event(stage) -> None:
    audio = np.concatenate([quiet(0.5), speech("oov_coffee__scotland.wav"), quiet(1.0)])
    events = [e for c in chunks(audio, source="mic2") for e in stage.process(c)]
    assert len(events) == 1 and events[0].data["rejected"] is True and events[0].data["transcript"] == ""


class FakeStream:
    """Delivers the prepared audio through the callback from its own thread, in odd block sizes."""

    def __init__(self, audio: np.ndarray, callback) -> None:
        self.audio, self.callback = audio, callback

    def start(self) -> None:
        def feed() -> None:
            for i, start in enumerate(range(0, len(self.audio), 1000)):
                block = self.audio[start : start + 1000].reshape(-1, 1).astype(np.float32)
                self.callback(block, len(block), None, None)
                time.sleep(0.002)

        threading.Thread(target=feed, daemon=True).start()

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_microphone_path_prints_utterances_as_they_end(monkeypatch) -> None:
    device_rate = 48000
    audio = np.concatenate([quiet(0.5), speech("pass__scotland.wav"), quiet(1.0, seed=3)])
    audio = resample(audio, RATE, device_rate)
    fake = types.ModuleType("sounddevice")
    fake.PortAudioError = OSError
    fake.query_devices = lambda device=None, kind=None: {
        "name": "Fake",
        "max_input_channels": 1,
        "default_samplerate": float(device_rate),
    }
    fake.InputStream = lambda **kw: FakeStream(audio, kw["callback"])
    monkeypatch.setattr(microphone, "_import_sounddevice", lambda: fake)
    cfg = EdgeConfig()
    out = io.StringIO()
    code = listen_microphone(cfg, build_recognizer(cfg, "int8", None), "tsv", 2.0, out)
    assert code == 0
    assert out.getvalue().splitlines()[0].split("\t")[:2] == ["mic0", "pass"]


def test_no_microphone_is_a_clear_error(monkeypatch) -> None:
    from edge.errors import SourceError

    fake = types.ModuleType("sounddevice")
    fake.PortAudioError = OSError

    def no_device(device=None, kind=None):
        raise ValueError("No input device")

    fake.query_devices = no_device
    monkeypatch.setattr(microphone, "_import_sounddevice", lambda: fake)
    cfg = EdgeConfig()
    with pytest.raises(SourceError, match="no default microphone"):
        listen_microphone(cfg, build_recognizer(cfg, "int8", None), "tsv", 1.0, io.StringIO())
