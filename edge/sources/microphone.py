"""Live microphone through sounddevice (PortAudio).

The InputStream callback only copies each block (any size the device picks) into an `AudioRing`; a
consumer thread cuts the ring into fixed hops at the stages' rate with the same `HopCutter` that WAV
replay uses. sounddevice is imported lazily so cameras, files and replay work on machines without
PortAudio. A vanished device is reopened with exponential backoff; the process never crashes for it.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from edge.config import MicrophoneConfig
from edge.errors import SourceError
from edge.events import AudioChunk
from edge.sources.hops import AudioRing, HopCutter, hop_samples

log = logging.getLogger(__name__)

RECONNECT_INITIAL_S = 0.5
RECONNECT_MAX_S = 30.0
STALL_TIMEOUT_S = 3.0  # no callback for this long while the stream should run = the device is gone
# the consumer thread is woken once this much audio is waiting (or one hop if longer): thread wake-ups, not
# arithmetic, dominate the audio path's CPU cost, and 40 ms more latency is far below an utterance's end delay
CONSUMER_WAKE_MS = 40


def _import_sounddevice() -> ModuleType:
    """The raw import (tests replace this function with one returning a fake module)."""
    return importlib.import_module("sounddevice")


def load_sounddevice() -> ModuleType:
    """sounddevice, or a SourceError that says how to install what is missing."""
    try:
        return _import_sounddevice()
    except OSError as exc:
        raise SourceError(
            f"the microphone needs the PortAudio library ({exc}); install it with "
            "`sudo apt-get install libportaudio2`, or replay a WAV file (microphone.device: FILE.wav)"
        ) from None
    except ImportError:
        raise SourceError(
            "the microphone needs the Python package sounddevice; install it with `pip install sounddevice`"
        ) from None


def describe_device(sd: ModuleType, device: int | str | None) -> dict[str, Any]:
    """The input device PortAudio would open for `device`, or a SourceError naming the fix."""
    port_audio_error = getattr(sd, "PortAudioError", OSError)
    try:
        info = sd.query_devices(device, "input")
    except (ValueError, port_audio_error) as exc:
        which = "no default microphone" if device is None else f"microphone {device!r} not found"
        raise SourceError(
            f"{which} ({exc}): is it plugged in? `edge devices` lists microphones; "
            "set microphone.device to an index or part of a name"
        ) from None
    return dict(info)


class MicrophoneSource:
    """Captures cfg.device and emits AudioChunks of cfg.hop_ms at cfg.sample_rate."""

    finished = False  # a microphone never reaches an end

    def __init__(
        self,
        cfg: MicrophoneConfig,
        emit: Callable[[AudioChunk], None],
        reconnect_initial_s: float = RECONNECT_INITIAL_S,
        reconnect_max_s: float = RECONNECT_MAX_S,
        stall_timeout_s: float = STALL_TIMEOUT_S,
    ) -> None:
        self.cfg = cfg
        self._emit = emit
        self._reconnect_initial_s = reconnect_initial_s
        self._reconnect_max_s = reconnect_max_s
        self._stall_timeout_s = stall_timeout_s
        self.hop = hop_samples(cfg.sample_rate, cfg.hop_ms)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sd: ModuleType | None = None
        self._stream: Any = None
        self._ring: AudioRing | None = None
        self._cutter: HopCutter | None = None
        self._last_callback = 0.0
        self._state = "stopped"
        self._error: str | None = None
        self._chunks = 0
        self._overflows = 0  # PortAudio input_overflow flags: the device dropped samples
        self._reconnects = 0
        self._device_rate: int | None = None
        self._device_name: str | None = None
        self._recent: deque[float] = deque(maxlen=50)
        self._last_chunk_mono: float | None = None

    # ---- public API ----------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The source id from the config (camera.id / microphone.id)."""
        return self.cfg.id

    def start(self) -> None:
        """Check PortAudio now (a clear error at start-up), then capture in a daemon thread."""
        self._sd = load_sounddevice()
        self._stop.clear()
        self._state = "reconnecting"
        self._thread = threading.Thread(target=self._run, name=f"microphone:{self.cfg.id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._ring is not None:
            self._ring.wake()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> dict[str, Any]:
        ring = self._ring
        recent = list(self._recent)
        rate = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0
        return {
            "state": self._state,
            "device": self._device_name,
            "device_rate": self._device_rate,
            "sample_rate": self.cfg.sample_rate,
            "chunks": self._chunks,
            "chunks_per_s": round(rate, 2),
            "overflows": self._overflows,
            "overruns": ring.overruns if ring else 0,
            "lost_samples": ring.lost_samples if ring else 0,
            "reconnects": self._reconnects,
            "last_chunk_mono": self._last_chunk_mono,
            "error": self._error,
        }

    # ---- capture ------------------------------------------------------------------------------------

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's thread: copy and return (never wait, never raise)."""
        if status and getattr(status, "input_overflow", False):
            self._overflows += 1
        block = indata[:, 0] if indata.ndim == 2 and indata.shape[1] == 1 else np.mean(indata, axis=-1)
        self._last_callback = time.monotonic()
        if self._ring is not None:
            self._ring.write(block, self._last_callback, time.time())

    def _open_stream(self) -> None:
        sd = self._sd
        info = describe_device(sd, self.cfg.device)
        rate = int(self.cfg.device_rate or info.get("default_samplerate") or self.cfg.sample_rate)
        stream = self._new_stream(sd, rate, channels=1)
        if stream is None:  # some hardware devices only open with all their channels; they are mixed down
            stream = self._new_stream(sd, rate, channels=int(info.get("max_input_channels", 2)), retry=False)
        if self._ring is None or self._device_rate != rate:
            self._ring = AudioRing(int(self.cfg.queue_seconds * rate), wake_after=hop_samples(rate, max(self.cfg.hop_ms, CONSUMER_WAKE_MS)))
        self._device_rate = rate
        self._device_name = str(info.get("name", self.cfg.device))
        self._last_callback = time.monotonic()
        stream.start()
        self._stream = stream

    def _new_stream(self, sd: ModuleType, rate: int, channels: int, retry: bool = True) -> Any:
        try:
            return sd.InputStream(
                device=self.cfg.device,
                samplerate=rate,
                blocksize=self.cfg.block_size,
                channels=channels,
                dtype="float32",
                callback=self._callback,
            )
        except getattr(sd, "PortAudioError", OSError) as exc:
            problem = str(exc).lower()
            if retry and "channel" in problem:
                return None
            which = "the default microphone" if self.cfg.device is None else f"microphone {self.cfg.device!r}"
            if "sample rate" in problem or "samplerate" in problem:
                fix = "set microphone.device_rate to a rate it supports (`edge devices` shows its default)"
            else:
                fix = "is it unplugged or used by another program? `edge devices` lists microphones"
            raise SourceError(f"{which} did not open ({channels} channel(s) at {rate} Hz: {exc}); {fix}") from None

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        try:
            stream.stop()
            stream.close()
        except Exception as exc:  # a vanished device may fail to close; it is being replaced anyway
            log.debug("closing microphone stream: %s", exc)

    def _run(self) -> None:
        delay = self._reconnect_initial_s
        lost_since: float | None = None
        while not self._stop.is_set():
            try:
                self._open_stream()
            except Exception as exc:  # SourceError or PortAudioError: report, back off, retry
                self._state, self._error = "reconnecting", _one_line(exc)
                log.warning("microphone %s: %s; retrying in %.1f s", self.cfg.id, self._error, delay)
                lost_since = lost_since or time.monotonic()
                self._wait_backoff(delay)
                delay = min(delay * 2, self._reconnect_max_s)
                self._reconnects += 1
                continue
            if self._cutter is None:
                self._cutter = HopCutter(self.cfg.id, self._device_rate, self.cfg.sample_rate, self.hop)
            elif lost_since is not None:
                self._cutter.gap(time.monotonic() - lost_since, self._device_rate)
            self._state, self._error = "running", None
            delivered = self._consume()
            self._close_stream()
            if self._stop.is_set():
                break
            lost_since = self._last_callback
            if delivered:
                delay = self._reconnect_initial_s
            self._state = "reconnecting"
            log.warning("microphone %s: %s; reopening in %.1f s", self.cfg.id, self._error, delay)
            self._wait_backoff(delay)
            delay = min(delay * 2, self._reconnect_max_s)
            self._reconnects += 1
        self._close_stream()
        self._state = "stopped"

    def _wait_backoff(self, delay: float) -> None:
        self._stop.wait(delay)
        sd = self._sd
        # PortAudio lists devices once at initialisation; re-initialise so a re-plugged device is found
        if not self._stop.is_set() and hasattr(sd, "_terminate") and hasattr(sd, "_initialize"):
            try:
                sd._terminate()
                sd._initialize()
            except Exception as exc:
                log.debug("re-initialising PortAudio: %s", exc)

    def _consume(self) -> bool:
        """Cut the ring into hops until stop or until the device stops delivering; True if any came."""
        ring, cutter = self._ring, self._cutter
        # normally woken by the ring; the timeout only bounds how late a stall or stop is noticed
        wait = 2 * max(self.cfg.hop_ms, CONSUMER_WAKE_MS) / 1000
        delivered = False
        while not self._stop.is_set():
            got = ring.read(timeout=wait)
            if got.lost:
                log.warning("microphone %s: consumer fell behind, %d samples lost", self.cfg.id, got.lost)
                cutter.gap(got.lost / self._device_rate)
            if len(got.samples):
                delivered = True
                for chunk in cutter.push(got.samples, got.t_mono, got.t_wall):
                    self._deliver(chunk)
            stream = self._stream
            silent_for = time.monotonic() - self._last_callback
            if silent_for > self._stall_timeout_s or not getattr(stream, "active", True):
                self._error = f"no audio from the device for {silent_for:.1f} s (unplugged?)"
                return delivered
        return delivered

    def _deliver(self, chunk: AudioChunk) -> None:
        self._chunks += 1
        self._last_chunk_mono = chunk.t_mono
        self._recent.append(time.monotonic())
        try:
            self._emit(chunk)
        except Exception:  # a bug downstream must not stop capture; it is logged with its traceback
            log.exception("microphone %s: emit failed", self.cfg.id)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
