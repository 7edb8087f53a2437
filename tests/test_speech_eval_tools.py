"""The speech evaluation's bookkeeping: non-speech split by kind, and the calibration's upper bound."""

import sys

import pytest
from tool_import import TOOLS, import_tool

SPEECH_TOOLS = TOOLS / "speech"


def speech_tool(name: str):
    return import_tool("speech", name)


def test_nonspeech_false_accepts_are_split_into_noise_and_chatter(tmp_path):
    evaluate = speech_tool("evaluate")
    (tmp_path / "nonspeech").mkdir()
    kinds = ["hum", "babble", "music", "babble", "clanks", "alerts"]
    (tmp_path / "nonspeech" / "kinds.tsv").write_text("".join(f"{i:05d}.wav\t{k}\n" for i, k in enumerate(kinds)))
    assert evaluate.nonspeech_kinds(tmp_path, 0) == kinds
    hyps = ["", "seven", "up", "", "", ""]
    noise, chatter = evaluate.nonspeech_split(hyps, evaluate.nonspeech_kinds(tmp_path, 0))
    assert noise == pytest.approx(1 / 4) and chatter == pytest.approx(1 / 2)
    assert evaluate.nonspeech_kinds(tmp_path, 3) == ["hum", "music", "clanks"]  # the subsample load_set reads


def test_wilson_upper_bound_is_above_the_rate_and_shrinks_with_more_clips():
    calibrate = speech_tool("calibrate")  # imports make_data, which needs scipy (the train extra)

    assert calibrate.wilson_upper(0, 150) == pytest.approx(0.025, abs=1e-3)
    assert calibrate.wilson_upper(4, 150) == pytest.approx(0.0666, abs=1e-3)
    assert 0.05 < calibrate.wilson_upper(30, 600) < calibrate.wilson_upper(5, 100)


def test_importing_a_speech_tool_leaves_other_tools_importable():
    speech_tool("calibrate")
    assert str(SPEECH_TOOLS) not in sys.path
    assert not any(str(getattr(m, "__file__", "") or "").startswith(str(SPEECH_TOOLS)) for m in list(sys.modules.values()))
