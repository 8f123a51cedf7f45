"""Number extraction from raw problem text.

The same function reads numbers at training time (to build number slots from dataset text)
and at solving time (from a user's text), so the two can never disagree.

A number is taken as written: "25%" is 25 with ``percent=True`` (the solver learns the
/100 step, as the English datasets annotate it), or 0.25 with ``percent_fraction`` (a model
trained so, e.g. on Math23k, where a percent is a problem's most common number form), "(1/6)" and "1/2" are one fraction
quantity, "2 1/2" and Math23k's "1(5/6)" one mixed number, "3,400" is 3400, "-2.5" is negative when the minus sign is not a binary operator.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["Number", "extract_numbers", "format_number"]

# Order matters: the longest forms first (mixed fraction, parenthesised fraction, fraction,
# thousands-separated, decimal, integer). A leading "-" is part of the number only when it is
# not preceded by something an operator could follow (a digit, letter, closing bracket). After a
# "/" a number is read on its own ("(2/15)/1996", "9999*4444/6666/2222", "多少/7": the divisor is
# a number of the problem), never as the start of a fraction.
_NUMBER = re.compile(
    r"""
    (?<![A-Za-z0-9_.])                             # not glued to a latin word or a decimal
    (?P<sign>-(?=[\d.(]))?
    (?:
        (?<!/)(?P<mixed_whole>\d+)\s+(?P<mixed_num>\d+)/(?P<mixed_den>\d+)(?![\d/])
      | (?P<pmixed_whole>\d+)\((?P<pmixed_num>\d+)/(?P<pmixed_den>\d+)\)     # Math23k: 1(5/6)
      | \((?P<pnum>\d+(?:\.\d+)?)/(?P<pden>\d+(?:\.\d+)?)\)
      | (?<!/)(?P<num>\d+)/(?P<den>\d+)(?![\d/]|\.\d)  # a/b, not inside a/b/c or a/b.5 (a/b. ends a sentence)
      | (?P<thousands>\d{1,3}(?:,\d{3})+(?:\.\d+)?)(?![\d,]*\d)
      | (?P<decimal>\d*\.\d+|\d+(?:\.\d+)?)
    )
    (?P<percent>%)?
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Number:
    """One quantity found in text: its value, character span and surface form."""

    value: float
    start: int
    end: int
    text: str
    percent: bool = False


def _sign_allowed(text: str, start: int) -> bool:
    """A "-" is a sign unless it reads as a binary minus: glued to a word ("a-4") or after a
    value ("5 - 3", "(2) -1")."""
    if start and text[start - 1].isalnum():
        return False
    prev = text[:start].rstrip()
    return not prev or not (prev[-1].isdigit() or prev[-1] in ").%")


def extract_numbers(text: str, percent_fraction: bool = False) -> list[Number]:
    """All numbers in ``text`` in order of appearance; with ``percent_fraction`` a percent's value
    is its fraction ("25%" -> 0.25). Never raises on any string."""
    out: list[Number] = []
    for m in _NUMBER.finditer(text):
        g = m.groupdict()
        whole = g["mixed_whole"] or g["pmixed_whole"]
        if whole is not None:
            num, den = (g["mixed_num"], float(g["mixed_den"])) if g["mixed_whole"] else (g["pmixed_num"], float(g["pmixed_den"]))
            if den == 0:
                continue
            value = float(whole) + float(num) / den
        elif g["pnum"] is not None:
            den = float(g["pden"])
            if den == 0:
                continue
            value = float(g["pnum"]) / den
        elif g["num"] is not None:
            den = float(g["den"])
            if den == 0:
                continue
            value = float(g["num"]) / den
        elif g["thousands"] is not None:
            value = float(g["thousands"].replace(",", ""))
        else:
            value = float(g["decimal"])
        start = m.start()
        if g["sign"]:
            if _sign_allowed(text, start):
                value = -value
            else:
                start += 1
        if percent_fraction and g["percent"]:
            value /= 100
        if not math.isfinite(value):
            continue
        out.append(Number(value, start, m.end(), text[start : m.end()], bool(g["percent"])))
    return out


def format_number(value: float) -> str:
    """Shortest faithful text for a value: 56.0 -> "56", 0.5 -> "0.5"."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))
