"""The fusion model at run time: features from a part crop + OCR + speech -> class probabilities."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge.config import EdgeConfig
from edge.errors import ModelError
from edge.fusion.features import (
    CLASSIC_DIM,
    IMAGE_SIZE,
    TEXT_DIM,
    classic_input,
    image_input,
    speech_features,
    text_features,
)
from edge.runtime import Manifest, ModelSession

REQUIRED_METADATA = ("classes", "input_size", "version")


@dataclass(frozen=True)
class FusionResult:
    verdict: str
    probabilities: dict[str, float]
    codes: dict[str, Any]
    words: list[str]
    present: dict[str, bool]
    features_ms: float
    model_ms: float


class FusionModel:
    """Session + preprocessing + decoding of the fusion network."""

    def __init__(self, session: ModelSession) -> None:
        self.session = session
        try:
            self.classes = list(json.loads(session.metadata["classes"]))
        except (ValueError, TypeError) as exc:
            raise ModelError(f"{session.path}: metadata 'classes' is not a JSON list; re-export the model") from exc
        size = f"{IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}"
        if session.metadata.get("input_size") != size:
            raise ModelError(
                f"{session.path}: crop size {session.metadata.get('input_size')} does not match this edge "
                f"version's {size}; install the fusion model released with it"
            )
        self.version = session.metadata.get("version", "?")
        # text features are only ever appended to; a model exported with fewer takes the leading ones
        shapes = {name: shape for name, shape, _ in session.inputs}
        width = shapes.get("text", [None, TEXT_DIM])[1]
        self.text_dim = width if isinstance(width, int) and 0 < width <= TEXT_DIM else TEXT_DIM

    @classmethod
    def from_config(cls, config: EdgeConfig, manifest: Manifest) -> FusionModel:
        precision = config.fusion.precision or config.runtime.precision
        session = ModelSession.from_manifest(
            manifest, config.fusion.model, precision, providers=config.runtime.providers,
            threads=config.runtime.threads, required_metadata=REQUIRED_METADATA,
        )
        model = cls(session)
        model.warmup()
        return model

    def warmup(self) -> None:
        crop = np.zeros((IMAGE_SIZE[1], IMAGE_SIZE[0]), np.uint8)
        self.session.warmup(self.feeds(crop, None, None, [], present_image=True), runs=2)

    def feeds(
        self,
        crop: np.ndarray | None,
        ocr: Mapping[str, Any] | None,
        speech: Mapping[str, Any] | None,
        expected_lots: Sequence[str],
        present_image: bool = True,
    ) -> dict[str, np.ndarray]:
        """Model inputs for one part; `None` for a modality that did not run (no camera crop, no OCR, no mic)."""
        text, chars, char_conf, _ = text_features(ocr, expected_lots)
        spk, _ = speech_features(speech)
        has_image = crop is not None and present_image
        image = image_input(crop) if has_image else np.zeros((1, IMAGE_SIZE[1], IMAGE_SIZE[0]), np.float32)
        classic = classic_input(crop) if has_image else np.zeros(CLASSIC_DIM, np.float32)
        present = np.array([has_image, ocr is not None, speech is not None], np.float32)
        return {
            "image": image[None],
            "classic": classic[None],
            "text": text[None, : self.text_dim],
            "chars": chars[None],
            "char_conf": char_conf[None],
            "speech": spk[None],
            "present": present[None],
        }

    def predict(
        self,
        crop: np.ndarray | None,
        ocr: Mapping[str, Any] | None,
        speech: Mapping[str, Any] | None,
        expected_lots: Sequence[str] = (),
    ) -> FusionResult:
        start = time.perf_counter()
        feeds = self.feeds(crop, ocr, speech, expected_lots)
        _, _, _, codes = text_features(ocr, expected_lots)
        _, words = speech_features(speech)
        mid = time.perf_counter()
        (probs,) = self.session.run(feeds)
        end = time.perf_counter()
        p = probs[0]
        return FusionResult(
            verdict=self.classes[int(np.argmax(p))],
            probabilities={c: round(float(v), 4) for c, v in zip(self.classes, p)},
            codes=codes,
            words=words,
            present={"image": crop is not None, "text": ocr is not None, "speech": speech is not None},
            features_ms=(mid - start) * 1000.0,
            model_ms=(end - mid) * 1000.0,
        )
