"""`fusion:` section of the config (owned by the fusion module)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FusionConfig(BaseModel):
    """When a part is complete, join its frame, OCR and speech events and emit one inspection record."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    model: str = "fusion"  # name in models/manifest.yaml
    precision: Literal["int8", "fp32"] | None = None  # null: runtime.precision
    # part: a part is detected against the learned empty background (arrives, settles, leaves);
    # interval: one inspection every interval_s seconds of frames (fixed jig, no motion)
    trigger: Literal["part", "interval"] = "part"
    interval_s: float = Field(default=2.0, gt=0)
    diff_threshold: int = Field(default=40, ge=1, le=255)  # gray-level change that counts as foreground
    min_part_area: float = Field(default=0.02, gt=0, lt=1)  # fraction of the frame a part must cover
    background_frames: int = Field(default=5, ge=1)  # empty frames used to learn the background at start
    join_grace_s: float = Field(default=1.0, ge=0)  # wait for late OCR/speech events after a part left
    expected_lots: list[str] = []  # lot ids of the current batch, e.g. ["2411-B07"]; empty: any lot passes
    snapshot_quality: int = Field(default=85, ge=10, le=100)
