"""Turning the model's per-frame word posteriors into words: greedy or grammar-constrained CTC decoding,
per-word confidence from a forced alignment, and rejection instead of a guess.

Confidence is always measured on the unconstrained posteriors: a grammar can pick the best allowed
reading, but it cannot make an unsure or disallowed word look sure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

BLANK = "<blank>"
UNK = "<unk>"
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "oh")


@dataclass(frozen=True)
class Word:
    word: str
    confidence: float
    start_frame: int  # model output frames (inclusive)
    end_frame: int  # exclusive


@dataclass
class Decoded:
    words: list[Word] = field(default_factory=list)  # the hypothesis, including rejected words
    rejected: bool = False  # something was said but not accepted (unknown word, low confidence, off-grammar)
    reason: str = ""
    unknown: float = 0.0  # highest <unk> probability of any frame (see Decoder.max_unknown)

    @property
    def transcript(self) -> str:
        """Accepted words only: empty when nothing was said or the utterance was rejected."""
        return "" if self.rejected else " ".join(w.word for w in self.words)

    @property
    def hypothesis(self) -> str:
        return " ".join(w.word for w in self.words)

    @property
    def confidence(self) -> float:
        return min((w.confidence for w in self.words), default=0.0)


class Grammar:
    """Allowed utterances, written with words and classes, each optionally repeated.

    One pattern per allowed utterance shape, tokens separated by spaces: a word (`pass`), a class
    (`<digit>`, `<command>`, `<word>`), or `(a|b|c)`; a token may end in `?`, `*`, `+` or `{m,n}`.
    Example: ["pass", "fail <digit>*", "<digit>{1,4}", "(yes|no)"].
    """

    def __init__(self, patterns: Sequence[str], vocabulary: Sequence[str]) -> None:
        self.patterns = list(patterns)
        words = [w for w in vocabulary if w not in (BLANK, UNK)]
        commands = [w for w in words if w not in DIGIT_WORDS]
        self.classes = {
            "<digit>": [w for w in words if w in DIGIT_WORDS],
            "<command>": commands,
            "<word>": words,
        }
        self.allowed: set[str] = set()
        self.regexes = [self._compile(p, set(words)) for p in self.patterns]

    def _compile(self, pattern: str, known: set[str]) -> re.Pattern:
        parts = []
        for token in pattern.split():
            m = re.fullmatch(r"(\([^)]*\)|<\w+>|[a-z]+)(\?|\*|\+|\{\d+(?:,\d*)?\})?", token)
            if not m:
                raise ValueError(f"grammar pattern {pattern!r}: cannot read token {token!r}")
            body, quant = m.group(1), m.group(2) or ""
            if body.startswith("<"):
                if body not in self.classes:
                    raise ValueError(
                        f"grammar pattern {pattern!r}: unknown class {body} (use {', '.join(self.classes)})"
                    )
                alts = self.classes[body]
            elif body.startswith("("):
                alts = body[1:-1].split("|")
            else:
                alts = [body]
            unknown = [a for a in alts if a not in known]
            if unknown:
                raise ValueError(
                    f"grammar pattern {pattern!r}: {', '.join(unknown)} not in the model's vocabulary"
                )
            self.allowed.update(alts)
            parts.append(f"(?: (?:{'|'.join(map(re.escape, alts))})){quant}")
        return re.compile("".join(parts))

    def accepts(self, words: Sequence[str]) -> bool:
        text = "".join(" " + w for w in words)
        return any(r.fullmatch(text) for r in self.regexes)


def softmax_from_log(log_probs: np.ndarray) -> np.ndarray:
    p = np.exp(log_probs - log_probs.max(axis=-1, keepdims=True))
    return p / p.sum(axis=-1, keepdims=True)


def greedy_labels(log_probs: np.ndarray) -> list[int]:
    best = log_probs.argmax(axis=-1)
    out, prev = [], 0
    for b in best:
        if b != prev and b != 0:
            out.append(int(b))
        prev = int(b)
    return out


def prefix_beam_search(
    log_probs: np.ndarray, beam: int = 8, allowed: np.ndarray | None = None
) -> list[tuple[tuple[int, ...], float]]:
    """CTC prefix beam search: the `beam` best label sequences with their log-probabilities.

    `allowed` (bool per label) masks labels a grammar can never use; blank is always allowed.
    """
    probs = softmax_from_log(log_probs)
    if allowed is not None:
        probs = probs * allowed[None, :]
    beams: dict[tuple[int, ...], tuple[float, float]] = {
        (): (1.0, 0.0)
    }  # prefix -> (p ending blank, p ending label)
    log_scale = 0.0
    for t in range(len(probs)):
        frame = probs[t]
        candidates = np.nonzero(frame > 1e-4)[0]
        nxt: dict[tuple[int, ...], list[float]] = {}
        for prefix, (pb, pnb) in beams.items():
            total = pb + pnb
            for c in candidates:
                p = frame[c]
                if c == 0:
                    entry = nxt.setdefault(prefix, [0.0, 0.0])
                    entry[0] += total * p
                    continue
                extended = prefix + (int(c),)
                entry = nxt.setdefault(extended, [0.0, 0.0])
                if prefix and prefix[-1] == c:
                    entry[1] += pb * p  # a repeated label needs a blank in between
                    same = nxt.setdefault(prefix, [0.0, 0.0])
                    same[1] += pnb * p
                else:
                    entry[1] += total * p
        ranked = sorted(nxt.items(), key=lambda kv: kv[1][0] + kv[1][1], reverse=True)[:beam]
        norm = sum(a + b for _, (a, b) in ranked) or 1e-30
        log_scale += float(np.log(norm))
        beams = {k: (a / norm, b / norm) for k, (a, b) in ranked}
    return [(k, float(np.log(a + b + 1e-30) + log_scale)) for k, (a, b) in beams.items()]


def forced_alignment(log_probs: np.ndarray, labels: Sequence[int]) -> list[tuple[int, int]]:
    """Viterbi CTC alignment: the (start, end) output frames of each label, for timing and confidence."""
    n_frames = len(log_probs)
    states = [0]
    for label in labels:
        states += [label, 0]
    n_states = len(states)
    score = np.full((n_frames, n_states), -np.inf)
    back = np.zeros((n_frames, n_states), np.int64)
    score[0, 0] = log_probs[0, 0]
    if n_states > 1:
        score[0, 1] = log_probs[0, states[1]]
    for t in range(1, n_frames):
        for s in range(n_states):
            options = [(score[t - 1, s], s)]
            if s >= 1:
                options.append((score[t - 1, s - 1], s - 1))
            if s >= 2 and states[s] != 0 and states[s] != states[s - 2]:
                options.append((score[t - 1, s - 2], s - 2))
            best, arg = max(options)
            score[t, s] = best + log_probs[t, states[s]]
            back[t, s] = arg
    end = n_states - 1 if n_states == 1 or score[-1, -1] >= score[-1, -2] else n_states - 2
    path = [end]
    for t in range(n_frames - 1, 0, -1):
        path.append(back[t, path[-1]])
    path.reverse()
    spans: list[list[int]] = [[n_frames, -1] for _ in labels]
    for t, s in enumerate(path):
        if s % 2 == 1:
            span = spans[s // 2]
            span[0], span[1] = min(span[0], t), max(span[1], t + 1)
    return [(a, b) if b > 0 else (0, 0) for a, b in spans]


class Decoder:
    """Posteriors -> Decoded words, with a rejection threshold and an optional grammar."""

    def __init__(
        self, labels: Sequence[str], min_confidence: float = 0.5, beam: int = 8, max_unknown: float = 1.0
    ) -> None:
        self.labels = list(labels)
        if self.labels[0] != BLANK:
            raise ValueError("label 0 must be the CTC blank")
        self.min_confidence = min_confidence
        self.beam = beam
        # An out-of-vocabulary word that sounds like a vocabulary word ("sixty" -> "six") often still puts
        # some <unk> probability on a frame; rejecting above this catches it (1.0 = off).
        self.max_unknown = max_unknown
        self.unk_index = self.labels.index(UNK) if UNK in self.labels else None

    def decode(self, log_probs: np.ndarray, grammar: Grammar | None = None) -> Decoded:
        log_probs = np.asarray(log_probs, np.float64)
        if len(log_probs) == 0:
            return Decoded()
        if grammar is None:
            ids = greedy_labels(log_probs)
            off_grammar = False
        else:
            ids, off_grammar = self._constrained(log_probs, grammar)
        if not ids:
            return Decoded()
        probs = softmax_from_log(log_probs)
        words = []
        for label, (start, end) in zip(ids, forced_alignment(log_probs, ids)):
            confidence = float(probs[start:end, label].max()) if end > start else 0.0
            words.append(Word(self.labels[label], confidence, start, end))
        unknown = float(probs[:, self.unk_index].max()) if self.unk_index is not None else 0.0
        decoded = self._judge(words, off_grammar, unknown)
        decoded.unknown = unknown
        return decoded

    def _constrained(self, log_probs: np.ndarray, grammar: Grammar) -> tuple[list[int], bool]:
        """Best beam hypothesis the grammar accepts; else the best overall, marked off-grammar."""
        allowed = np.array([lab in grammar.allowed or lab in (BLANK, UNK) for lab in self.labels])
        hyps = prefix_beam_search(log_probs, self.beam, allowed)
        hyps.sort(key=lambda h: h[1], reverse=True)
        heard = greedy_labels(log_probs)
        for ids, _ in hyps:
            names = [self.labels[i] for i in ids]
            if ids and UNK not in names and grammar.accepts(names):
                return list(ids), False
            if not ids and not heard:
                return [], False  # silence is always allowed
        return heard or (list(hyps[0][0]) if hyps else []), True

    def _judge(self, words: list[Word], off_grammar: bool, unknown: float = 0.0) -> Decoded:
        if any(w.word == UNK for w in words):
            return Decoded(words, True, "unknown word")
        if unknown > self.max_unknown:
            return Decoded(words, True, f"may be an unknown word (p={unknown:.2f})")
        if off_grammar:
            return Decoded(words, True, "not allowed by the grammar")
        weakest = min(w.confidence for w in words)
        if weakest < self.min_confidence:
            return Decoded(words, True, f"low confidence {weakest:.2f}")
        return Decoded(words, False)
