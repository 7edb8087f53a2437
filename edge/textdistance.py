"""Edit distance, shared by OCR voting and acceptance, fusion's code checks and the evaluation tools.

Texts here are short (codes, lines, utterances), so the plain dynamic programme is fast enough.
"""

from __future__ import annotations

from collections.abc import Sequence


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance between two strings (characters) or two lists (e.g. words)."""
    previous = list(range(len(b) + 1))
    for i, item_a in enumerate(a, 1):
        current = [i]
        for j, item_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (item_a != item_b)))
        previous = current
    return previous[-1]
