"""What an output looks like to the pipeline.

A sink is a tiny subclass with one hook, `write(event)`. The pipeline gives each sink its own thread and
queue (see edge/sinks/runner.py), so a slow sink never stalls capture; when `write` raises, the runner
reports it, waits and retries the same event, so nothing is dropped silently.
"""

from __future__ import annotations

from typing import ClassVar

from edge.events import Event


class Sink:
    name: ClassVar[str] = "sink"

    def write(self, event: Event) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Flush and release files or connections; called once after the last write."""

    def status(self) -> dict:
        """Sink-specific health for /healthz and `edge run` status (e.g. outbox backlog)."""
        return {}
