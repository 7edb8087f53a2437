"""Replay a WAV file through the live audio path.

The file is fed in device-sized blocks through the same `HopCutter` as the microphone, so stages see the
same hops, offsets and resampling as live; paced in real time (`realtime: true`) or as fast as possible.
Needs no PortAudio.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.config import MicrophoneConfig
from edge.errors import EdgeError, SourceError
from edge.events import AudioChunk
from edge.sources.audio import read_wav
from edge.sources.hops import HopCutter, hop_samples
from edge.sources.microphone import MicrophoneSource

log = logging.getLogger(__name__)


class WavReplaySource:
    """Emits the WAV at `path` as AudioChunks; the last one has end_of_stream=True, then `finished`."""

    def __init__(self, path: str | Path, cfg: MicrophoneConfig, emit: Callable[[AudioChunk], None]) -> None:
        self.path = Path(path)
        self.cfg = cfg
        self._emit = emit
        self.hop = hop_samples(cfg.sample_rate, cfg.hop_ms)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = "stopped"
        self._error: str | None = None
        self._chunks = 0
        self._last_chunk_mono: float | None = None
        self._file_rate: int | None = None
        self.finished = False

    @property
    def name(self) -> str:
        """The source id from the config (camera.id / microphone.id)."""
        return self.cfg.id

    def start(self) -> None:
        """Read the file now (so a bad file is a clear error at start-up), then replay in a daemon thread."""
        try:
            samples, rate = read_wav(self.path)
        except EdgeError as exc:
            raise SourceError(f"microphone replay: {exc}") from None
        self._file_rate = rate
        self._stop.clear()
        self._state = "running"
        self._thread = threading.Thread(
            target=self._run, args=(samples, rate), name=f"replay:{self.cfg.id}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> dict[str, Any]:
        return {
            "state": self._state,
            "device": str(self.path),
            "device_rate": self._file_rate,
            "sample_rate": self.cfg.sample_rate,
            "chunks": self._chunks,
            "overflows": 0,
            "overruns": 0,
            "lost_samples": 0,
            "reconnects": 0,
            "last_chunk_mono": self._last_chunk_mono,
            "error": self._error,
        }

    def _run(self, samples, rate: int) -> None:
        cutter = HopCutter(self.cfg.id, rate, self.cfg.sample_rate, self.hop)
        block = hop_samples(rate, self.cfg.hop_ms)  # what a sound card would deliver per hop
        began = time.monotonic()
        try:
            for start in range(0, len(samples), block):
                if self._stop.is_set():
                    break
                piece = samples[start : start + block]
                if self.cfg.realtime:
                    # a live device hands over a block once its last sample has been recorded
                    self._stop.wait(max(0.0, began + (start + len(piece)) / rate - time.monotonic()))
                self._emit_all(cutter.push(piece, time.monotonic(), time.time()))
            else:
                self._emit_all(cutter.finish(time.monotonic(), time.time()))
                self.finished = True
                self._state = "finished"
                return
        except Exception as exc:  # never let the thread die silently
            self._error = f"replay of {self.path} failed: {exc}"
            log.exception("microphone %s: %s", self.cfg.id, self._error)
            self.finished = True
            self._state = "finished"
            return
        self._state = "stopped"

    def _emit_all(self, chunks: list[AudioChunk]) -> None:
        for chunk in chunks:
            self._chunks += 1
            self._last_chunk_mono = chunk.t_mono
            try:
                self._emit(chunk)
            except Exception:
                log.exception("microphone %s: emit failed", self.cfg.id)


AudioSource = WavReplaySource | MicrophoneSource


def open_audio_source(cfg: MicrophoneConfig, emit: Callable[[AudioChunk], None]) -> AudioSource:
    """WAV replay when cfg.device names a .wav file, else the live microphone."""
    wav = wav_path(cfg.device)
    if wav is not None:
        return WavReplaySource(wav, cfg, emit)
    return MicrophoneSource(cfg, emit)


def wav_path(device: int | str | None) -> Path | None:
    """The WAV file `device` names, None for a sound device; a missing .wav is an error, not a device name."""
    if not isinstance(device, str):
        return None
    path = Path(device).expanduser()
    if path.is_file():
        return path
    if path.suffix.lower() == ".wav":
        raise SourceError(f"microphone.device: WAV file {device} does not exist; give an existing file or a device")
    return None
