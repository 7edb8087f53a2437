"""Bounded queues that never block the producer.

Capture threads must never wait on a slow consumer: when a queue is full the oldest item is dropped and
counted, so a stage always works on the newest data and the drop counter shows that it cannot keep up.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Empty(Exception):
    """get() timed out."""


class DropOldestQueue(Generic[T]):
    """FIFO that drops its oldest item when full.

    With `max_frames`, camera frames are also capped on their own: a stage that consumes frames and
    events (fusion) keeps only the newest few frames, which are large, while events wait in order.
    """

    def __init__(self, maxsize: int, max_frames: int | None = None) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.maxsize = maxsize
        self.max_frames = max_frames
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self._frames = 0
        self.dropped = 0  # everything dropped, frames included
        self.dropped_other = 0  # audio hops and events dropped: real losses, worth a warning
        self.put_count = 0
        self.unfinished = 0  # items taken by get() but not yet marked done

    def put(self, item: T) -> bool:
        """Add an item; returns False when an older item had to be dropped to make room."""
        with self._cond:
            kept_all = True
            if self.max_frames is not None and _is_frame(item):
                if self._frames >= self.max_frames:
                    self._drop_oldest_frame()
                    kept_all = False
                self._frames += 1
            if len(self._items) >= self.maxsize:
                self._drop(self._items.popleft())
                kept_all = False
            self._items.append(item)
            self.put_count += 1
            self._cond.notify()
            return kept_all

    def _drop_oldest_frame(self) -> None:
        for index, queued in enumerate(self._items):
            if _is_frame(queued):
                del self._items[index]
                self._drop(queued)
                return

    def _drop(self, item: T) -> None:
        self.dropped += 1
        if _is_frame(item):
            self._frames -= 1
        else:
            self.dropped_other += 1

    def get(self, timeout: float | None = None) -> T:
        with self._cond:
            if not self._cond.wait_for(lambda: self._items, timeout=timeout):
                raise Empty
            self.unfinished += 1
            item = self._items.popleft()
            if _is_frame(item):
                self._frames -= 1
            return item

    def task_done(self) -> None:
        with self._cond:
            self.unfinished -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every item has been taken and processed."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._items and self.unfinished == 0, timeout=timeout)

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


def _is_frame(item: object) -> bool:
    return getattr(item, "kind", None) == "frame" and not hasattr(item, "data")
