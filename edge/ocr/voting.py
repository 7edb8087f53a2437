"""Voting across consecutive frames: one blurred frame must not produce a wrong record.

Per key (a region name or a line position), the last `window` reads are kept. A read that is a near miss
(a character or two off) of a text that at least `min_agree` recent frames agreed on is reported as that
text; anything else is reported as read, so a new part's label is never masked by the previous one.
`voted` says whether the reported text has the quorum.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

from edge.textdistance import edit_distance


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
        winner = max(totals, key=lambda t: (counts[t], totals[t]))
        near_miss = edit_distance(winner, text) <= max(1, len(winner) // 5)
        if winner != text and counts[winner] >= self.min_agree and near_miss and counts[winner] > counts[text]:
            return Vote(winner, totals[winner] / counts[winner], counts[winner], True)
        return Vote(text, totals[text] / counts[text], counts[text], counts[text] >= self.min_agree)

    def reset(self, key: str | None = None) -> None:
        """Forget history (e.g. when a new part arrives)."""
        if key is None:
            self._history.clear()
        else:
            self._history.pop(key, None)
