"""Domain checks beyond a regex: check digits (GS1 mod-10, ISO 6346, Luhn), date sanity, expected values.

A wrong character in a serial usually breaks its check digit, so a validator turns "probably right" into
"verified" or "rejected" before a record reaches the MES.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable

from edge.errors import ConfigError

Validator = Callable[[str], bool]


def gs1_mod10(code: str) -> bool:
    """GTIN-8/12/13/14, SSCC, GLN: the last digit is the GS1 mod-10 check digit (over the digits present,
    so a printed prefix such as 'GTIN ' is allowed; the region's pattern fixes the layout)."""
    digits = re.sub(r"\D", "", code)
    if len(digits) < 2:
        return False
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def luhn(code: str) -> bool:
    """Luhn (mod 10) as used by card numbers, IMEIs and many serials (over the digits present: 'SN-7921240')."""
    digits = re.sub(r"\D", "", code)
    if len(digits) < 2:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


_ISO6346_VALUES = {}
_value = 10
for _letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    if _value % 11 == 0:
        _value += 1
    _ISO6346_VALUES[_letter] = _value
    _value += 1


def iso6346(code: str) -> bool:
    """Shipping container code: 3-letter owner, category letter (U/J/Z/R), 6 digits, check digit."""
    text = re.sub(r"[\s-]", "", code.upper())
    if not re.fullmatch(r"[A-Z]{3}[UJZR]\d{7}", text):
        return False
    total = sum((_ISO6346_VALUES[c] if c.isalpha() else int(c)) * (2 ** i) for i, c in enumerate(text[:10]))
    return total % 11 % 10 == int(text[10])


_DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d.%m.%Y", "%d.%m.%y", "%d-%m-%Y", "%d/%m/%y", "%m/%y", "%m/%Y",
                 "%d %b %Y", "%Y%m%d", "%Y-%m", "%m-%Y", "%Y/%m")


def parse_date(text: str) -> dt.date | None:
    cleaned = " ".join(text.strip().split())
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    return None


def date_sane(text: str, min_year: int = 2000, max_years_ahead: int = 15) -> bool:
    """A real calendar date between `min_year` and a few years from today (expiry dates are ahead)."""
    match = re.search(r"\d{1,4}[./-]\d{1,2}(?:[./-]\d{2,4})?|\d{1,2} [A-Za-z]{3} \d{4}", text)
    date = parse_date(match.group(0)) if match else None
    if date is None:
        return False
    return min_year <= date.year <= dt.date.today().year + max_years_ahead


def expected_values(values: Iterable[str]) -> Validator:
    """The text must be one of a list (e.g. the part numbers a station handles), ignoring case and spaces."""
    allowed = {"".join(v.split()).upper() for v in values}
    return lambda text: "".join(text.split()).upper() in allowed


BUILTIN: dict[str, Validator] = {"gs1": gs1_mod10, "luhn": luhn, "iso6346": iso6346, "date": date_sane}


def get_validator(name: str | None, values: Iterable[str] | None = None) -> Validator | None:
    """Look a validator up by config name; `expected` needs `values`."""
    if name is None:
        return None
    if name == "expected":
        if not values:
            raise ConfigError("ocr validator 'expected' needs a non-empty `expected_values` list")
        return expected_values(values)
    if name not in BUILTIN:
        raise ConfigError(
            f"unknown ocr validator '{name}'; choose one of {', '.join(sorted([*BUILTIN, 'expected']))}"
        )
    return BUILTIN[name]
