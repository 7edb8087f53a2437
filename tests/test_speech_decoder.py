"""CTC decoding: greedy, grammar-constrained, confidences, rejection of unknown and unsure words."""

from __future__ import annotations

import numpy as np
import pytest

from edge.speech.decoder import Decoder, Grammar, forced_alignment, prefix_beam_search

LABELS = [
    "<blank>",
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "oh",
    "yes",
    "no",
    "pass",
    "fail",
    "stop",
    "<unk>",
]
IDX = {w: i for i, w in enumerate(LABELS)}


def posteriors(frames: list[dict[str, float]]) -> np.ndarray:
    """Log-probs from per-frame dictionaries {label: probability}; the rest goes to blank."""
    out = np.full((len(frames), len(LABELS)), 1e-4)
    for t, frame in enumerate(frames):
        for word, p in frame.items():
            out[t, IDX[word]] = p
        out[t, 0] += max(0.0, 1.0 - out[t].sum())
    return np.log(out / out.sum(axis=1, keepdims=True))


def spike(word: str, p: float = 0.95, width: int = 2) -> list[dict[str, float]]:
    return [{word: p}] * width


SILENCE = [{}] * 3


def test_greedy_reads_a_sequence_with_repeats_and_times() -> None:
    lp = posteriors(SILENCE + spike("four") + SILENCE + spike("two") + [{}] + spike("two") + SILENCE)
    result = Decoder(LABELS).decode(lp)
    assert result.transcript == "four two two" and not result.rejected
    assert [(w.start_frame, w.end_frame) for w in result.words] == [(3, 5), (8, 10), (11, 13)]
    assert all(w.confidence == pytest.approx(0.95, abs=0.01) for w in result.words)


def test_nothing_said_is_empty_and_not_rejected() -> None:
    result = Decoder(LABELS).decode(posteriors(SILENCE * 4))
    assert result.transcript == "" and not result.rejected and result.words == []


def test_unknown_word_rejects_instead_of_guessing() -> None:
    lp = posteriors(SILENCE + spike("pass") + SILENCE + spike("<unk>") + SILENCE)
    result = Decoder(LABELS).decode(lp)
    assert result.rejected and result.transcript == "" and result.hypothesis == "pass <unk>"
    assert "unknown" in result.reason


def test_unknown_probability_rejects_a_near_miss_when_asked() -> None:
    # "sixty": a confident "six" whose tail still looks a little like an unknown word
    lp = posteriors(SILENCE + spike("six") + [{"<unk>": 0.3}] + SILENCE)
    assert Decoder(LABELS).decode(lp).transcript == "six"  # off by default
    result = Decoder(LABELS, max_unknown=0.2).decode(lp)
    assert result.rejected and result.transcript == "" and result.hypothesis == "six"
    assert "unknown" in result.reason
    assert Decoder(LABELS, max_unknown=0.4).decode(lp).transcript == "six"


def test_low_confidence_rejects() -> None:
    lp = posteriors(SILENCE + [{"seven": 0.45, "eight": 0.35}] + SILENCE)
    result = Decoder(LABELS, min_confidence=0.5).decode(lp)
    assert (
        result.rejected
        and result.hypothesis == "seven"
        and result.confidence == pytest.approx(0.45, abs=0.01)
    )
    assert Decoder(LABELS, min_confidence=0.4).decode(lp).transcript == "seven"


def test_grammar_picks_the_best_allowed_reading() -> None:
    # "fail" is slightly more likely than "pass" on its own, but only "pass <digit>" is allowed here
    lp = posteriors(SILENCE + [{"fail": 0.5, "pass": 0.45}] * 2 + SILENCE + spike("three") + SILENCE)
    grammar = Grammar(["pass <digit>", "(yes|no)"], LABELS)
    assert Decoder(LABELS).decode(lp).hypothesis == "fail three"
    result = Decoder(LABELS, min_confidence=0.3).decode(lp, grammar)
    assert result.transcript == "pass three" and not result.rejected


def test_grammar_never_makes_a_disallowed_word_confident() -> None:
    lp = posteriors(SILENCE + spike("stop", 0.97) + SILENCE)
    result = Decoder(LABELS).decode(lp, Grammar(["(yes|no)"], LABELS))
    assert result.rejected and result.transcript == ""


def test_grammar_patterns() -> None:
    g = Grammar(["<digit>{1,3}", "fail <digit>*", "stop?"], LABELS)
    assert g.accepts(["one"]) and g.accepts(["one", "two", "oh"]) and not g.accepts(["one"] * 4)
    assert g.accepts(["fail"]) and g.accepts(["fail", "nine", "nine"]) and not g.accepts(["pass"])
    assert g.accepts([]) and g.accepts(["stop"])
    with pytest.raises(ValueError, match="not in the model"):
        Grammar(["launch"], LABELS)
    with pytest.raises(ValueError, match="unknown class"):
        Grammar(["<colour>"], LABELS)


def test_beam_search_agrees_with_greedy_on_clear_input() -> None:
    lp = posteriors(SILENCE + spike("yes") + SILENCE + spike("nine") + SILENCE)
    best = max(prefix_beam_search(lp, beam=4), key=lambda h: h[1])
    assert [LABELS[i] for i in best[0]] == ["yes", "nine"]


def test_forced_alignment_spans() -> None:
    lp = posteriors([{}] + spike("one", width=3) + [{}] * 2 + spike("one") + [{}])
    assert forced_alignment(lp, [IDX["one"], IDX["one"]]) == [(1, 4), (6, 8)]
