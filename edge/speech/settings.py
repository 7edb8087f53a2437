"""`speech:` section of the config (owned by the speech module)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SpeechConfig(BaseModel):
    """Speech commands and digits from the microphone (`edge run`) or WAV files (`edge listen`).

    `grammar`: allowed utterances; empty = any sequence of vocabulary words. One pattern per shape, e.g.
    ["pass", "fail <digit>*", "<digit>{1,4}", "(yes|no)"]; classes <digit>, <command>, <word>.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    model: str = "speech"  # name in models/manifest.yaml
    precision: Literal["int8", "fp32"] | None = None  # null: runtime.precision
    # a weaker word rejects the utterance; 0.35 chosen on a development set by tools/speech/calibrate.py
    min_confidence: float = Field(default=0.35, ge=0.0, le=1.0)
    # reject when any frame gives <unk> more than this; 1.0 = off. 0.15 about halves out-of-vocabulary false
    # accepts on the calibration set (12.5% -> 6.9%) for 9 points of accuracy (calibrate.py prints both)
    max_unknown: float = Field(default=1.0, ge=0.0, le=1.0)
    grammar: list[str] = []
    beam: int = Field(default=8, ge=1, le=64)  # beam width of grammar-constrained decoding
    vad_threshold_db: float = Field(default=9.0, ge=1.0, le=40.0)  # speech = this far above the noise floor
    vad_min_level_db: float = Field(
        default=-25.0, le=60.0
    )  # quieter frames are never speech (about -65 dBFS)
    # silence that ends an utterance: 250 ms keeps end-of-speech -> event within 300 ms; digit strings with
    # longer pauses become several utterances, which `edge listen` and the stage report in order
    end_silence_ms: int = Field(default=250, ge=100, le=3000)
    max_utterance_s: float = Field(default=6.0, gt=0.5, le=30.0)  # longer speech is cut here
