"""CTC decoding: greedy, prefix beam search, exact likelihood, regex/charset-constrained decoding."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from edge.ocr import decode

CHARSET = "0123456789ABOS-"


def frames(*rows: dict[str, float], blank: float = 0.0) -> np.ndarray:
    """Log-probabilities from per-frame {char: prob} dicts ('_' = blank); the rest spread evenly."""
    classes = len(CHARSET) + 1
    out = np.zeros((len(rows), classes))
    for t, row in enumerate(rows):
        rest = 1.0 - sum(row.values())
        out[t, :] = max(rest, 1e-6) / classes
        for ch, p in row.items():
            out[t, 0 if ch == "_" else CHARSET.index(ch) + 1] = p
    out /= out.sum(axis=1, keepdims=True)
    return np.log(out)


def test_greedy_merges_repeats_and_drops_blanks():
    logp = frames({"A": 0.9}, {"A": 0.9}, {"_": 0.9}, {"A": 0.9}, {"B": 0.8}, {"_": 0.9})
    result = decode.greedy(logp, CHARSET)
    assert result.text == "AAB"
    assert len(result.char_confidences) == 3
    assert 0.7 < result.confidence < 1.0


def test_greedy_empty_line_has_zero_confidence():
    result = decode.greedy(frames({"_": 0.99}, {"_": 0.99}), CHARSET)
    assert result.text == "" and result.confidence == 0.0


def brute_force_likelihood(logp: np.ndarray, text: str) -> float:
    """Sum over every frame labelling that collapses to `text` (tiny T only)."""
    total = 0.0
    for path in itertools.product(range(logp.shape[1]), repeat=logp.shape[0]):
        collapsed, prev = [], -1
        for k in path:
            if k != prev and k != 0:
                collapsed.append(CHARSET[k - 1])
            prev = k
        if "".join(collapsed) == text:
            total += math.exp(sum(logp[t, k] for t, k in enumerate(path)))
    return total


@pytest.mark.parametrize("text", ["A", "AA", "AB", "0"])
def test_ctc_likelihood_matches_brute_force(text):
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(4, len(CHARSET) + 1))
    logp = decode.log_softmax(logits)
    labels = [CHARSET.index(c) + 1 for c in text]
    exact = math.exp(decode.ctc_log_likelihood(logp, labels))
    assert exact == pytest.approx(brute_force_likelihood(logp, text), rel=1e-6)


def test_beam_search_sums_paths_greedy_cannot():
    # Greedy picks blank-heavy frames; the beam finds that "A" has more total probability than "".
    logp = frames({"_": 0.4, "A": 0.35}, {"_": 0.4, "A": 0.35}, {"_": 0.4, "A": 0.35})
    best_text, best_logp = decode.beam_search(logp, CHARSET, beam=8)[0]
    assert decode.greedy(logp, CHARSET).text == ""
    assert best_text == "A"
    assert best_logp == pytest.approx(decode.ctc_log_likelihood(logp, [CHARSET.index("A") + 1]), abs=1e-9)


def test_regex_constraint_repairs_confusable_characters():
    # The image says "AB0" but the last frame leans to the letter O.
    logp = frames({"A": 0.95}, {"_": 0.9}, {"B": 0.95}, {"_": 0.9}, {"O": 0.55, "0": 0.4}, {"_": 0.9})
    assert decode.greedy(logp, CHARSET).text == "ABO"
    constrained = decode.decode_constrained(logp, CHARSET, pattern=r"[A-Z]{2}\d")
    assert constrained.text == "AB0" and constrained.matched is True
    assert len(constrained.char_confidences) == 3


def test_regex_constraint_reports_a_miss_instead_of_guessing():
    logp = frames({"A": 0.95}, {"_": 0.9}, {"B": 0.95})
    result = decode.decode_constrained(logp, CHARSET, pattern=r"\d{6}")
    assert result.matched is False and result.text == "AB"


def test_allowed_charset_excludes_letters():
    logp = frames({"S": 0.6, "5": 0.35}, {"_": 0.9}, {"1": 0.9})
    result = decode.decode_constrained(logp, CHARSET, allowed="0123456789")
    assert result.text == "51"


def test_forced_alignment_confidences_match_greedy_on_a_clean_line():
    logp = frames({"S": 0.9}, {"_": 0.9}, {"5": 0.8}, {"5": 0.7}, {"_": 0.9}, {"5": 0.95}, {"_": 0.9})
    greedy = decode.greedy(logp, CHARSET)
    constrained = decode.decode_constrained(logp, CHARSET, pattern=r"S\d+")
    assert greedy.text == constrained.text == "S55"
    assert constrained.char_confidences == pytest.approx(greedy.char_confidences, abs=1e-6)


def loop_greedy(logp: np.ndarray, charset: str) -> tuple[str, list[float]]:
    """The plain frame-by-frame definition the vectorised decoder must match."""
    chars, conf, prev = [], [], 0
    for row in logp:
        k, p = int(row.argmax()), float(np.exp(row.max()) / np.exp(row).sum())
        if k != 0 and k != prev:
            chars.append(charset[k - 1])
            conf.append(p)
        elif k != 0:
            conf[-1] = max(conf[-1], p)
        prev = k
    return "".join(chars), conf


@pytest.mark.parametrize("seed", range(20))
def test_greedy_matches_the_frame_by_frame_definition(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (int(rng.integers(0, 40)), len(CHARSET) + 1))
    logits[:, 0] += rng.normal(1, 1)  # plenty of blanks, so runs and gaps both occur
    text, conf = loop_greedy(logits, CHARSET)
    result = decode.greedy(decode.log_softmax(logits), CHARSET)
    assert result.text == text
    assert result.char_confidences == pytest.approx(conf, rel=1e-9)
