"""`fusion:` section of the config (owned by the fusion module)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FusionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
