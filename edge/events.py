"""The values that flow through the pipeline: frames and audio from sources, events to sinks.

All are frozen dataclasses so a sink can never change what another sink sees. Every item carries a
monotonic timestamp (for latency and joining by time) and a wall-clock timestamp (for humans and stores).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One camera image (BGR, uint8) as captured."""

    source_id: str
    frame_id: int
    t_mono: float
    t_wall: float
    image: np.ndarray

    kind = "frame"


@dataclass(frozen=True)
class AudioChunk:
    """A fixed-size hop of mono float32 audio in [-1, 1] at `sample_rate`.

    `offset` is the index of the first sample since the stream started, so stages can compute exact
    utterance times whatever the device block size was.
    """

    source_id: str
    offset: int
    sample_rate: int
    t_mono: float
    t_wall: float
    samples: np.ndarray
    end_of_stream: bool = False

    kind = "audio"

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


_id_lock = threading.Lock()
_id_state = {"ms": 0, "seq": 0}


def new_event_id() -> str:
    """A unique, time-sortable id: 48-bit milliseconds, 16-bit sequence, 64 random bits (32 hex digits).

    Sorting ids sorts events by creation order within a process, and ids stay unique across restarts and
    devices, so an MQTT subscriber can de-duplicate by id.
    """
    with _id_lock:
        ms = max(int(time.time() * 1000), _id_state["ms"])  # never go backwards, even if the clock does
        if ms == _id_state["ms"]:
            _id_state["seq"] += 1
            if _id_state["seq"] > 0xFFFF:
                ms, _id_state["seq"] = ms + 1, 0
        else:
            _id_state["seq"] = 0
        _id_state["ms"] = ms
        seq = _id_state["seq"]
    return f"{ms:012x}{seq:04x}{os.urandom(8).hex()}"


def _frozen(data: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(data or {}))


@dataclass(frozen=True)
class Event:
    """Something the pipeline perceived: an OCR read, an utterance, an inspection verdict...

    `data` must be JSON-serialisable. `snapshot` is an optional JPEG of the frame the event refers to.
    """

    kind: str
    source_id: str
    data: Mapping[str, Any] = field(default_factory=dict)
    t_mono: float = field(default_factory=time.monotonic)
    t_wall: float = field(default_factory=time.time)
    id: str = field(default_factory=new_event_id)
    frame_id: int | None = None
    snapshot: bytes | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", _frozen(self.data))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without the snapshot bytes), the format of jsonl, MQTT and `edge events`."""
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "source_id": self.source_id,
            "t_wall": round(self.t_wall, 6),
            "t_mono": round(self.t_mono, 6),
            "data": _plain(self.data),
        }
        if self.frame_id is not None:
            out["frame_id"] = self.frame_id
        out["has_snapshot"] = self.snapshot is not None
        return out


def _plain(value: Any) -> Any:
    """Turn mappings proxies, tuples and numpy scalars into plain JSON types."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
