"""Equivalent gold equations: the other ways to write a problem's equation one operation at a time.

A deductive decoder is taught one order of operations per problem, yet ``(a + b) + c``,
``a + (b + c)`` and ``(a + c) + b`` are all right, and so are both orders of two independent
sub-results. Training on one arbitrary form penalises the others; with ``--equivalents K`` each
epoch teaches one of up to K forms, drawn at random. The forms come from exact identities of the
reals (commutativity, associativity, ``(a - b) - c = a - (b + c)``, ``(a * b) / c = a * (b / c)``
and their kin), and every form is also checked to evaluate to the original's value.
"""
from __future__ import annotations

import random
from typing import Sequence

from edgemath.runtime.expression import ExpressionError, Tree, answers_match, evaluate, is_slot, slot_index

_SEARCH = 64
"""Trees explored per problem: a long chain of sums has factorially many bracketings."""


def _root_rewrites(t: Tree) -> list[Tree]:
    """Trees equal to ``t`` by one identity applied at its root."""
    if isinstance(t, str):
        return []
    op, a, b = t
    out: list[Tree] = []
    if op in "+*":
        out.append((op, b, a))
        if not isinstance(a, str) and a[0] == op:  # (x op y) op b -> x op (y op b)
            out.append((op, a[1], (op, a[2], b)))
        if not isinstance(b, str) and b[0] == op:  # a op (x op y) -> (a op x) op y
            out.append((op, (op, a, b[1]), b[2]))
    inverse = {"+": "-", "*": "/"}
    for plus, minus in inverse.items():
        if op == minus and not isinstance(a, str) and a[0] == minus:  # (x - y) - b -> x - (y + b)
            out.append((minus, a[1], (plus, a[2], b)))
        if op == minus and not isinstance(b, str) and b[0] == plus:  # a - (x + y) -> (a - x) - y
            out.append((minus, (minus, a, b[1]), b[2]))
        if op == minus and not isinstance(a, str) and a[0] == plus:  # (x + y) - b -> x + (y - b)
            out.append((plus, a[1], (minus, a[2], b)))
        if op == plus and not isinstance(b, str) and b[0] == minus:  # a + (x - y) -> (a + x) - y
            out.append((minus, (plus, a, b[1]), b[2]))
    return out


def _neighbours(t: Tree) -> list[Tree]:
    """Trees equal to ``t`` by one identity applied anywhere in it."""
    if isinstance(t, str):
        return []
    op, a, b = t
    return (_root_rewrites(t) + [(op, x, b) for x in _neighbours(a)] + [(op, a, y) for y in _neighbours(b)])


def equivalent_trees(tree: Tree, numbers: list[float]) -> list[Tree]:
    """Distinct trees equal to ``tree`` (itself first), nearest rewrites first, at most ``_SEARCH``.
    A rewrite whose value differs from the original's (it never should) is dropped."""
    try:
        value = evaluate(tree, numbers)
    except ExpressionError:
        return [tree]
    seen, frontier, out = {tree}, [tree], [tree]
    while frontier and len(seen) < _SEARCH:
        nxt = []
        for t in frontier:
            for u in _neighbours(t):
                if u in seen or len(seen) >= _SEARCH:
                    continue
                seen.add(u)
                nxt.append(u)
                try:
                    same = answers_match(evaluate(u, numbers), value)
                except ExpressionError:
                    same = False
                if same:
                    out.append(u)
        frontier = nxt
    return out


def percent_as_fraction(tree: Tree, percent: Sequence[bool]) -> Tree:
    """The gold equation over slots that hold a percent's fraction (``DecoderConfig.percent_fraction``):
    ``/ nK 100`` becomes ``nK``, any other use of such a slot ``* nK 100`` (the value as written)."""
    def pct(t: Tree) -> bool:
        return isinstance(t, str) and is_slot(t) and slot_index(t) < len(percent) and percent[slot_index(t)]

    if isinstance(tree, str):
        return ("*", tree, "100") if pct(tree) else tree
    op, a, b = tree
    if op == "/" and b == "100" and pct(a):
        return a
    return (op, percent_as_fraction(a, percent), percent_as_fraction(b, percent))


class Alternatives(tuple):
    """Several gold step sequences for one problem; training draws one per visit."""

    def pick(self, rng: random.Random):
        return self[rng.randrange(len(self))]

