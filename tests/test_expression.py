import pytest
from hypothesis import given, settings, strategies as st

from edgemath.runtime.expression import (
    ExpressionError, answers_match, evaluate, parse_infix, parse_prefix, to_infix, to_prefix,
)


def test_prefix_round_trip_and_value():
    tree = parse_prefix("* n0 + n1 100")
    assert to_prefix(tree) == ["*", "n0", "+", "n1", "100"]
    assert evaluate(tree, [2, 3]) == 206
    assert to_infix(tree, [2, 3]) == "2 * (3 + 100)"


@pytest.mark.parametrize("bad,msg", [
    ("", "empty"), ("+ n0", "ends early"), ("n0 n1", "extra tokens"), ("+ n0 foo", "unknown token"),
])
def test_bad_prefix(bad, msg):
    with pytest.raises(ExpressionError, match=msg):
        parse_prefix(bad)


@pytest.mark.parametrize("expr,nums,msg", [
    ("/ n0 n1", [1, 0], "division by zero"),
    ("^ n0 n1", [10, 60], "overflow"),
    ("^ n0 n1", [2, 1000], "out of range"),
    ("+ n0 n3", [1, 2], "slot n3"),
    ("* n0 n1", [1e10, 1e10], "overflow"),
])
def test_evaluation_errors(expr, nums, msg):
    with pytest.raises(ExpressionError, match=msg):
        evaluate(parse_prefix(expr), nums)


def test_malformed_tree():
    with pytest.raises(ExpressionError, match="malformed"):
        evaluate(("%", "1", "2"), [])


@pytest.mark.parametrize("text,value", [
    ("316+230*(6-1)", 1466), ("120*80%*15%", 14.4), ("7((2)/(3))", 7 + 2 / 3), ("2^3^2", 512),
    ("-3+5", 2), ("(11-1)*2", 20),
])
def test_infix(text, value):
    assert evaluate(parse_infix(text), []) == pytest.approx(value)


def test_answers_match():
    assert answers_match(1.00001, 1.0) and not answers_match(1.01, 1.0) and not answers_match(None, 1.0)


_leaf = st.one_of(st.sampled_from(["n0", "n1", "n2"]), st.sampled_from(["1", "0", "100", "0.5"]))
_tree = st.recursive(_leaf, lambda t: st.tuples(st.sampled_from(list("+-*/^")), t, t), max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(_tree, st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=3))
def test_evaluator_total(tree, nums):
    """Any tree either evaluates to a finite float or raises ExpressionError; prefix round-trips."""
    assert parse_prefix(to_prefix(tree)) == tree
    try:
        v = evaluate(tree, nums)
    except ExpressionError:
        return
    assert v == v and abs(v) <= 1e15


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["+", "-", "*", "/", "^", "n0", "n1", "3", "x", ""]), max_size=12))
def test_parser_total(tokens):
    try:
        parse_prefix(tokens)
    except ExpressionError:
        pass
