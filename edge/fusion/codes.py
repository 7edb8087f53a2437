"""The label conventions of the inspection task: serial numbers with a check digit and lot codes per batch.

Shared by the runtime (text features, `codes` in the inspection record) and by tools/fusion (the renderer
and data generator), so what the generator calls a wrong code is exactly what the runtime checks.

Serial: `SN-` + 6 digits + a Luhn (mod-10) check digit, e.g. SN-4821937.
Lot:    `LOT ` + 4-digit year-week + `-` + a line letter and 2 digits, e.g. LOT 2411-B07.
"""

from __future__ import annotations

import re

from edge.textdistance import edit_distance

SERIAL_RE = re.compile(r"^SN-(\d{6})(\d)$")
LOT_RE = re.compile(r"^LOT (\d{4}-[A-Z]\d{2})$")
CLASSES = ("ok", "label_missing", "print_defect", "wrong_code", "surface_defect")


def luhn_digit(digits: str) -> str:
    """Check digit that makes `digits + check` pass the Luhn test (catches one wrong or two swapped digits)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # doubled positions, counted from the right of the payload
            d = d * 2
            d = d - 9 if d > 9 else d
        total += d
    return str((10 - total % 10) % 10)


def make_serial(payload: str) -> str:
    """`SN-` + the 6-digit payload + its check digit."""
    return f"SN-{payload}{luhn_digit(payload)}"


def serial_valid(text: str) -> tuple[bool, bool]:
    """(matches the pattern, check digit correct)."""
    match = SERIAL_RE.match(text.strip())
    if not match:
        return False, False
    return True, luhn_digit(match.group(1)) == match.group(2)


def lot_of(text: str) -> str | None:
    """The lot id (`2411-B07`) if the text is a well-formed lot line, else None."""
    match = LOT_RE.match(text.strip())
    return match.group(1) if match else None


# Characters a recogniser mixes up on printed labels, mapped to one representative: comparing codes through
# this map separates "the OCR misread a good code" (O vs 0) from "the printed code is wrong" (another batch).
_CONFUSABLE = str.maketrans({"O": "0", "D": "0", "Q": "0", "I": "1", "L": "1", "T": "1", "7": "1", "S": "5",
                             "B": "8", "E": "8", "G": "6", "Z": "2", "A": "4", "_": "-"})
_DIGIT_OF = str.maketrans({"O": "0", "D": "0", "Q": "0", "I": "1", "L": "1", "T": "7", "S": "5", "B": "8",
                           "E": "8", "G": "6", "Z": "2", "A": "4"})


def confusable_form(text: str) -> str:
    return text.upper().replace(" ", "").translate(_CONFUSABLE)


def fuzzy_checks(serial_line: str | None, lot_line: str | None, expected_lots) -> dict:
    """The checks again, tolerant of confusable characters, plus the distance to the nearest expected lot."""
    serial_pattern, serial_check = False, False
    if serial_line:
        body = serial_line.upper().replace(" ", "")
        body = body[2:].lstrip("-_") if body.startswith("SN") else body
        digits = body.translate(_DIGIT_OF)
        if len(digits) == 7 and digits.isdigit():
            serial_pattern, serial_check = True, luhn_digit(digits[:6]) == digits[6]
    distance = 1.0
    if lot_line and expected_lots:
        body = lot_line.upper().replace(" ", "")
        body = body.removeprefix("LOT")
        distance = min(edit_distance(confusable_form(body), confusable_form(e)) for e in expected_lots) / 8.0
    elif lot_line and not expected_lots:
        distance = 0.0
    return {"serial_pattern_fuzzy": serial_pattern, "serial_check_fuzzy": serial_check,
            "lot_distance": round(min(distance, 1.0), 3)}


def check_codes(lines: list[str], expected_lots: list[str] | tuple[str, ...]) -> dict:
    """Find the serial and lot among OCR lines and say whether each is well formed and expected.

    Lines are matched by their prefix, so a line that starts like a serial but is malformed still counts as
    "the serial line" (and is reported as invalid) rather than being ignored.
    """
    serial_line = next((t.strip() for t in lines if t.strip().upper().startswith("SN")), None)
    lot_line = next((t.strip() for t in lines if t.strip().upper().startswith("LOT")), None)
    pattern_ok, check_ok = serial_valid(serial_line) if serial_line else (False, False)
    lot = lot_of(lot_line) if lot_line else None
    return {
        "serial": serial_line,
        "serial_pattern_ok": pattern_ok,
        "serial_check_ok": check_ok,
        "lot": lot_line,
        "lot_pattern_ok": lot is not None,
        "lot_expected": bool(lot is not None and (not expected_lots or lot in expected_lots)),
        **fuzzy_checks(serial_line, lot_line, list(expected_lots)),
    }
