"""`ocr:` section of the config (owned by the OCR module)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class OcrConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    rate_hz: float = 2.0
