"""Equivalent gold equations: every form has the original's value, forms are distinct step
sequences, and training without the option sees exactly the annotated form."""
import random

import pytest

from edgemath.data import Problem
from edgemath.equivalents import Alternatives, equivalent_trees
from edgemath.runtime.expression import evaluate, parse_prefix

NUMBERS = [7.0, 3.0, 5.0, 2.0]


@pytest.mark.parametrize("prefix", ["+ + n0 n1 n2", "- - n0 n1 n2", "/ * n0 n1 n2", "- + n0 n1 * n2 n3",
                                    "/ / n0 n1 n2", "+ n0 - n1 n2", "* n0 / n1 n2"])
def test_every_form_has_the_same_value(prefix):
    tree = parse_prefix(prefix.split())
    forms = equivalent_trees(tree, NUMBERS)
    assert forms[0] == tree and len(forms) == len(set(forms)) > 1
    for t in forms:
        assert evaluate(t, NUMBERS) == pytest.approx(evaluate(tree, NUMBERS))


def test_known_identities_are_found():
    forms = equivalent_trees(parse_prefix("- - n0 n1 n2".split()), NUMBERS)
    assert ("-", "n0", ("+", "n1", "n2")) in forms
    forms = equivalent_trees(parse_prefix("/ * n0 n1 n2".split()), NUMBERS)
    assert ("*", "n0", ("/", "n1", "n2")) in forms


def test_non_identities_are_not_produced():
    # a - (b - c) is not (a - b) - c; a / (b / c) is not (a / b) / c
    for prefix, wrong in (("- n0 - n1 n2", ("-", ("-", "n0", "n1"), "n2")),
                          ("/ n0 / n1 n2", ("/", ("/", "n0", "n1"), "n2"))):
        assert wrong not in equivalent_trees(parse_prefix(prefix.split()), NUMBERS)


def test_leaf_has_one_form():
    assert equivalent_trees("n0", NUMBERS) == ["n0"]


def test_alternatives_in_examples():
    from edgemath.features import make_examples
    from edgemath.model import DecoderConfig
    from edgemath.runtime.tokenize import Encoded

    from edgemath.runtime.numbers import extract_numbers

    class Tok:  # three numbers, one token each, as the runtime's tokenizer reports them
        def encode(self, text):
            return Encoded(ids=[0, 1, 2, 3, 4], numbers=extract_numbers(text), spans=[(1, 2), (2, 3), (3, 4)],
                           truncated=False)

    p = Problem("p", "1 2 3", [1.0, 2.0, 3.0], "+ + n0 n1 n2".split(), 6.0, "t")
    cfg = DecoderConfig()
    plain, _ = make_examples([p], Tok(), cfg)
    assert not isinstance(plain[0][1], Alternatives)
    alts, _ = make_examples([p], Tok(), cfg, equivalents=4)
    forms = alts[0][1]
    assert isinstance(forms, Alternatives) and forms[0] == plain[0][1] and 1 < len(forms) <= 4
    assert len({tuple(f) for f in forms}) == len(forms)
    rng = random.Random(0)
    assert {tuple(forms.pick(rng)) for _ in range(200)} == {tuple(f) for f in forms}
