"""Audio helpers shared by the microphone, WAV replay and `edge listen`: reading WAV files of any common
format into mono float32, and resampling (in one piece or streaming block by block, with identical output).
"""

from __future__ import annotations

import wave
from math import gcd
from pathlib import Path

import numpy as np

from edge.errors import InputError

_TAPS_PER_SIDE = 16


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a PCM WAV (8/16/24/32-bit, any channel count) as mono float32 in [-1, 1] and its rate.

    Raises InputError naming the file and the problem (empty, not a WAV, compressed, truncated).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if size == 0:
        raise InputError(f"{path}: empty file")
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise InputError(
            f"{path}: not a PCM WAV file ({exc}); convert it, e.g. `sox IN -r 16000 -c 1 -b 16 OUT.wav`"
        ) from None
    if rate <= 0 or channels <= 0:
        raise InputError(f"{path}: WAV header says {rate} Hz, {channels} channels; the file is corrupt")
    usable = len(raw) - len(raw) % (width * channels)
    raw = raw[:usable]
    if width == 1:
        samples = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8
        samples = ints.astype(np.float32) / 8388608.0
    elif width == 4:
        samples = np.frombuffer(raw, "<i4").astype(np.float32) / 2147483648.0
    else:
        raise InputError(f"{path}: {8 * width}-bit samples are not supported; convert to 16-bit PCM")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return np.ascontiguousarray(samples, dtype=np.float32), rate


def write_wav(path: str | Path, samples: np.ndarray, rate: int) -> None:
    """Write mono float32 [-1, 1] as 16-bit PCM."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(int(rate))
        wav.writeframes(pcm.tobytes())


def _filter_bank(up: int, down: int) -> np.ndarray:
    """Windowed-sinc low-pass polyphase filter for resampling by up/down."""
    cutoff = 1.0 / max(up, down)
    half = _TAPS_PER_SIDE * max(up, down)
    n = np.arange(-half, half + 1)
    taps = cutoff * np.sinc(cutoff * n) * np.kaiser(len(n), 8.0)
    return (taps * up).astype(np.float64)


class StreamResampler:
    """Rational resampler that keeps its state between blocks.

    Feeding a signal in one piece or in blocks of any size gives the same samples (up to float rounding),
    so the microphone path and file replay produce the same features.

    Output sample k sits at input position k*down/up and is the dot product of the inputs around it with
    one phase of a polyphase filter. All outputs that a block makes computable are produced in one
    vectorised step (a gather of input windows and filter phases), which keeps the live audio path far
    below 1% of a core instead of a Python loop per output sample.
    """

    _OUTPUTS_PER_STEP = 128  # keeps the gathered (outputs x taps) matrices inside the CPU cache

    def __init__(self, from_rate: int, to_rate: int) -> None:
        g = gcd(int(from_rate), int(to_rate))
        self.up, self.down = int(to_rate) // g, int(from_rate) // g
        self.identity = self.up == self.down
        taps = _filter_bank(self.up, self.down)
        self.half = (len(taps) - 1) // 2
        # phases[p, j] = taps[p + j*up]: the taps that meet consecutive input samples for phase p
        self.taps_per_phase = -(-len(taps) // self.up)
        padded = np.zeros(self.taps_per_phase * self.up)
        padded[: len(taps)] = taps
        self.phases = np.ascontiguousarray(padded.reshape(self.taps_per_phase, self.up).T)
        # The buffer starts with zeros standing for the (silent) samples before the stream, so the first
        # outputs need no special case; `consumed` is the absolute input index of history[0].
        lead = self.half // self.up + 1
        self.history = np.zeros(lead, np.float64)
        self.consumed = -lead
        self.total_in = 0  # input samples received so far
        self.next_out = 0  # index of the next output sample

    def process(self, block: np.ndarray, final: bool = False) -> np.ndarray:
        """Resample the next block; `final=True` also flushes the tail (the stream is then complete)."""
        if self.identity:
            return np.asarray(block, np.float32)
        block = np.asarray(block, np.float64).reshape(-1)
        self.total_in += len(block)
        self.history = np.concatenate([self.history, block])
        end = self._outputs_available(final)
        if end <= self.next_out:
            return np.zeros(0, np.float32)
        # zeros after the known input: taps that reach beyond it are either zero padding or (final) silence
        buffer = np.concatenate([self.history, np.zeros(self.taps_per_phase + self.half // self.up + 1)])
        windows = np.lib.stride_tricks.sliding_window_view(buffer, self.taps_per_phase)
        if self.up == 1:
            # plain decimation (48 or 32 kHz -> 16 kHz): one phase, evenly spaced windows, a strided view
            first_left = -((self.half - self.next_out * self.down) // self.up) - self.consumed
            rows = windows[first_left :: self.down][: end - self.next_out]
            pieces = [rows @ self.phases[0]]
        else:
            pieces = []
            for first in range(self.next_out, end, self._OUTPUTS_PER_STEP):
                k = np.arange(first, min(end, first + self._OUTPUTS_PER_STEP), dtype=np.int64)
                position = k * self.down
                left = -((self.half - position) // self.up)  # first input index with a non-zero tap
                phase = left * self.up - position + self.half
                pieces.append(np.einsum("ij,ij->i", windows[left - self.consumed], self.phases[phase]))
        self.next_out = end
        self._forget_old_input()
        return np.concatenate(pieces).astype(np.float32)

    def _outputs_available(self, final: bool) -> int:
        """Index one past the last output computable now: all inputs under its taps have arrived, or
        (final) its centre lies inside the signal."""
        if final:
            return (self.total_in * self.up - 1) // self.down + 1 if self.total_in else 0
        return max(0, (self.total_in * self.up - self.half - 1) // self.down + 1)

    def _forget_old_input(self) -> None:
        """Keep only the inputs that future outputs can still reach."""
        needed_from = -((self.half - self.next_out * self.down) // self.up)
        drop = needed_from - self.consumed
        if drop > 0:
            self.history = self.history[drop:]
            self.consumed += drop


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample a whole signal (band-limited, no aliasing)."""
    if from_rate == to_rate:
        return np.asarray(samples, np.float32)
    return StreamResampler(from_rate, to_rate).process(samples, final=True)
