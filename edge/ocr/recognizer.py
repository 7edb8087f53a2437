"""The CRNN behind edge.runtime.ModelSession: line crops in, decoded text with confidences out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.errors import ModelError
from edge.ocr import decode
from edge.ocr.preprocess import INPUT_HEIGHT, WIDTH_MULTIPLE, batches_by_width, normalize_line, to_tensor
from edge.runtime import Manifest, ModelSession

MODEL_NAME = "ocr"
REQUIRED_METADATA = ("charset", "input_height", "version", "model_name")


@dataclass(frozen=True)
class LineResult:
    text: str
    confidence: float
    char_confidences: list[float]
    matched: bool | None = None  # pattern satisfied? (None when no pattern was given)


class Recognizer:
    """Session + preprocessing + CTC decoding for text lines."""

    def __init__(self, session: ModelSession, beam: int = 8) -> None:
        self.session = session
        self.charset = session.metadata["charset"]
        if int(session.metadata["input_height"]) != INPUT_HEIGHT:
            raise ModelError(
                f"{session.path}: input_height {session.metadata['input_height']} but this edge version feeds "
                f"{INPUT_HEIGHT}; install the model that came with this release"
            )
        self.input_name = session.inputs[0][0]
        self.beam = beam

    @classmethod
    def from_manifest(cls, manifest: Manifest, precision: str = "int8", providers: Sequence[str] = ("auto",),
                      threads: int = 1, beam: int = 8) -> Recognizer:
        session = ModelSession.from_manifest(manifest, MODEL_NAME, precision, providers=providers, threads=threads,
                                             required_metadata=REQUIRED_METADATA)
        return cls(session, beam=beam)

    def log_probs(self, lines: Sequence[np.ndarray], max_batch: int = 16) -> list[np.ndarray]:
        """Normalised lines -> per-line (T, classes) log-probabilities, padding frames removed."""
        out: list[np.ndarray | None] = [None] * len(lines)
        for group in batches_by_width(lines, max_batch=max_batch):
            batch = to_tensor([lines[i] for i in group])
            logits = self.session.run({self.input_name: batch})[0]
            for row, index in enumerate(group):
                steps = lines[index].shape[1] // WIDTH_MULTIPLE
                out[index] = decode.log_softmax(logits[row, :steps].astype(np.float32, copy=False))
        return out  # type: ignore[return-value]

    def line_log_probs(self, crops: Sequence[np.ndarray], crop_band: bool = True) -> list[np.ndarray]:
        """Run the network once per crop (batched by width)."""
        return self.log_probs([normalize_line(crop, crop_band=crop_band) for crop in crops])

    def decode(self, logp: np.ndarray, pattern: str | re.Pattern | None = None,
               allowed: str | None = None) -> LineResult:
        """Greedy without constraints; otherwise the best candidate satisfying pattern/allowed characters."""
        if pattern is None and allowed is None:
            d = decode.greedy(logp, self.charset)
        else:
            d = decode.decode_constrained(logp, self.charset, pattern=pattern, allowed=allowed, beam=self.beam)
        text, conf = d.text, list(d.char_confidences)
        while text.startswith(" "):  # keep per-character confidences aligned with the stripped text
            text, conf = text[1:], conf[1:]
        while text.endswith(" "):
            text, conf = text[:-1], conf[:-1]
        return LineResult(text, d.confidence, conf, d.matched)

    def recognize(self, crops: Sequence[np.ndarray], pattern: str | re.Pattern | None = None,
                  allowed: str | None = None, crop_band: bool = True) -> list[LineResult]:
        """Read each crop as one line; with `pattern`/`allowed`, the best candidate that satisfies it."""
        return [self.decode(logp, pattern, allowed) for logp in self.line_log_probs(crops, crop_band)]
