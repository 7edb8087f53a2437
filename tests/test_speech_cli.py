"""`edge listen` on files: TSV/JSON rows, conversions, per-file errors, and the committed model's answers."""

from __future__ import annotations

import argparse
import json
import wave
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from edge.sources.audio import read_wav, resample, write_wav
from edge.speech import cli

FIXTURES = Path(__file__).parent / "fixtures" / "speech"


def expected(path: Path) -> str:
    stem = path.stem.split("__")[0]
    return "" if stem.startswith("oov_") else stem.replace("_", " ")


def listen(capsys, *paths, fmt: str = "tsv", grammar=None) -> tuple[int, list[str], str]:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    argv = [str(p) for p in paths] + ["--format", fmt] + [a for g in grammar or [] for a in ("--grammar", g)]
    args = parser.parse_args(argv)
    args.config, args.verbose = None, False
    code = cli.run(args)
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_committed_model_recognises_the_fixtures(capsys) -> None:
    code, lines, err = listen(capsys, FIXTURES)
    assert code == 0 and err == ""
    files = sorted(FIXTURES.glob("*.wav"))
    assert [line.split("\t")[0] for line in lines] == [str(FIXTURES / f.name) for f in files]
    for line, path in zip(lines, files):
        _, transcript, confidence = line.split("\t")
        assert transcript == expected(path), line
        assert 0.0 <= float(confidence) <= 1.0


def write_pcm(path: Path, samples: np.ndarray, rate: int, channels: int, width: int) -> None:
    frames = np.repeat(samples[:, None], channels, axis=1)
    if width == 1:
        data = (np.clip(frames, -1, 1) * 127 + 128).astype(np.uint8).tobytes()
    else:
        data = (np.clip(frames, -1, 1) * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)


def test_converts_rate_channels_and_width_and_reports_bad_files(tmp_path, capsys) -> None:
    samples, rate = read_wav(FIXTURES / "pass__scotland.wav")
    write_pcm(tmp_path / "a_stereo_44k.wav", resample(samples, rate, 44100), 44100, 2, 2)
    write_pcm(tmp_path / "b_8bit.wav", samples, rate, 1, 1)
    write_pcm(tmp_path / "c_8khz.wav", resample(samples, rate, 8000), 8000, 1, 2)
    (tmp_path / "d_empty.wav").write_bytes(b"")
    (tmp_path / "e_corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage" + bytes(range(40)))
    write_pcm(tmp_path / "f_no_samples.wav", np.zeros(0, np.float32), 16000, 1, 2)
    code, lines, err = listen(capsys, tmp_path, tmp_path / "missing.wav")
    assert code == 6
    assert [line.split("\t")[:2] for line in lines] == [
        [str(tmp_path / "a_stereo_44k.wav"), "pass"],
        [str(tmp_path / "b_8bit.wav"), "pass"],
        [str(tmp_path / "c_8khz.wav"), "pass"],
    ]
    problems = err.strip().splitlines()
    assert len(problems) == 4 and all(p.startswith("edge listen: ") for p in problems)
    assert "d_empty.wav: empty file" in problems[0]
    assert (
        "e_corrupt.wav" in problems[1] and "f_no_samples.wav" in problems[2] and "missing.wav" in problems[3]
    )


def test_silence_gives_an_empty_transcript(tmp_path, capsys) -> None:
    write_wav(
        tmp_path / "quiet.wav",
        np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 1e-4,
        16000,
    )
    code, lines, _ = listen(capsys, tmp_path / "quiet.wav")
    assert code == 0 and lines == [f"{tmp_path / 'quiet.wav'}\t\t0.000"]


def test_json_has_words_times_and_rejections(capsys) -> None:
    code, lines, _ = listen(
        capsys, FIXTURES / "nine_one__scotland.wav", FIXTURES / "oov_coffee__scotland.wav", fmt="json"
    )
    assert code == 0
    digits, oov = (json.loads(line) for line in lines)
    assert digits["transcript"] == "nine one" and not digits["rejected"]
    words = digits["utterances"][0]["words"]
    assert [w["word"] for w in words] == ["nine", "one"]
    assert all(a["end"] <= b["start"] + 0.05 for a, b in pairwise(words))
    assert oov["transcript"] == "" and oov["rejected"] and oov["utterances"][0]["heard"]


def test_grammar_option_rejects_what_it_does_not_allow(capsys) -> None:
    code, lines, _ = listen(
        capsys, FIXTURES / "pass__scotland.wav", FIXTURES / "stop__caribbean.wav", grammar=["(pass|fail)"]
    )
    assert code == 0
    assert [line.split("\t")[1] for line in lines] == ["pass", ""]


def test_bad_grammar_is_a_clear_error(capsys) -> None:
    from edge.errors import InputError

    with pytest.raises(InputError, match="launch.*not in the model's vocabulary"):
        listen(capsys, FIXTURES / "pass__scotland.wav", grammar=["launch"])
