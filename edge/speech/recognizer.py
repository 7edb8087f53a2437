"""Speech recognition path shared by `edge listen` (files, microphone) and the pipeline stage:

    samples -> LogMel (block by block) -> Endpointer (utterances) -> ONNX model -> Decoder -> Utterance

A file goes through exactly the same path as live audio (`transcribe_clip` replays it block by block), so
what the CLI reports on a file is what the stage would report live.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.errors import ModelError
from edge.runtime import Manifest, ModelSession
from edge.sources.audio import resample
from edge.speech.decoder import Decoded, Decoder, Grammar
from edge.speech.frontend import Endpointer, FeatureParams, LogMel, VadConfig
from edge.speech.settings import SpeechConfig

REQUIRED_METADATA = (
    "vocabulary",
    "sample_rate",
    "feature",
    "n_mels",
    "hop_length",
    "win_length",
    "n_fft",
    "f_min",
    "f_max",
    "output_stride",
)
CLIP_BLOCK = 1600  # files are replayed in 100 ms blocks, like a microphone
CLIP_LEAD_S = 0.3  # quiet lead-in/out so the noise floor starts below the speech of a tightly cut file
CLIP_TAIL_S = 0.5
FLUSH_TAIL_S = 0.3


class SpeechModel:
    """The ONNX network plus what its metadata says about features and labels."""

    def __init__(self, session: ModelSession) -> None:
        self.session = session
        meta = session.metadata
        self.labels: list[str] = json.loads(meta["vocabulary"])
        if meta["feature"] != "log_mel":
            raise ModelError(
                f"{session.path}: feature type {meta['feature']!r} is not supported; use a log_mel model"
            )
        self.params = FeatureParams.from_metadata(meta)
        self.output_stride = int(meta["output_stride"])
        self.input_name = session.inputs[0][0]

    @classmethod
    def load(
        cls,
        manifest: Manifest,
        name: str = "speech",
        precision: str = "int8",
        providers: Sequence[str] = ("auto",),
        threads: int = 1,
    ) -> SpeechModel:
        session = ModelSession.from_manifest(
            manifest,
            name,
            precision,
            providers=providers,
            threads=threads,
            required_metadata=REQUIRED_METADATA,
        )
        return cls(session)

    def log_probs(self, features: np.ndarray) -> np.ndarray:
        """(T, n_mels) log-mel -> (ceil(T / output_stride), labels) log-probabilities."""
        feats = np.ascontiguousarray(features, np.float32)[None]
        return self.session.run({self.input_name: feats})[0][0]


@dataclass(frozen=True)
class Utterance:
    decoded: Decoded
    t_start: float  # stream seconds
    t_end: float
    word_times: list[tuple[float, float]]  # per word, stream seconds
    forced: bool  # cut by length or end of stream instead of trailing silence

    @property
    def transcript(self) -> str:
        return self.decoded.transcript

    @property
    def confidence(self) -> float:
        return self.decoded.confidence

    def words(self) -> list[dict]:
        return [
            {"word": w.word, "confidence": round(w.confidence, 4), "start": round(a, 3), "end": round(b, 3)}
            for w, (a, b) in zip(self.decoded.words, self.word_times)
        ]


def vad_config(cfg: SpeechConfig, params: FeatureParams) -> VadConfig:
    frame_ms = 1000.0 * params.hop_length / params.sample_rate
    return VadConfig(
        threshold_db=cfg.vad_threshold_db,
        min_level_db=cfg.vad_min_level_db,
        end_silence_frames=max(1, round(cfg.end_silence_ms / frame_ms)),
        max_frames=max(10, round(cfg.max_utterance_s * 1000.0 / frame_ms)),
    )


class Recognizer:
    """One audio stream's state: feed samples at the model's rate, get utterances as they end."""

    def __init__(self, model: SpeechModel, cfg: SpeechConfig) -> None:
        self.model = model
        self.cfg = cfg
        self.decoder = Decoder(
            model.labels, min_confidence=cfg.min_confidence, beam=cfg.beam, max_unknown=cfg.max_unknown
        )
        self.grammar = Grammar(cfg.grammar, model.labels) if cfg.grammar else None
        self.features = LogMel(model.params)
        self.endpointer = Endpointer(vad_config(cfg, model.params))
        self.frame_s = model.params.hop_length / model.params.sample_rate

    @property
    def sample_rate(self) -> int:
        return self.model.params.sample_rate

    def reset(self) -> None:
        self.features.reset()
        self.endpointer.reset()

    def push(self, samples: np.ndarray) -> list[Utterance]:
        segments = self.endpointer.push(self.features.push(samples))
        return [self._recognize(s) for s in segments]

    def flush(self) -> list[Utterance]:
        """End of stream: recognise an utterance still in progress. A quiet tail is appended first: the
        model was trained on words followed by some silence, and a stream can stop mid-word."""
        if not self.endpointer.active:
            return []
        utterances = self.push(quiet(FLUSH_TAIL_S, self.sample_rate, 3))
        return utterances + [self._recognize(s) for s in self.endpointer.flush()]

    def _recognize(self, segment) -> Utterance:
        log_probs = self.model.log_probs(segment.features)
        decoded = self.decoder.decode(log_probs, self.grammar)
        stride, first = self.model.output_stride, segment.start_frame
        word_times = [
            ((first + stride * w.start_frame) * self.frame_s, (first + stride * w.end_frame) * self.frame_s)
            for w in decoded.words
        ]
        return Utterance(
            decoded, first * self.frame_s, segment.end_frame * self.frame_s, word_times, segment.forced
        )


def quiet(seconds: float, rate: int, seed: int) -> np.ndarray:
    """Very low noise (about -80 dBFS) rather than digital zeros, like a real quiet room."""
    return (np.random.default_rng(seed).standard_normal(int(seconds * rate)) * 1e-4).astype(np.float32)


def transcribe_clip(recognizer: Recognizer, samples: np.ndarray, rate: int) -> list[Utterance]:
    """A whole recording through the live path: resample, quiet lead-in, 100 ms blocks, flush."""
    recognizer.reset()
    target = recognizer.sample_rate
    audio = (
        resample(np.asarray(samples, np.float32), rate, target)
        if rate != target
        else np.asarray(samples, np.float32)
    )
    audio = np.concatenate([quiet(CLIP_LEAD_S, target, 1), audio, quiet(CLIP_TAIL_S, target, 2)])
    utterances: list[Utterance] = []
    for start in range(0, len(audio), CLIP_BLOCK):
        utterances += recognizer.push(audio[start : start + CLIP_BLOCK])
    utterances += recognizer.flush()
    lead = CLIP_LEAD_S
    return [
        Utterance(
            u.decoded,
            max(0.0, u.t_start - lead),
            max(0.0, u.t_end - lead),
            [(max(0.0, a - lead), max(0.0, b - lead)) for a, b in u.word_times],
            u.forced,
        )
        for u in utterances
    ]


def combine(utterances: list[Utterance]) -> tuple[str, float, bool]:
    """One line for a file: accepted words of all its utterances, the weakest confidence, any rejection."""
    spoken = [u for u in utterances if u.decoded.words]
    transcript = " ".join(u.transcript for u in spoken if u.transcript)
    if not spoken:
        return "", 0.0, False
    confidence = min(u.confidence for u in spoken)
    rejected = any(u.decoded.rejected for u in spoken)
    return transcript, confidence, rejected
