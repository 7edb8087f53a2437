"""Character error rate and exact-line accuracy."""

from __future__ import annotations

from collections.abc import Iterable


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer_and_accuracy(pairs: Iterable[tuple[str, str]]) -> tuple[float, float, int]:
    """(CER = total edits / total reference chars, exact-line accuracy, n) over (prediction, reference) pairs."""
    edits = chars = exact = n = 0
    for pred, ref in pairs:
        edits += edit_distance(pred, ref)
        chars += max(1, len(ref))
        exact += pred == ref
        n += 1
    return (edits / chars if chars else 0.0), (exact / n if n else 0.0), n
