"""The label conventions of the inspection task: serial numbers with a check digit and lot codes per batch.

Shared by the runtime (text features, `codes` in the inspection record) and by tools/fusion (the renderer
and data generator), so what the generator calls a wrong code is exactly what the runtime checks.

Serial: `SN-` + 6 digits + a Luhn (mod-10) check digit, e.g. SN-4821937.
Lot:    `LOT ` + 4-digit year-week + `-` + a line letter and 2 digits, e.g. LOT 2411-B07.
"""

from __future__ import annotations

import re

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
    }
