"""Character error rate and exact-line accuracy."""

from __future__ import annotations

from collections.abc import Iterable

from edge.textdistance import edit_distance


def cer_and_accuracy(pairs: Iterable[tuple[str, str]]) -> tuple[float, float, int]:
    """(CER = total edits / total reference chars, exact-line accuracy, n) over (prediction, reference) pairs."""
    edits = chars = exact = n = 0
    for pred, ref in pairs:
        edits += edit_distance(pred, ref)
        chars += max(1, len(ref))
        exact += pred == ref
        n += 1
    return (edits / chars if chars else 0.0), (exact / n if n else 0.0), n
