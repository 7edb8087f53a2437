"""Domain validators: check digits, dates, expected values; confusable-aware voting."""

from __future__ import annotations

import pytest

from edge.errors import ConfigError
from edge.ocr.validators import date_sane, expected_values, get_validator, gs1_mod10, iso6346, luhn
from edge.ocr.voting import FrameVoter


@pytest.mark.parametrize("code,ok", [("4006381333931", True), ("4006381333932", False), ("96385074", True),
                                     ("abc", False), ("GTIN 4006381333931", True)])
def test_gs1(code, ok):
    assert gs1_mod10(code) is ok


@pytest.mark.parametrize("code,ok", [("79927398713", True), ("79927398710", False), ("4539 1488 0343 6467", True),
                                     ("SN-7921240", True), ("SN-7921241", False), ("SN", False)])
def test_luhn(code, ok):
    assert luhn(code) is ok


@pytest.mark.parametrize("code,ok", [("CSQU3054383", True), ("CSQU 305438 3", True), ("CSQU3054384", False),
                                     ("MSKU1234567", False)])
def test_iso6346(code, ok):
    assert iso6346(code) is ok


def test_dates():
    assert date_sane("EXP 12/03/2027")
    assert date_sane("2026-01-31")
    assert not date_sane("31/02/2027")
    assert not date_sane("12/03/1890")
    assert not date_sane("LOT 12")


def test_expected_values_ignore_case_and_spaces():
    check = expected_values(["LOT 2411-B07"])
    assert check("lot 2411-b07") and check("LOT2411-B07") and not check("LOT 2411-B08")


def test_validator_lookup_errors_are_config_errors():
    with pytest.raises(ConfigError):
        get_validator("crc32")
    with pytest.raises(ConfigError):
        get_validator("expected", [])
    assert get_validator(None) is None


def test_voting_ignores_one_bad_frame():
    voter = FrameVoter(window=5, min_agree=2)
    assert not voter.add("cam/0", "SN-7921240", 0.9).voted
    assert voter.add("cam/0", "SN-7921240", 0.9).voted
    blurred = voter.add("cam/0", "SN-7321240", 0.95)
    assert blurred.text == "SN-7921240" and blurred.voted
    assert voter.add("cam/1", "LOT 1", 0.5).agree == 1  # keys are independent


def test_voting_never_masks_a_new_label_with_the_previous_one():
    voter = FrameVoter(window=5, min_agree=2)
    for _ in range(3):
        voter.add("cam/serial", "SN-7921240", 0.9)
    new_part = voter.add("cam/serial", "SN-5868302", 0.9)
    assert new_part.text == "SN-5868302" and not new_part.voted
    assert voter.add("cam/serial", "SN-5868302", 0.9).voted
    with pytest.raises(ValueError):
        FrameVoter(window=2, min_agree=3)
