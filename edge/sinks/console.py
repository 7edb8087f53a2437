"""Human-readable event lines on stdout (journald keeps them under systemd)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from edge.events import Event
from edge.sinks.base import Sink


def summarize(event: Event) -> str:
    """One short line per event: what an operator wants to read at a glance."""
    data = event.data
    if event.kind == "ocr":
        detail = f"text={data.get('text', '')!r} conf={data.get('confidence', 0):.2f}"
    elif event.kind == "speech":
        detail = f"heard={data.get('transcript', '')!r} conf={data.get('confidence', 0):.2f}"
        if data.get("rejected"):
            detail += " (rejected)"
    elif event.kind == "inspection":
        probs = data.get("probabilities") or {}
        best = max(probs.values()) if probs else 0.0
        codes = " ".join(f"{k}={v!r}" for k, v in (data.get("codes") or {}).items() if isinstance(v, str))
        words = " ".join(data.get("words") or [])
        detail = f"verdict={data.get('verdict')} p={best:.2f} {codes}" + (f" heard={words!r}" if words else "")
    else:
        detail = " ".join(f"{k}={v}" for k, v in list(data.items())[:6])
    stamp = time.strftime("%H:%M:%S", time.localtime(event.t_wall))
    return f"{stamp} {event.kind:<10} {event.source_id:<8} {detail}"


class ConsoleSink(Sink):
    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def write(self, event: Event) -> None:
        print(summarize(event), file=self.stream, flush=True)
