"""CTC decoding: greedy, prefix beam search, and decoding constrained by a charset or a regex.

All functions take per-line log-probabilities `logp` of shape (T, classes), class 0 = blank,
class i+1 = charset[i]. Confidences are posteriors in [0, 1]: per character the best frame's
probability of that character (after a forced alignment), per line their geometric mean.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field

import numpy as np

NEG_INF = -1e30
# Pairs a camera and a printer confuse; the constrained decoder may swap them to satisfy a pattern.
CONFUSABLE = {
    "O": "0Q", "0": "OQD", "Q": "O0", "D": "0",
    "I": "1L", "1": "IL7", "L": "1I",
    "S": "5", "5": "S",
    "B": "8", "8": "B",
    "Z": "2", "2": "Z",
    "G": "6", "6": "G",
    "T": "7", "7": "T",
    "A": "4", "4": "A",
}
MAX_REPAIR_POSITIONS = 12
MAX_REPAIR_SWAPS = 2  # candidates with more swapped characters are not considered


@dataclass(frozen=True)
class Decoded:
    text: str
    confidence: float
    char_confidences: list[float] = field(default_factory=list)
    matched: bool | None = None  # for constrained decoding: did the text satisfy the pattern?


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """A new array; the work happens in place on it because this runs once per line read."""
    out = logits - logits.max(axis=-1, keepdims=True)
    total = np.exp(out).sum(axis=-1, keepdims=True)
    out -= np.log(total, out=total)
    return out


def _line_confidence(char_conf: list[float]) -> float:
    if not char_conf:
        return 0.0
    return float(math.exp(sum(math.log(max(c, 1e-6)) for c in char_conf) / len(char_conf)))


def greedy(logp: np.ndarray, charset: str) -> Decoded:
    """Best class per frame, repeats merged, blanks removed.

    Runs once per line on every frame, so it is part of the per-line latency: two numpy reductions, then a
    loop over plain Python lists (cheaper than numpy calls on arrays this small, ~40 frames).
    """
    best = logp.argmax(axis=1).tolist()
    top = logp.max(axis=1).tolist()
    chars: list[str] = []
    best_logp: list[float] = []
    prev = 0
    for k, score in zip(best, top):
        if k != 0 and k != prev:
            chars.append(charset[k - 1])
            best_logp.append(score)
        elif k != 0 and score > best_logp[-1]:
            best_logp[-1] = score
        prev = k
    conf = [math.exp(score) for score in best_logp]
    return Decoded("".join(chars), _line_confidence(conf), conf)


def _logadd(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    if b <= NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


def beam_search(logp: np.ndarray, charset: str, beam: int = 8, allowed: str | None = None,
                prune: float = -9.0, per_frame: int = 6) -> list[tuple[str, float]]:
    """CTC prefix beam search; returns up to `beam` (text, log-probability) pairs, best first.

    `allowed` restricts the characters that may be emitted (a per-region charset constraint).
    """
    classes = [k for k in range(1, logp.shape[1]) if allowed is None or charset[k - 1] in allowed]
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, NEG_INF)}  # prefix -> (p_blank, p_nonblank)
    for t in range(logp.shape[0]):
        row = logp[t]
        ranked_classes = sorted(classes, key=lambda k: row[k], reverse=True)[:per_frame]
        candidates = [k for k in ranked_classes if row[k] > prune] or ranked_classes[:1]
        nxt: dict[tuple[int, ...], list[float]] = {}

        def add(prefix: tuple[int, ...], pb: float, pnb: float, nxt=nxt) -> None:
            cur = nxt.setdefault(prefix, [NEG_INF, NEG_INF])
            cur[0] = _logadd(cur[0], pb)
            cur[1] = _logadd(cur[1], pnb)

        for prefix, (pb, pnb) in beams.items():
            total = _logadd(pb, pnb)
            add(prefix, total + row[0], NEG_INF)  # a blank keeps the prefix
            if prefix:
                add(prefix, NEG_INF, pnb + row[prefix[-1]])  # repeated char collapses
            for k in candidates:
                if prefix and k == prefix[-1]:
                    add(prefix + (k,), NEG_INF, pb + row[k])  # a repeat needs a blank between
                else:
                    add(prefix + (k,), NEG_INF, total + row[k])
        ranked = sorted(nxt.items(), key=lambda kv: _logadd(*kv[1]), reverse=True)[:beam]
        beams = {prefix: (v[0], v[1]) for prefix, v in ranked}
    result = [("".join(charset[k - 1] for k in prefix), _logadd(*v)) for prefix, v in beams.items()]
    return sorted(result, key=lambda x: x[1], reverse=True)


def _encode(text: str, charset: str) -> list[int] | None:
    index = {c: i + 1 for i, c in enumerate(charset)}
    try:
        return [index[c] for c in text]
    except KeyError:
        return None


def ctc_log_likelihood(logp: np.ndarray, labels: list[int]) -> float:
    """log p(labels | frames) by the CTC forward algorithm: scores any candidate string exactly."""
    ext = [0]
    for k in labels:
        ext += [k, 0]
    s_len, t_len = len(ext), logp.shape[0]
    if len(labels) > t_len:
        return NEG_INF
    alpha = np.full(s_len, NEG_INF)
    alpha[0] = logp[0, 0]
    if s_len > 1:
        alpha[1] = logp[0, ext[1]]
    ext_arr = np.array(ext)
    skip_ok = np.zeros(s_len, bool)
    skip_ok[2:] = (ext_arr[2:] != 0) & (ext_arr[2:] != ext_arr[:-2])
    for t in range(1, t_len):
        prev = alpha
        shifted1 = np.concatenate([[NEG_INF], prev[:-1]])
        shifted2 = np.where(skip_ok, np.concatenate([[NEG_INF, NEG_INF], prev[:-2]]), NEG_INF)
        stacked = np.stack([prev, shifted1, shifted2])
        top = stacked.max(axis=0)
        alpha = top + np.log(np.exp(stacked - top).sum(axis=0)) + logp[t, ext_arr]
        alpha = np.maximum(alpha, NEG_INF)
    tail = alpha[-1] if s_len == 1 else np.logaddexp(alpha[-1], alpha[-2])
    return float(tail)


def char_confidences(logp: np.ndarray, labels: list[int]) -> list[float]:
    """Viterbi forced alignment of `labels`; each character's confidence = its best aligned frame posterior."""
    if not labels:
        return []
    ext = np.zeros(2 * len(labels) + 1, dtype=np.int64)
    ext[1::2] = labels
    s_len, t_len = len(ext), logp.shape[0]
    skip_ok = np.zeros(s_len, bool)
    skip_ok[2:] = (ext[2:] != 0) & (ext[2:] != ext[:-2])
    score = np.full(s_len, NEG_INF)
    score[0] = logp[0, 0]
    score[1] = logp[0, ext[1]]
    back = np.zeros((t_len, s_len), np.int8)
    for t in range(1, t_len):
        stay = score
        step = np.concatenate([[NEG_INF], score[:-1]])
        skip = np.where(skip_ok, np.concatenate([[NEG_INF, NEG_INF], score[:-2]]), NEG_INF)
        options = np.stack([stay, step, skip])
        back[t] = options.argmax(axis=0)
        score = options.max(axis=0) + logp[t, ext]
    s = s_len - 1 if s_len == 1 or score[-1] >= score[-2] else s_len - 2
    conf = [0.0] * len(labels)
    for t in range(t_len - 1, -1, -1):
        if ext[s] != 0:
            i = (s - 1) // 2
            conf[i] = max(conf[i], float(math.exp(logp[t, ext[s]])))
        s -= int(back[t, s])
    return conf


