"""One number style for every caption, report and JSON caption (issue 32).

- `num`: three significant digits; from 10⁴ up and below 10⁻³ as m×10ⁿ ("4.1×10⁴", "6×10⁻⁶"), never "4.13e+04";
- `pct`: a share or an accuracy ("95.3 %"); `points`: a difference of accuracies in percentage points
  ("−85.0 points"), never a relative "%";
- `times`: a ratio ("×60", "×1.6");
- `count`: a count in words with its noun ("one seed", "three nets", "1,437 images"; "1 point" is never plural);
- a missing value is `MISSING` ("—"), an overflowed one `OVERFLOW`; a caption that shows one says why nearby.
"""

from __future__ import annotations

import math

MISSING = "—"
OVERFLOW = "overflow"
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")


def _missing(v) -> str | None:
    if v is None:
        return MISSING
    v = float(v)
    if math.isnan(v):
        return MISSING
    if math.isinf(v):
        return OVERFLOW if v > 0 else "−" + OVERFLOW
    return None


def num(v, digits: int = 3) -> str:
    """`v` with `digits` significant digits; as m×10ⁿ from 10⁴ up and below 10⁻³ (0 stays "0")."""
    gone = _missing(v)
    if gone:
        return gone
    v = float(v)
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 1e4:
        text = f"{v:.{digits}g}"
        return text.replace("-", "−") if "e" not in text else _sci(v, digits)
    return _sci(v, digits)


def _sci(v: float, digits: int) -> str:
    e = math.floor(math.log10(abs(v)))
    m = round(v / 10 ** e, digits - 1)
    if abs(m) >= 10:  # 9.996 rounds up to 10.0
        m, e = m / 10, e + 1
    mant = f"{m:.{digits}g}".replace("-", "−")
    power = f"10{str(e).translate(_SUPERSCRIPT)}"
    return power if mant == "1" else "−" + power if mant == "−1" else f"{mant}×{power}"


def pct(v, digits: int = 1) -> str:
    """A share or an accuracy in [0, 1] as a percentage ("95.3 %")."""
    gone = _missing(v)
    return gone or f"{100 * float(v):.{digits}f} %".replace("-", "−")


def points(delta, digits: int = 1) -> str:
    """A difference of two accuracies (in [−1, 1]) in percentage points, signed ("−85.0 points", "+0.4 points")."""
    gone = _missing(delta)
    if gone:
        return gone
    d = 100 * float(delta)
    text = f"{d:+.{digits}f}".replace("-", "−")
    return f"{text} point" + ("" if abs(round(d, digits)) == 1 else "s")


def times(ratio, digits: int = 2) -> str:
    """A ratio as a factor ("×60", "×1.6", "×4.1×10⁴")."""
    gone = _missing(ratio)
    return gone or "×" + num(ratio, digits)


def count(n: int, noun: str, plural: str | None = None) -> str:
    """A count with its noun: words up to twelve ("one seed", "three nets"), digits beyond ("1,437 images")."""
    n = int(n)
    word = _WORDS[n] if 0 <= n < len(_WORDS) else f"{n:,}"
    return f"{word} {noun if n == 1 else plural or noun + 's'}"
