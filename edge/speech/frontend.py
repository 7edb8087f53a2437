"""Speech front end: log-mel features and voice-activity endpointing, in numpy.

The same code computes the training features (tools/speech/make_data.py) and the runtime features, so the
model sees exactly what it was trained on. Features are computed frame by frame from a remainder buffer, so
the result does not depend on how the audio was cut into blocks (a microphone's block size, a file read in
one piece): tests/test_speech_frontend.py checks that with several chunk sizes, as openWakeWord does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SAMPLE_RATE = 16000
WIN_LENGTH = 400  # 25 ms
HOP_LENGTH = 160  # 10 ms
N_FFT = 512
N_MELS = 40
F_MIN = 20.0
F_MAX = 7600.0
LOG_FLOOR = 1e-6


@dataclass(frozen=True)
class FeatureParams:
    """Everything that defines the features; stored in the ONNX metadata and checked at load time."""

    sample_rate: int = SAMPLE_RATE
    win_length: int = WIN_LENGTH
    hop_length: int = HOP_LENGTH
    n_fft: int = N_FFT
    n_mels: int = N_MELS
    f_min: float = F_MIN
    f_max: float = F_MAX

    def to_metadata(self) -> dict[str, str]:
        return {
            "sample_rate": str(self.sample_rate),
            "feature": "log_mel",
            "win_length": str(self.win_length),
            "hop_length": str(self.hop_length),
            "n_fft": str(self.n_fft),
            "n_mels": str(self.n_mels),
            "f_min": str(self.f_min),
            "f_max": str(self.f_max),
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> FeatureParams:
        return cls(
            sample_rate=int(meta["sample_rate"]),
            win_length=int(meta["win_length"]),
            hop_length=int(meta["hop_length"]),
            n_fft=int(meta["n_fft"]),
            n_mels=int(meta["n_mels"]),
            f_min=float(meta["f_min"]),
            f_max=float(meta["f_max"]),
        )


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


def mel_filterbank(params: FeatureParams) -> np.ndarray:
    """Triangular HTK-style mel filters, shape (n_fft // 2 + 1, n_mels)."""
    n_bins = params.n_fft // 2 + 1
    freqs = np.linspace(0.0, params.sample_rate / 2.0, n_bins)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(params.f_min), _hz_to_mel(params.f_max), params.n_mels + 2))
    bank = np.zeros((n_bins, params.n_mels), np.float64)
    for m in range(params.n_mels):
        lo, centre, hi = edges[m], edges[m + 1], edges[m + 2]
        rising = (freqs - lo) / (centre - lo)
        falling = (hi - freqs) / (hi - centre)
        bank[:, m] = np.maximum(0.0, np.minimum(rising, falling))
    return bank


class LogMel:
    """Log-mel spectrogram of 25 ms frames every 10 ms, fed block by block.

    `push(samples)` returns the frames that became complete (shape (n, n_mels), float32); samples that do
    not yet fill a frame wait in a remainder buffer. Frame i always covers samples [i*hop, i*hop + win),
    whatever the block sizes were.
    """

    def __init__(self, params: FeatureParams = FeatureParams()) -> None:
        self.params = params
        self.window = np.hanning(params.win_length + 1)[:-1].astype(np.float64)  # periodic Hann
        self.bank = mel_filterbank(params)
        self.reset()

    def reset(self) -> None:
        self.buffer = np.zeros(0, np.float64)
        self.frames_out = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        p = self.params
        self.buffer = np.concatenate([self.buffer, np.asarray(samples, np.float64).ravel()])
        n = 0 if len(self.buffer) < p.win_length else 1 + (len(self.buffer) - p.win_length) // p.hop_length
        if n == 0:
            return np.zeros((0, p.n_mels), np.float32)
        index = np.arange(p.win_length)[None, :] + p.hop_length * np.arange(n)[:, None]
        frames = self.buffer[index] * self.window
        self.buffer = self.buffer[n * p.hop_length :]
        self.frames_out += n
        return self.frames_to_logmel(frames)

    def frames_to_logmel(self, frames: np.ndarray) -> np.ndarray:
        spectrum = np.fft.rfft(frames, n=self.params.n_fft, axis=1)
        power = spectrum.real**2 + spectrum.imag**2
        # float64 throughout: batching frames differently changes the result by ~1e-12, far below float32
        # einsum rather than a BLAS call: a multi-threaded BLAS spins on this tiny product on a busy CPU
        return np.log(np.einsum("fk,km->fm", power, self.bank) + LOG_FLOOR).astype(np.float32)