def _repairs(text: str, limit: int = MAX_REPAIR_POSITIONS, swaps: int = MAX_REPAIR_SWAPS):
    """Variants of `text` with 1..`swaps` confusable characters swapped (O/0, I/1, S/5, B/8, ...)."""
    positions = [i for i, c in enumerate(text) if c.upper() in CONFUSABLE][:limit]
    for count in range(1, swaps + 1):
        for chosen in itertools.combinations(positions, count):
            for combo in itertools.product(*[CONFUSABLE[text[i].upper()] for i in chosen]):
                chars = list(text)
                for i, c in zip(chosen, combo):
                    chars[i] = c
                yield "".join(chars)


def decode_constrained(logp: np.ndarray, charset: str, pattern: str | re.Pattern | None = None,
                       allowed: str | None = None, beam: int = 16) -> Decoded:
    """Best string that satisfies the constraint (regex full match and/or allowed characters).

    N-best from beam search, plus their confusable-character repairs (O/0, I/1, S/5, B/8, ...), are
    filtered by the pattern and rescored exactly with the CTC likelihood. When nothing matches, the
    unconstrained best is returned with matched=False so the caller can flag it instead of guessing.
    """
    regex = re.compile(pattern) if isinstance(pattern, str) else pattern
    if allowed is not None:
        masked = logp.copy()
        for k in range(1, logp.shape[1]):
            if charset[k - 1] not in allowed:
                masked[:, k] = NEG_INF
        logp_used = masked
    else:
        logp_used = logp
    nbest = beam_search(logp_used, charset, beam=beam, allowed=allowed)
    if regex is None:
        text = nbest[0][0] if nbest else ""
        return _finish(logp, text, charset, None)
    scored: dict[str, float] = {}

    def consider(variant: str) -> None:
        if variant in scored or not regex.fullmatch(variant):
            return
        labels = _encode(variant, charset)
        if labels is not None and (allowed is None or all(c in allowed for c in variant)):
            scored[variant] = ctc_log_likelihood(logp, labels)

    for text, _ in nbest:  # first the beam's own candidates...
        consider(text)
    if not scored:  # ...then, only if none fits, their confusable repairs
        for text, _ in nbest:
            for variant in _repairs(text):
                consider(variant)
    if not scored:
        return _finish(logp, nbest[0][0] if nbest else "", charset, False)
    best = max(scored, key=scored.get)
    return _finish(logp, best, charset, True)


def _finish(logp: np.ndarray, text: str, charset: str, matched: bool | None) -> Decoded:
    labels = _encode(text, charset) or []
    conf = char_confidences(logp, labels) if labels else []
    return Decoded(text, _line_confidence(conf), conf, matched)
