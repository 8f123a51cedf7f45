import math

import pytest
from hypothesis import given, settings, strategies as st

from edgemath.runtime.numbers import extract_numbers, format_number

CASES = [
    ("Tom has 3 apples and buys 5 more.", [3, 5]),
    ("It costs 3,400 dollars.", [3400]),
    ("1,234,567.5 people", [1234567.5]),
    ("lists 1,2,3", [1, 2, 3]),
    ("0.5 and .25 and 12.", [0.5, 0.25, 12]),
    ("2 1/2 cups", [2.5]),
    ("ate (1/6) of it", [1 / 6]),
    ("运来1(5/6)吨面粉，卖了总数的(1/3)", [1 + 5 / 6, 1 / 3]),
    ("要5(1/4)小时", [5.25]),
    ("(2)(3/4)", [2, 0.75]),
    ("ate 3/4 of it", [0.75]),
    ("25% off", [25]),
    ("it was -7 degrees", [-7]),
    ("5-3", [5, 3]),
    ("5 - 3", [5, 3]),
    ("x=(11-1)*2", [11, 1, 2]),
    ("no numbers here", []),
    ("a 1/0 fraction", []),
    ("abc12 is a code", []),
    # after a "/" the divisor is read on its own, never as the start of a fraction (Math23k)
    ("（111*66-185*8）/37=．", [111, 66, 185, 8, 37]),
    ("计算：64.87*(2/15)/1996=．", [64.87, 2 / 15, 1996]),
    ("计算9999*4444/6666/2222的结果", [9999, 4444, 6666, 2222]),
    ("多少/7=23…3．", [7, 23, 3]),
    ("4/2.1的商", [4, 2.1]),
    ("12/25/2020", [12, 25, 2020]),
    # a fraction at a sentence's end is still a fraction (GSM8K: "increases that by 1/3.")
    ("He increases that by 1/3. How", [1 / 3]),
]


@pytest.mark.parametrize("text,values", CASES)
def test_extract_table(text, values):
    got = [n.value for n in extract_numbers(text)]
    assert got == pytest.approx(values)


def test_spans_and_percent():
    (n,) = extract_numbers("save 25% now")
    assert (n.start, n.end, n.text, n.percent) == (5, 8, "25%", True)


def test_format_number():
    assert format_number(56.0) == "56"
    assert format_number(0.5) == "0.5"
    assert format_number(-3.0) == "-3"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_crashes_and_spans_are_real(text):
    for n in extract_numbers(text):
        assert math.isfinite(n.value)
        assert text[n.start:n.end] == n.text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=6))
def test_integers_round_trip(values):
    text = " and ".join(f"{v} apples" for v in values)
    assert [n.value for n in extract_numbers(text)] == values
