"""bench/error_classes.py: wrong answers by kind, accuracy by gold length and by gold shape."""
import importlib.util
from pathlib import Path

import pytest

from edgemath.runtime.expression import parse_prefix

spec = importlib.util.spec_from_file_location("error_classes", Path(__file__).parents[1] / "bench" / "error_classes.py")
ec = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ec)


@pytest.mark.parametrize("pred,gold,kind", [
    ("", "+ n0 n1", "no equation"),
    ("+ n0 n1", "* + n0 n1 n2", "fewer operations than gold"),
    ("* + n0 n1 n2", "+ n0 n1", "more operations than gold"),
    ("+ n0 n2", "+ n0 n1", "other numbers or constants"),
    ("- n0 n1", "+ n0 n1", "other operators"),
    ("- n1 n0", "- n0 n1", "same numbers and operators, other order"),
])
def test_error_class(pred, gold, kind):
    assert ec.error_class(pred.split(), gold.split()) == kind


@pytest.mark.parametrize("eq,two", [("* + n0 n1 - n2 n3", True), ("* + n0 n1 n2", False), ("n0", False),
                                    ("- n0 * + n1 n2 / n3 n4", True), ("/ n0 - 1 * n1 n2", False)])
def test_two_computed_operands(eq, two):
    assert ec.two_computed_operands(parse_prefix(eq.split())) is two


def test_length_and_shape_tables():
    equations = {"a": "+ n0 n1".split(), "b": "* + n0 n1 - n2 n3".split(), "c": "* + n0 n1 n2".split(),
                 "d": "+ + + + + n0 n1 n2 n3 n4 n5".split()}
    preds = [{"id": "a", "correct": True}, {"id": "b", "correct": False}, {"id": "c", "correct": True},
             {"id": "d", "correct": False}]
    assert ec.length_table(preds, equations, longest=3) == [
        {"operations": "1", "problems": 1, "accuracy": 100.0, "wrong": 0},
        {"operations": "2", "problems": 1, "accuracy": 100.0, "wrong": 0},
        {"operations": "3+", "problems": 2, "accuracy": 0.0, "wrong": 2}]
    assert ec.shape_table(preds, equations) == [
        {"shape": "a chain", "problems": 3, "accuracy": 66.67, "wrong": 1},
        {"shape": "two computed operands", "problems": 1, "accuracy": 0.0, "wrong": 1}]
