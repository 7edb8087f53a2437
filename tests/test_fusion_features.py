"""OCR and speech event data -> fusion model inputs, including "not running" vs "ran and found nothing"."""

import numpy as np

from edge.fusion.features import (
    CHARSET,
    MAX_CHARS,
    SPEECH_DIM,
    TEXT_DIM,
    VOCABULARY,
    merge_speech,
    speech_features,
    text_features,
)
from edge.fusion.record import label_from_words


def _ocr(*lines, conf=0.95):
    return {"text": " ".join(lines), "confidence": conf, "voted": False,
            "lines": [{"text": t, "confidence": conf, "char_confidences": [conf] * len(t), "box": [0, 0, 1, 1],
                       "valid": None, "validator": None} for t in lines]}


def test_text_features_flag_the_codes():
    good, chars, conf, codes = text_features(_ocr("SN-4821930", "LOT 2411-B07"), ["2411-B07"])
    assert good.shape == (TEXT_DIM,) and chars.shape == conf.shape == (MAX_CHARS,)
    assert codes["serial_pattern_ok"] and codes["lot_expected"] and good[1:7].tolist() == [1, 1, 1, 1, 1, 1]
    assert chars[0] == CHARSET.index("S") + 2 and conf[0] == np.float32(0.95)
    _, _, _, bad_check = text_features(_ocr("SN-4821938", "LOT 2411-B07"), ["2411-B07"])
    assert bad_check["serial_pattern_ok"] and not bad_check["serial_check_ok"]
    _, _, _, other_lot = text_features(_ocr("SN-4821930", "LOT 2410-B07"), ["2411-B07"])
    assert other_lot["lot_pattern_ok"] and not other_lot["lot_expected"]


def test_text_features_without_lines_and_without_ocr():
    empty, chars, _, codes = text_features({"text": "", "confidence": 0.0, "lines": []}, ["2411-B07"])
    missing, _, _, _ = text_features(None, ["2411-B07"])
    assert not empty.any() and not chars.any() and codes["serial"] is None
    assert not missing.any()


def test_line_confidence_only_is_spread_over_characters():
    event = {"lines": [{"text": "SN-4821937", "confidence": 0.5}]}
    feats, _, conf, _ = text_features(event, [])
    assert feats[7] == np.float32(0.5) and conf[:10].tolist() == [0.5] * 10


def test_speech_features_bag_of_words_and_fail_code():
    speech = {"words": [{"word": "fail", "confidence": 0.9}, {"word": "three", "confidence": 0.8},
                        {"word": "banana", "confidence": 0.99}], "confidence": 0.8, "rejected": False}
    feats, words = speech_features(speech)
    assert feats.shape == (SPEECH_DIM,) and words == ["fail", "three"]
    assert feats[VOCABULARY.index("fail")] == np.float32(0.9)
    assert feats[len(VOCABULARY) + 2 + 3] == np.float32(0.8)  # the "fail 3" slot
    rejected, heard = speech_features({**speech, "rejected": True})
    assert not rejected.any() and heard == []


def test_merge_speech_keeps_order_and_drops_rejected():
    a = {"words": [{"word": "fail", "confidence": 0.9}], "transcript": "fail", "confidence": 0.9, "rejected": False}
    b = {"words": [{"word": "two", "confidence": 0.7}], "transcript": "two", "confidence": 0.7, "rejected": False}
    c = {"words": [{"word": "pass", "confidence": 0.3}], "transcript": "", "confidence": 0.3, "rejected": True}
    merged = merge_speech([a, c, b])
    assert [w["word"] for w in merged["words"]] == ["fail", "two"]
    assert merge_speech([]) is None
    assert merge_speech([c])["words"] == []


def test_voice_labels():
    assert label_from_words(["pass"]) == ("ok", "pass")
    assert label_from_words(["fail", "four"]) == ("surface_defect", "fail four")
    assert label_from_words(["fail"]) == (None, "fail")
    assert label_from_words(["fail", "two", "no", "pass"]) == ("ok", "pass")
    assert label_from_words(["next"]) == (None, None)


def test_confusable_tolerant_checks_tell_misreads_from_wrong_codes():
    from edge.fusion.codes import check_codes, edit_distance

    assert edit_distance("2411-B07", "2411-807") == 1
    misread = check_codes(["SN-4821930", "LOT 2411-807"], ["2411-B07"])  # B read as 8: still the expected lot
    assert not misread["lot_pattern_ok"] and misread["lot_distance"] == 0.0
    other = check_codes(["SN-4821930", "LOT 2347-G03"], ["2411-B07"])  # really another batch
    assert other["lot_distance"] >= 0.5
    letters = check_codes(["SN-48Z193O"], [])  # Z/O for 2/0: the check digit holds once read as digits
    assert not letters["serial_pattern_ok"] and letters["serial_pattern_fuzzy"] and letters["serial_check_fuzzy"]
