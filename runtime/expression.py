"""Equations as trees: prefix parsing, infix parsing, safe evaluation, printing.

A tree is a leaf string or a tuple ``(op, left, right)``. Leaves are number slots ``n0, n1, ...``
(indices into the problem's extracted numbers) or numeric constants ``"100"``, ``"0.5"``.
Evaluation never calls ``eval``: it walks the tree with explicit checks for division by zero,
overflow and malformed trees, raising :class:`ExpressionError` with the reason.
"""
from __future__ import annotations

import math
import re
from typing import Sequence, Union

__all__ = [
    "OPERATORS", "ExpressionError", "Tree", "parse_prefix", "to_prefix", "evaluate",
    "parse_infix", "to_infix", "is_slot", "slot_index", "answers_match",
]

OPERATORS = ("+", "-", "*", "/", "^")
Tree = Union[str, tuple]
_MAX_ABS = 1e15  # beyond this a word-problem answer is an overflow, not an answer


class ExpressionError(ValueError):
    """A tree that cannot be parsed or evaluated; the message says why."""


def is_slot(leaf: str) -> bool:
    return leaf.startswith("n") and leaf[1:].isdigit()


def slot_index(leaf: str) -> int:
    return int(leaf[1:])


def _leaf_ok(tok: str) -> bool:
    if is_slot(tok):
        return True
    try:
        return math.isfinite(float(tok))
    except ValueError:
        return False


def parse_prefix(tokens: Sequence[str] | str) -> Tree:
    """Prefix tokens (``"* n0 + n1 2"`` or a list) to a tree; rejects anything ill-formed."""
    toks = tokens.split() if isinstance(tokens, str) else list(tokens)
    if not toks:
        raise ExpressionError("empty expression")
    pos = 0

    def walk(depth: int) -> Tree:
        nonlocal pos
        if depth > 64:
            raise ExpressionError("expression nested deeper than 64")
        if pos >= len(toks):
            raise ExpressionError(f"expression ends early: {' '.join(toks)!r}")
        tok = toks[pos]
        pos += 1
        if tok in OPERATORS:
            return (tok, walk(depth + 1), walk(depth + 1))
        if not _leaf_ok(tok):
            raise ExpressionError(f"unknown token {tok!r}")
        return tok

    tree = walk(0)
    if pos != len(toks):
        raise ExpressionError(f"extra tokens after a complete expression: {toks[pos:]}")
    return tree


def to_prefix(tree: Tree) -> list[str]:
    if isinstance(tree, str):
        return [tree]
    op, a, b = tree
    return [op, *to_prefix(a), *to_prefix(b)]


def evaluate(tree: Tree, numbers: Sequence[float]) -> float:
    """The value of ``tree`` with slots bound to ``numbers``."""
    if isinstance(tree, str):
        if is_slot(tree):
            i = slot_index(tree)
            if i >= len(numbers):
                raise ExpressionError(f"slot {tree} but the problem has {len(numbers)} numbers")
            return float(numbers[i])
        if not _leaf_ok(tree):
            raise ExpressionError(f"unknown token {tree!r}")
        return float(tree)
    if not (isinstance(tree, tuple) and len(tree) == 3 and tree[0] in OPERATORS):
        raise ExpressionError(f"malformed tree node {tree!r}")
    op, a, b = tree
    x, y = evaluate(a, numbers), evaluate(b, numbers)
    if op == "+":
        r = x + y
    elif op == "-":
        r = x - y
    elif op == "*":
        r = x * y
    elif op == "/":
        if y == 0:
            raise ExpressionError("division by zero")
        r = x / y
    else:
        if x == 0 and y < 0:
            raise ExpressionError("zero to a negative power")
        if abs(y) > 64 or (x < 0 and y != int(y)):
            raise ExpressionError(f"power {x}^{y} is out of range")
        try:
            r = x**y
        except OverflowError as e:
            raise ExpressionError("overflow") from e
    if isinstance(r, complex) or not math.isfinite(r) or abs(r) > _MAX_ABS:
        raise ExpressionError("overflow")
    return float(r)


def answers_match(pred: float | None, gold: float, rel: float = 1e-4) -> bool:
    """The benchmark rule: equal within ``rel`` relative (absolute near zero)."""
    if pred is None or not math.isfinite(pred):
        return False
    return abs(pred - gold) <= rel * max(1.0, abs(gold))


_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "^": 3}


def to_infix(tree: Tree, numbers: Sequence[float] | None = None) -> str:
    """Readable infix with minimal brackets; slots shown as their numbers when given."""
    from .numbers import format_number

    def leaf(t: str) -> str:
        if numbers is not None and is_slot(t) and slot_index(t) < len(numbers):
            return format_number(numbers[slot_index(t)])
        return t

    def walk(t: Tree, parent: int, right: bool) -> str:
        if isinstance(t, str):
            return leaf(t)
        op, a, b = t
        p = _PREC[op]
        s = f"{walk(a, p, False)} {op} {walk(b, p, True)}"
        return f"({s})" if p < parent or (right and p == parent and op in "-/^") else s

    return walk(tree, 0, False)


_INFIX_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?%?)|(.))")


def parse_infix(text: str) -> Tree:
    """Infix with literal numbers (Math23k style: ``(11-1)*2``, ``80%``, ``(1/6)``) to a tree
    whose leaves are number strings. ``a%`` becomes ``a / 100``; a leading minus becomes 0 - x."""
    toks: list[str] = []
    for num, ch in _INFIX_TOKEN.findall(text.strip()):
        if num:
            toks.append(num)
        elif ch.strip():
            toks.append({"×": "*", "÷": "/", "（": "(", "）": ")", "[": "(", "]": ")"}.get(ch, ch))
    pos = 0

    def peek() -> str | None:
        return toks[pos] if pos < len(toks) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return toks[pos - 1]

    def expr() -> Tree:
        t = term()
        while peek() in ("+", "-"):
            op = take()
            t = (op, t, term())
        return t

    def term() -> Tree:
        t = power()
        while peek() in ("*", "/"):
            op = take()
            t = (op, t, power())
        return t

    def power() -> Tree:
        t = unary()
        if peek() == "^":
            take()
            return ("^", t, power())
        return t

    def unary() -> Tree:
        if peek() == "-":
            take()
            return ("-", "0", unary())
        if peek() == "+":
            take()
            return unary()
        return atom()

    def atom() -> Tree:
        tok = peek()
        if tok is None:
            raise ExpressionError(f"equation ends early: {text!r}")
        take()
        if tok == "(":
            t = expr()
            if peek() != ")":
                raise ExpressionError(f"unbalanced brackets in {text!r}")
            take()
        elif tok[0].isdigit():
            t = ("/", tok[:-1], "100") if tok.endswith("%") else tok
            if peek() == "(":  # a mixed number, Math23k style: 7((2)/(3)) = 7 + 2/3
                t = ("+", t, atom())
        else:
            raise ExpressionError(f"unexpected {tok!r} in {text!r}")
        while peek() == "%":  # "(a+b)%"
            take()
            t = ("/", t, "100")
        return t

    tree = expr()
    if pos != len(toks):
        raise ExpressionError(f"unexpected {toks[pos]!r} in {text!r}")
    return tree
