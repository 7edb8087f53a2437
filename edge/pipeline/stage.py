"""What a model stage looks like to the pipeline.

A stage is a plain object: it declares which item kinds it consumes ("frame", "audio", or the `kind` of
events other stages emit, e.g. "ocr", "speech") and turns each item into zero or more Events. The
pipeline runs each stage in its own worker thread with a bounded inbox; a stage never sees sinks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Union

from edge.events import AudioChunk, Event, Frame

Item = Union[Frame, AudioChunk, Event]


class Stage:
    """Subclass and override `process` (and `flush` if the stage buffers, e.g. an utterance in progress)."""

    name: ClassVar[str] = "stage"
    consumes: ClassVar[tuple[str, ...]] = ("frame",)
    # Inboxes: frames are capped at camera.queue_size (the oldest frame is dropped and counted, so a slow
    # stage works on the newest); audio hops and events wait in order in a large inbox and are only
    # dropped, with a warning, when even that overflows.
    drop_when_full: ClassVar[bool] = True  # informational; the inbox policy above follows from `consumes`

    def process(self, item: Item) -> Iterable[Event]:
        raise NotImplementedError

    def flush(self) -> Iterable[Event]:
        """Called once at shutdown after the inbox is drained: emit whatever is still buffered."""
        return ()

    def close(self) -> None:
        """Release resources (sessions, files)."""