def log_mel(samples: np.ndarray, params: FeatureParams = FeatureParams()) -> np.ndarray:
    """Features of a whole clip in one call (what training uses)."""
    return LogMel(params).push(samples)


# ---- voice activity and endpointing -------------------------------------------------------------------


@dataclass
class VadConfig:
    """Energy VAD with an adaptive noise floor. Times in 10 ms feature frames."""

    threshold_db: float = 9.0  # speech = frame energy this far above the noise floor
    min_level_db: float = -62.0  # below this absolute level (dBFS-ish) nothing is speech
    start_frames: int = 8  # voiced frames within `start_window` to open an utterance
    start_window: int = 12
    end_silence_frames: int = 35  # unvoiced frames that close an utterance (350 ms)
    pre_roll_frames: int = 25  # audio kept before the detected start
    post_roll_frames: int = 15  # audio kept after the last voiced frame
    max_frames: int = 600  # an utterance longer than 6 s is cut
    floor_adapt: float = 0.02  # how fast the noise floor follows quiet frames


@dataclass
class Segment:
    """A detected utterance: its features and its position in the stream (in feature frames)."""

    start_frame: int
    end_frame: int  # exclusive
    features: np.ndarray
    forced: bool = False  # cut by max length or by flush, not by silence


@dataclass
class Endpointer:
    """Feeds on log-mel frames, returns utterance segments as soon as their trailing silence is seen.

    The frame energy is the log of the summed mel power; the noise floor follows it from below quickly
    and from above slowly, so a steady machine hum raises the floor instead of looking like speech.
    """

    config: VadConfig = field(default_factory=VadConfig)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.frame_index = 0
        self.floor_db: float | None = None
        self.history: list[np.ndarray] = []  # recent frames (pre-roll) while idle
        self.voiced_recent: list[bool] = []
        self.active = False
        self.segment_frames: list[np.ndarray] = []
        self.segment_start = 0
        self.last_voiced = 0

    @staticmethod
    def frames_db(frames: np.ndarray) -> np.ndarray:
        """Energy of each log-mel frame in dB (one vectorised pass per pushed block)."""
        return 10.0 * np.log10(np.exp(np.asarray(frames, np.float64)).sum(axis=1) + 1e-12)

    def _is_voiced(self, level_db: float) -> bool:
        if self.floor_db is None:
            self.floor_db = level_db
        voiced = level_db > self.floor_db + self.config.threshold_db and level_db > self.config.min_level_db
        rate = self.config.floor_adapt
        if level_db < self.floor_db:
            self.floor_db += 0.3 * (level_db - self.floor_db)
        elif not voiced:
            self.floor_db += rate * (level_db - self.floor_db)
        else:
            self.floor_db += 0.1 * rate * (level_db - self.floor_db)
        return voiced

    def push(self, frames: np.ndarray) -> list[Segment]:
        done: list[Segment] = []
        cfg = self.config
        levels = self.frames_db(frames) if len(frames) else []
        for frame, level in zip(frames, levels):
            voiced = self._is_voiced(float(level))
            index = self.frame_index
            self.frame_index += 1
            if not self.active:
                self.history.append(frame)
                self.voiced_recent.append(voiced)
                if len(self.history) > cfg.pre_roll_frames:
                    self.history.pop(0)
                if len(self.voiced_recent) > cfg.start_window:
                    self.voiced_recent.pop(0)
                if sum(self.voiced_recent) >= cfg.start_frames:
                    self.active = True
                    self.segment_frames = list(self.history)
                    self.segment_start = index + 1 - len(self.history)
                    self.last_voiced = index
                    self.history, self.voiced_recent = [], []
                continue
            self.segment_frames.append(frame)
            if voiced:
                self.last_voiced = index
            if index - self.last_voiced >= cfg.end_silence_frames:
                done.append(self._close(forced=False))
            elif len(self.segment_frames) >= cfg.max_frames:
                done.append(self._close(forced=True))
        return done

    def _close(self, forced: bool) -> Segment:
        keep_until = len(self.segment_frames)
        if not forced:
            keep_until = min(
                keep_until, self.last_voiced - self.segment_start + 1 + self.config.post_roll_frames
            )
        features = np.stack(self.segment_frames[:keep_until]).astype(np.float32)
        segment = Segment(self.segment_start, self.segment_start + keep_until, features, forced)
        self.active = False
        self.segment_frames = []
        self.history, self.voiced_recent = [], []
        return segment

    def flush(self) -> list[Segment]:
        """End of stream: close an utterance in progress."""
        if not self.active or not self.segment_frames:
            return []
        return [self._close(forced=True)]
