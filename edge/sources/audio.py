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
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        g = gcd(int(from_rate), int(to_rate))
        self.up, self.down = int(to_rate) // g, int(from_rate) // g
        self.identity = self.up == self.down
        self.taps = _filter_bank(self.up, self.down)
        self.half = (len(self.taps) - 1) // 2
        self.history = np.zeros(0, np.float64)  # input samples kept for the filter's left side
        self.consumed = 0  # input samples dropped from the front of `history` so far
        self.next_out = 0  # index of the next output sample

    def process(self, block: np.ndarray, final: bool = False) -> np.ndarray:
        if self.identity:
            return np.asarray(block, np.float32)
        self.history = np.concatenate([self.history, np.asarray(block, np.float64)])
        total_in = self.consumed + len(self.history)
        pad_right = 0
        if final:
            pad_right = self.half // self.up + 1
            self.history = np.concatenate([self.history, np.zeros(pad_right)])
        outputs = []
        while True:
            # output sample k sits at input position k*down/up; it needs inputs up to +half/up to its right
            pos_num = self.next_out * self.down
            centre = pos_num // self.up
            right = (pos_num + self.half) // self.up
            if final:
                if centre >= total_in:
                    break
            elif right >= total_in:
                break
            left = (pos_num - self.half + self.up - 1) // self.up
            idx = np.arange(max(left, 0), right + 1)
            tap_idx = idx * self.up - pos_num + self.half
            local = idx - self.consumed
            outputs.append(float(np.dot(self.history[local], self.taps[tap_idx])))
            self.next_out += 1
        # keep only what future outputs can still need
        keep_from = max(0, (self.next_out * self.down - self.half) // self.up - 1)
        drop = max(0, keep_from - self.consumed)
        if drop:
            self.history = self.history[drop:]
            self.consumed += drop
        if pad_right:
            self.history = self.history[:-pad_right] if pad_right <= len(self.history) else self.history[:0]
        return np.asarray(outputs, np.float32)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample a whole signal (band-limited, no aliasing)."""
    if from_rate == to_rate:
        return np.asarray(samples, np.float32)
    return StreamResampler(from_rate, to_rate).process(samples, final=True)
