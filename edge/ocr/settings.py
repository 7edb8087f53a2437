"""`ocr:` section of the config (owned by the OCR module)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

VALIDATOR_NAMES = Literal["gs1", "luhn", "iso6346", "date", "expected"]


class OcrRegion(BaseModel):
    """A fixed region of interest (known label position) and/or the rules its text must satisfy."""

    model_config = ConfigDict(extra="forbid")

    name: str
    box: tuple[int, int, int, int] | None = None  # x, y, w, h in frame pixels; null: applies to found lines
    pattern: str | None = None  # regex the whole text must match, e.g. '[A-Z]{2}\d{6}'
    charset: str | None = None  # only these characters may be read, e.g. '0123456789.-'
    validator: VALIDATOR_NAMES | None = None
    expected_values: list[str] = []

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression ({exc})") from exc
        return value

    @field_validator("box")
    @classmethod
    def _positive(cls, value):
        if value is not None and (value[2] <= 0 or value[3] <= 0 or value[0] < 0 or value[1] < 0):
            raise ValueError("box is [x, y, w, h] with x, y >= 0 and w, h > 0")
        return value

    @model_validator(mode="after")
    def _expected_needs_values(self):
        if self.validator == "expected" and not self.expected_values:
            raise ValueError("validator 'expected' needs a non-empty expected_values list")
        return self


class OcrConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # When to read a frame: at most rate_hz per second, every frame, or when the picture changed.
    trigger: Literal["rate", "every_frame", "motion"] = "rate"
    rate_hz: float = Field(default=2.0, gt=0)
    motion_threshold: float = Field(default=0.02, gt=0, le=1)  # fraction of pixels that changed
    precision: Literal["int8", "fp32"] | None = None  # null: runtime.precision
    beam: int = Field(default=8, ge=1, le=64)  # beam width of the constrained decoder
    min_confidence: float = Field(default=0.4, ge=0, le=1)  # lines below are dropped
    max_lines: int = Field(default=16, ge=1, le=200)
    min_chars: int = Field(default=2, ge=1)  # found lines shorter than this are dropped (screws, specks)
    keep_unmatched: bool = True  # with box-less regions: keep found lines that satisfy none of them
    # Fixed regions (with `box`) replace line finding; regions without a box set rules for found lines.
    regions: list[OcrRegion] = []
    vote_frames: int = Field(default=5, ge=1, le=100)  # window of recent frames for voting
    vote_min: int = Field(default=2, ge=1, le=100)  # agreeing frames needed for voted=true
    # `edge check`: refuse the INT8 model when its golden-set CER exceeds FP32's by more than this.
    int8_max_cer_increase: float = Field(default=0.02, ge=0, le=1)

    @model_validator(mode="after")
    def _vote_window(self):
        if self.vote_min > self.vote_frames:
            raise ValueError("vote_min must not exceed vote_frames")
        return self
