"""`speech:` section of the config (owned by the speech module)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SpeechConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
