"""`edge ocr` as the lead's CLI calls it: run(args) built from add_arguments()."""

from __future__ import annotations

import argparse
import io
import json
import shutil
from pathlib import Path

import pytest

from edge.ocr import cli

FIXTURES = Path(__file__).parent / "fixtures" / "ocr"
LABELS = dict(line.split("\t") for line in (FIXTURES / "labels.tsv").read_text().splitlines())


@pytest.fixture(autouse=True)
def no_site_config(monkeypatch):
    monkeypatch.delenv("EDGE_CONFIG", raising=False)


def call(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(list(argv))
    args.config, args.verbose = None, False
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_crop_mode_tsv_rows_in_input_order():
    names = ["line_serial.png", "line_lot.png", "line_exp.png"]
    code, out, err = call("--crop", *[str(FIXTURES / n) for n in names])
    assert code == 0, err
    rows = [line.split("\t") for line in out.splitlines()]
    assert [r[0] for r in rows] == [str(FIXTURES / n) for n in names]
    assert all(len(r) == 3 and 0.0 <= float(r[2]) <= 1.0 for r in rows)
    exact = sum(r[1] == LABELS[n] for r, n in zip(rows, names))
    assert exact >= 2, rows


def test_folder_is_expanded_sorted_and_joined(tmp_path):
    for name in ("b.png", "a.png"):
        shutil.copy(FIXTURES / "line_lot.png", tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image, and not listed")
    code, out, _ = call("--crop", str(tmp_path))
    assert code == 0
    assert [line.split("\t")[0] for line in out.splitlines()] == [str(tmp_path / "a.png"), str(tmp_path / "b.png")]


def test_bad_files_are_reported_and_the_rest_still_read(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    fake = tmp_path / "fake.jpg"
    fake.write_text("this is text")
    good = FIXTURES / "line_lot.png"
    code, out, err = call("--crop", str(empty), str(good), str(fake), str(tmp_path / "missing.png"))
    assert code != 0
    assert [line.split("\t")[0] for line in out.splitlines()] == [str(good)]
    messages = err.strip().splitlines()
    assert any("empty.png: empty file" in m for m in messages)
    assert any("fake.jpg: not a readable image" in m for m in messages)
    assert any("missing.png: no such file" in m for m in messages)
    assert all("Traceback" not in m for m in messages)


def test_pattern_and_json_output():
    code, out, _ = call("--crop", "--format", "json", "--pattern", r"LOT \d{4}[A-Z]", str(FIXTURES / "line_lot.png"))
    assert code == 0
    record = json.loads(out)
    assert record["text"] == "LOT 4821A"
    assert record["lines"][0]["valid"] is True and record["lines"][0]["validator"] == "pattern"
    assert len(record["lines"][0]["char_confidences"]) == len(record["text"])


def test_full_image_lines_joined_top_to_bottom():
    code, out, _ = call(str(FIXTURES / "label_two_lines.png"))
    assert code == 0
    _path, text, _confidence = out.rstrip("\n").split("\t")
    # what this checks is the order of the two lines; v1.3.0 reads the first as "LOT7734B" (space lost)
    assert text.startswith("LOT") and "EXP" in text
    assert text.index("LOT") < text.index("EXP")


def test_precision_fp32_reads_too():
    code, out, _ = call("--crop", "--precision", "fp32", str(FIXTURES / "line_exp.png"))
    assert code == 0 and out.split("\t")[1] == LABELS["line_exp.png"]


def test_huge_image_is_refused_with_a_clear_message(tmp_path):
    import cv2
    import numpy as np

    huge = tmp_path / "huge.png"
    cv2.imwrite(str(huge), np.zeros((7800, 7800), np.uint8))  # 61 MP, a few KB as PNG
    code, out, err = call("--crop", str(huge))
    assert code != 0 and out == ""
    assert "too large" in err and "Traceback" not in err
