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
    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self.dropped = 0
        self.put_count = 0
        self.unfinished = 0  # items taken by get() but not yet marked done

    def put(self, item: T) -> bool:
        """Add an item; returns False when an older item had to be dropped to make room."""
        with self._cond:
            kept_all = True
            if len(self._items) >= self.maxsize:
                self._items.popleft()
                self.dropped += 1
                kept_all = False
            self._items.append(item)
            self.put_count += 1
            self._cond.notify()
            return kept_all

    def get(self, timeout: float | None = None) -> T:
        with self._cond:
            if not self._cond.wait_for(lambda: self._items, timeout=timeout):
                raise Empty
            self.unfinished += 1
            return self._items.popleft()

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
