"""What issue 32 asks of every caption: a Caption whose takeaway is one sentence of at most 25 words, and one
number style (no `e+`/`e-` exponents, no 'nan' or 'None')."""

from __future__ import annotations

import re

from resnet_viz.captions import MAX_TAKEAWAY_WORDS, Caption, words


def caption_problems(name: str, text) -> list[str]:
    """What is wrong with caption `name` (empty when nothing is)."""
    out = []
    if not isinstance(text, Caption):
        return [f"{name}: not a Caption: {text!r}"]
    t = text.takeaway
    if not t or words(t) > MAX_TAKEAWAY_WORDS:
        out.append(f"{name}: takeaway of {words(t)} words: {t!r}")
    if not t.endswith("."):
        out.append(f"{name}: takeaway does not end with a period: {t!r}")
    if re.search(r"\d[eE][+-]?\d", str(text)):
        out.append(f"{name}: an e-exponent: {text!r}")
    if re.search(r"\b(nan|None|inf)\b", str(text)):  # a formatted missing value ("NaN" in prose is fine)
        out.append(f"{name}: nan/None/inf: {text!r}")
    return out


def assert_captions(captions: dict) -> None:
    """Every caption of `captions` (name -> text) follows the rules."""
    problems = [p for name, text in captions.items() for p in caption_problems(name, text)]
    assert not problems, problems
