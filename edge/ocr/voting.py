"""Voting across consecutive frames: one blurred frame must not produce a wrong record.

Per key (a region name or a line slot), the last `window` reads are kept; the reported text is the one
with the highest summed confidence, and it counts as voted when at least `min_agree` frames read it.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Vote:
    text: str
    confidence: float  # mean confidence of the frames that read the winning text
    agree: int         # how many frames in the window read it
    voted: bool        # agree >= min_agree


class FrameVoter:
    def __init__(self, window: int = 5, min_agree: int = 2) -> None:
        if min_agree > window:
            raise ValueError("min_agree must not exceed window")
        self.window = window
        self.min_agree = min_agree
        self._history: dict[str, deque[tuple[str, float]]] = defaultdict(lambda: deque(maxlen=window))

    def add(self, key: str, text: str, confidence: float) -> Vote:
        """Record one read and return the current winner for `key`."""
        history = self._history[key]
        history.append((text, confidence))
        totals: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        for t, c in history:
            totals[t] += c
            counts[t] += 1
        winner = max(totals, key=lambda t: (totals[t], counts[t]))
        return Vote(winner, totals[winner] / counts[winner], counts[winner], counts[winner] >= self.min_agree)

    def reset(self, key: str | None = None) -> None:
        """Forget history (e.g. when a new part arrives)."""
        if key is None:
            self._history.clear()
        else:
            self._history.pop(key, None)
