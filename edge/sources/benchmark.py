"""CPU cost of the live microphone path, measured without a sound card (for `edge bench`).

A synthetic InputStream calls the source's callback from its own thread every `block_ms`, in real time,
as PortAudio does; the figure is the CPU time spent inside that callback plus the whole consumer thread
(ring -> resampler -> hops), per second of audio. File replay skips the ring and the thread hand-offs, which are
most of the cost, so it would flatter the number.
"""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from edge.config import MicrophoneConfig
from edge.sources import microphone


class _SyntheticStream:
    """Calls `callback` with noise blocks of `blocksize` frames in real time until stopped."""

    def __init__(self, samplerate: float, blocksize: int, callback: Callable, **_: Any) -> None:
        self.samplerate = int(samplerate)
        self.blocksize = blocksize or self.samplerate // 100
        self.callback = callback
        self.active = False
        self._thread = threading.Thread(target=self._run, name="synthetic-audio", daemon=True)
        self.ident: int | None = None
        self.callback_cpu = 0.0  # CPU spent inside the source's callback (the timer loop is not counted)

    def start(self) -> None:
        self.active = True
        self._thread.start()

    def stop(self) -> None:
        self.active = False
        self._thread.join(1.0)

    def close(self) -> None:
        self.active = False

    def _run(self) -> None:
        self.ident = threading.get_ident()
        block = (np.random.default_rng(0).standard_normal((self.blocksize, 1)) * 0.1).astype(np.float32)
        began, n = time.monotonic(), 0
        while self.active:
            n += 1
            time.sleep(max(0.0, began + n * self.blocksize / self.samplerate - time.monotonic()))
            before = time.thread_time()
            self.callback(block, self.blocksize, None, None)
            self.callback_cpu += time.thread_time() - before


def _synthetic_sounddevice(device_rate: int, block_ms: int) -> types.ModuleType:
    module = types.ModuleType("synthetic_sounddevice")
    module.PortAudioError = RuntimeError
    module.streams = []

    def query_devices(device=None, kind=None):
        return {"name": "synthetic", "max_input_channels": 1, "default_samplerate": float(device_rate)}

    def input_stream(**kwargs):
        kwargs["blocksize"] = device_rate * block_ms // 1000
        stream = _SyntheticStream(**kwargs)
        module.streams.append(stream)
        return stream

    module.query_devices = query_devices
    module.InputStream = input_stream
    return module


def _thread_cpu(ident: int | None) -> float:
    return time.clock_gettime(time.pthread_getcpuclockid(ident)) if ident else 0.0


def audio_path_cpu(seconds: float = 5.0, device_rate: int = 48000, sample_rate: int = 16000,
                   hop_ms: int = 20, block_ms: int = 10) -> dict[str, Any]:
    """Run a MicrophoneSource on the synthetic device for `seconds`; CPU % of one core it used."""
    fake = _synthetic_sounddevice(device_rate, block_ms)
    original = microphone._import_sounddevice
    microphone._import_sounddevice = lambda: fake
    hops = []
    try:
        source = microphone.MicrophoneSource(
            MicrophoneConfig(sample_rate=sample_rate, hop_ms=hop_ms), hops.append
        )
        source.start()
        deadline = time.monotonic() + 5.0
        while not (fake.streams and fake.streams[0].ident) and time.monotonic() < deadline:
            time.sleep(0.005)
        stream = fake.streams[0]
        consumer0, callback0 = _thread_cpu(source._thread.ident), stream.callback_cpu
        time.sleep(seconds)
        consumer = _thread_cpu(source._thread.ident) - consumer0
        callback = stream.callback_cpu - callback0
        source.stop()
        source.join(2.0)
    finally:
        microphone._import_sounddevice = original
    return {
        "device_rate": device_rate,
        "sample_rate": sample_rate,
        "audio_seconds": seconds,
        "hops": len(hops),
        "consumer_cpu_percent": round(consumer / seconds * 100, 3),
        "callback_cpu_percent": round(callback / seconds * 100, 3),
        "cpu_percent_of_one_core": round((consumer + callback) / seconds * 100, 3),
    }


if __name__ == "__main__":
    import json
    import sys

    duration = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    for rate in (48000, 44100, 16000):
        print(json.dumps(audio_path_cpu(duration, rate)))
