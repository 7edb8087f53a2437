"""The committed OCR models: manifest entry, checksums, metadata, INT8-vs-FP32 acceptance, settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edge.config import EdgeConfig
from edge.errors import ModelError
from edge.ocr.acceptance import check_int8_against_fp32
from edge.ocr.charset import CHARSET
from edge.ocr.recognizer import REQUIRED_METADATA, Recognizer
from edge.ocr.settings import OcrConfig
from edge.runtime import load_manifest, read_metadata


@pytest.fixture(scope="module")
def manifest():
    return load_manifest()


def test_manifest_lists_both_precisions_with_matching_files(manifest):
    entry = manifest.models["ocr"]
    for precision in ("int8", "fp32"):
        model = manifest.file("ocr", precision)
        model.verify()
        assert model.path.stat().st_size == entry["files"][precision]["bytes"]
        meta = read_metadata(model.path)
        assert set(REQUIRED_METADATA) <= set(meta)
        assert meta["charset"] == CHARSET and meta["input_height"] == "32"
    assert manifest.file("ocr", "int8").path.stat().st_size <= 3_000_000
    assert "recipe" in entry and "metrics" in entry and "golden" in entry


def test_int8_passes_the_golden_acceptance_check(manifest):
    summary = check_int8_against_fp32(manifest, EdgeConfig())
    assert "golden lines" in summary


def test_acceptance_refuses_when_int8_is_worse(manifest, monkeypatch):
    from edge.ocr import acceptance

    real_cer = acceptance._cer
    def worse_int8(recognizer, images, labels):
        value = real_cer(recognizer, images, labels)
        return value + 0.5 if recognizer.session.path.name.endswith("int8.onnx") else value

    monkeypatch.setattr(acceptance, "_cer", worse_int8)
    with pytest.raises(ModelError, match="ocr.precision: fp32"):
        check_int8_against_fp32(manifest, EdgeConfig())


def test_constrained_decoding_on_the_model(manifest):
    from pathlib import Path

    import cv2

    image = cv2.imread(str(Path(__file__).parent / "fixtures" / "ocr" / "line_serial.png"))
    recognizer = Recognizer.from_manifest(manifest, "int8", providers=["cpu"])
    result = recognizer.recognize([image], pattern=r"SN [A-Z]{2}\d{6}")[0]
    assert result.matched and result.text == "SN AB123456"
    assert 0.5 < result.confidence <= 1.0


def test_settings_reject_bad_regex_and_missing_expected_values():
    with pytest.raises(ValidationError):
        OcrConfig(regions=[{"name": "serial", "pattern": "SN-(\\d{7}"}])
    with pytest.raises(ValidationError):
        OcrConfig(regions=[{"name": "lot", "validator": "expected"}])
    with pytest.raises(ValidationError):
        OcrConfig(vote_frames=2, vote_min=3)
