"""GSM8K as canonical problems: the worked answers' calculator annotations become one equation.

A GSM8K answer is prose with one calculator annotation per step and the answer after ``####``::

    Natalia sold 48/2 = <<48/2=24>>24 clips in May.
    Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.
    #### 72

Each annotation's left side is infix over literal numbers. The steps are read in order and each
literal is bound to the first of:

1. an earlier step whose result has that value (the most recent one): the literal becomes that
   step's tree, so ``48+24`` above becomes ``+ n0 / n0 2``;
2. a number of the question as :func:`extract_numbers` reads it (the first with that value,
   the same reading as at solving time); a literal ``a/b`` whose value the text writes as one
   number (``1/2``, ``2 1/2``) becomes that slot; a literal that is a text percent over 100
   (``0.25`` for ``25%`` or ``25 percent``) becomes ``/ nK 100``;
3. a constant: a literal the question does not hold, such as 60 (minutes in an hour), 7, 12,
   100, or the 2 of "half". The decoder learns a constant only when enough training equations
   use it, so a problem is kept only when each of its constants is used by at least
   ``const_min`` converted train problems (:data:`CONST_MIN`); the test split uses the train
   split's constant set.

Numbers the question writes in words ("three apples", "a dozen") are not extracted, so the
solver cannot point at them: their literals take rule 3 and become constants like any other
unit (a decoder that reads "three" and emits the constant 3). They are counted apart
(``Converted.words``) and docs/gsm8k.md gives the numbers.

The equation is the tree of the last step whose result is the ``####`` answer; it is kept only
if :func:`evaluate` over the text's numbers matches the answer (:func:`answers_match`), it has at
most :data:`MAX_OPS` operations (the decoder's ``max_steps``; a reused result is written out
again each time it is used, as the decoder's trees have no sharing) and the text at most
:data:`MAX_NUMBERS` numbers. Everything else is skipped with its reason. Test problems that
cannot be converted stay in the test split and are scored by their answer.
"""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from edgemath.problems import DataError, Dataset, Problem, Splits
from edgemath.runtime.expression import (
    ExpressionError, Tree, answers_match, evaluate, parse_infix, to_prefix,
)
from edgemath.runtime.numbers import extract_numbers, format_number

__all__ = ["Converted", "convert", "read_gsm8k", "load_gsm8k", "with_gsm8k", "GSM8KDataset",
           "CONST_MIN", "MAX_OPS", "MAX_NUMBERS", "SUFFIX"]

CONST_MIN = 50    # a constant is kept when this many converted train problems use it (16 constants)
MAX_OPS = 8       # DecoderConfig.max_steps: one operation per decoder step
MAX_NUMBERS = 24  # DecoderConfig.max_numbers
SUFFIX = "+gsm8k"  # "asdiv-a:0+gsm8k": a spec's train split plus GSM8K train (extra data)

# Skip reasons, counted by `edgemath data gsm8k`.
NO_ANNOTATIONS = "no calculator annotations"
UNPARSABLE = "unparsable annotation"
BAD_ANSWER = "unreadable #### answer"
NOT_A_STEP = "answer is not the result of any step"
NO_OPERATION = "the answer's step has no operation (<<6=6>>)"
TOO_MANY_NUMBERS = f"more than {MAX_NUMBERS} numbers in the text"
TOO_MANY_OPS = f"more than {MAX_OPS} operations (the decoder's max_steps)"
WRONG_VALUE = "equation does not evaluate to the answer"
RARE_CONSTANT = "needs a constant fewer than {n} train problems use"

_ANNOTATION = re.compile(r"<<([^<>]*)>>")
# An unannotated last step in the prose, "$43 - $18 = $25": numbers (with $ and commas), operators
# and brackets only, at least one operator, "x" only as a spaced-out times sign.
_NUM = r"\$?(?:\d[\d,]*(?:\.\d+)?|\.\d+)"
_PROSE_STEP = re.compile(rf"((?:\(\s*)*{_NUM}(?:\s*\)|\s)*(?:(?:[-+*/×÷−–]|\sx\s)\s*(?:\(\s*)*{_NUM}(?:\s*\))*\s*)+)=\s*({_NUM})")
_PROSE_OPS = str.maketrans({"×": "*", "÷": "/", "−": "-", "–": "-", "x": "*", "$": None, ",": None})
_BARE_DECIMAL = re.compile(r"(?<![\d.])\.(\d)")  # ".5" -> "0.5" (parse_infix wants a digit first)
_WORDS = {
    **{w: float(i) for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split())},
    "thirty": 30.0, "forty": 40.0, "fifty": 50.0, "sixty": 60.0, "seventy": 70.0, "eighty": 80.0,
    "ninety": 90.0, "hundred": 100.0, "thousand": 1000.0, "million": 1e6, "dozen": 12.0,
    "dozens": 12.0, "half": 2.0, "twice": 2.0, "double": 2.0, "triple": 3.0, "quarter": 4.0,
    "third": 3.0, "fourth": 4.0, "fifth": 5.0,
}
_WORD_RE = re.compile(r"[a-z]+")


@dataclass
class Converted:
    """One record's conversion: the equation, or why there is none."""

    equation: list[str] | None
    reason: str | None = None
    constants: tuple[str, ...] = ()  # the equation's constant leaves, one per use
    words: tuple[str, ...] = ()      # those of them the question writes in words ("three")
    steps: int = 0                   # calculator annotations read
    ops: int = 0                     # operations in the equation
    prose: bool = False              # the last step was read from the prose, not an annotation


def _same(x: float, y: float) -> bool:
    return abs(x - y) <= 1e-6 * max(1.0, abs(y))


def _number(text: str) -> float:
    s = text.strip().replace(",", "").replace("$", "")
    value = float(s)
    if not math.isfinite(value):
        raise ValueError(s)
    return value


def _count_ops(tree: Tree) -> int:
    return 0 if isinstance(tree, str) else 1 + _count_ops(tree[1]) + _count_ops(tree[2])


def _leaves(tree: Tree):
    if isinstance(tree, str):
        yield tree
    else:
        yield from _leaves(tree[1])
        yield from _leaves(tree[2])


class _Binder:
    """Binds a step's literals to earlier results, the text's numbers, or constants."""

    def __init__(self, question: str):
        self.found = extract_numbers(question)
        self.numbers = [n.value for n in self.found]
        lower = question.lower()
        # a number followed by "percent" is a percent too, though extract_numbers flags only "%"
        self.percent = [n.percent or lower[n.end:n.end + 8].lstrip().startswith("percent") for n in self.found]
        self.words = {_WORDS[w] for w in _WORD_RE.findall(lower) if w in _WORDS}
        self.results: list[tuple[float, float, Tree]] = []  # (annotated value, computed value, tree)

    def slot(self, value: float) -> str | None:
        for i, x in enumerate(self.numbers):
            if _same(x, value):
                return f"n{i}"
        return None

    def fraction(self, value: float) -> str | None:
        for i, n in enumerate(self.found):
            if "/" in n.text and _same(n.value, value):
                return f"n{i}"
        return None

    def leaf(self, lit: str) -> Tree:
        value = float(lit)
        for written, computed, tree in reversed(self.results):
            if _same(value, written) or _same(value, computed):
                return tree
        slot = self.slot(value)
        if slot:
            return slot
        for i, x in enumerate(self.numbers):
            if self.percent[i] and _same(x / 100, value):
                return ("/", f"n{i}", "100")
        return format_number(value)

    def bind(self, tree: Tree) -> Tree:
        if isinstance(tree, str):
            return self.leaf(tree)
        op, a, b = tree
        if op == "/" and isinstance(a, str) and isinstance(b, str) and float(b):
            # "1/2" where the text writes the one number 1/2 (or 2 1/2): that slot
            slot = self.fraction(float(a) / float(b))
            if slot:
                return slot
        return (op, self.bind(a), self.bind(b))

    def is_constant(self, leaf: str) -> bool:
        return not (leaf.startswith("n") and leaf[1:].isdigit())


def _prose_step(head: str, gold: float) -> str | None:
    """The last step when the prose writes it without an annotation ("43 - 18 = 25" after the
    last ``<<..>>``), as an annotation's text; None when the annotations end with the answer."""
    rest = head[head.rfind(">>") + 2:]
    for m in reversed(list(_PROSE_STEP.finditer(rest))):
        try:
            expr = m.group(1).translate(_PROSE_OPS).strip()
            if answers_match(_number(m.group(2)), gold):
                parse_infix(_BARE_DECIMAL.sub(r"0.\1", expr))
                return f"{expr}={m.group(2).translate(_PROSE_OPS)}"
        except (ExpressionError, ValueError):
            continue
    return None


def convert(question: str, answer: str) -> Converted:
    """One GSM8K record (``question``, worked ``answer``) to a prefix equation over the
    question's numbers, or the reason it has none. Constants are not filtered here."""
    head, sep, tail = answer.rpartition("####")
    if not sep:
        return Converted(None, BAD_ANSWER)
    try:
        gold = _number(tail)
    except ValueError:
        return Converted(None, BAD_ANSWER)
    annotations = _ANNOTATION.findall(head)
    if not annotations:
        return Converted(None, NO_ANNOTATIONS)
    prose = _prose_step(head, gold)
    if prose:
        annotations.append(prose)
    n_steps = len(annotations)
    binder = _Binder(question)
    final: Tree | None = None
    for ann in annotations:
        expr, eq, value = ann.rpartition("=")
        try:
            if not eq:
                raise ExpressionError(f"no '=' in {ann!r}")
            written = _number(value)
            infix = parse_infix(_BARE_DECIMAL.sub(r"0.\1", expr))
            computed = evaluate(infix, [])
        except (ExpressionError, ValueError):
            return Converted(None, UNPARSABLE, steps=n_steps, prose=bool(prose))
        tree = binder.bind(infix)
        binder.results.append((written, computed, tree))
        if answers_match(written, gold) or answers_match(computed, gold):
            final = tree
    if final is None:
        return Converted(None, NOT_A_STEP, steps=n_steps, prose=bool(prose))
    consts = tuple(leaf for leaf in _leaves(final) if binder.is_constant(leaf))
    words = tuple(c for c in consts if float(c) in binder.words)
    out = Converted(None, None, consts, words, n_steps, _count_ops(final), bool(prose))
    if isinstance(final, str):
        out.reason = NO_OPERATION
        return out
    if len(binder.numbers) > MAX_NUMBERS:
        out.reason = TOO_MANY_NUMBERS
        return out
    try:
        ok = answers_match(evaluate(final, binder.numbers), gold)
    except ExpressionError:
        ok = False
    if not ok:
        out.reason = WRONG_VALUE
        return out
    if out.ops > MAX_OPS:
        out.reason = TOO_MANY_OPS
        return out
    out.equation = to_prefix(final)
    return out


class GSM8KDataset(Dataset):
    """A GSM8K split. Test problems that could not be converted stay (scored by answer) with
    ``trainable=False``; ``unconverted`` says why, and :meth:`reasons` counts those reasons."""

    def __init__(self, name: str):
        super().__init__(name)
        self.unconverted: dict[str, str] = {}  # problem id -> reason, for problems kept to score
        self.conversions: dict[str, Converted] = {}  # every record's conversion, by id

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, r in self.skipped:
            out[r] = out.get(r, 0) + 1
        for r in self.unconverted.values():
            key = f"{r} (kept for scoring only)"
            out[key] = out.get(key, 0) + 1
        return out


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def constant_set(conversions: list[Converted], const_min: int) -> list[str]:
    """Constants used by at least ``const_min`` converted problems, most used first."""
    uses = Counter(c for cv in conversions if cv.equation for c in set(cv.constants))
    return [c for c, n in sorted(uses.items(), key=lambda kv: (-kv[1], float(kv[0]))) if n >= const_min]


def read_gsm8k(path: Path, split: str, constants: list[str] | None = None,
               const_min: int | None = None) -> tuple[GSM8KDataset, list[str]]:
    """Convert one GSM8K file. ``train`` drops what it cannot convert (``skipped``, with the
    reason); ``test`` keeps every problem for scoring. ``constants`` (default: those of this
    file used by ``const_min`` problems, default :data:`CONST_MIN`) is the set an equation may
    use; returns it too."""
    const_min = CONST_MIN if const_min is None else const_min
    rows = _read_jsonl(path)
    ds = GSM8KDataset(f"gsm8k:{split}")
    conv = [convert(r["question"], r["answer"]) for r in rows]
    if constants is None:
        constants = constant_set(conv, const_min)
    rare = RARE_CONSTANT.format(n=const_min)
    for i, (row, cv) in enumerate(zip(rows, conv)):
        pid = f"gsm8k-{split}-{i}"
        if cv.equation and any(c not in constants for c in cv.constants):
            cv.equation, cv.reason = None, rare
        ds.conversions[pid] = cv
        text = row["question"]
        try:
            answer = _number(row["answer"].rpartition("####")[2])
        except ValueError:
            ds.skipped.append((pid, BAD_ANSWER))
            continue
        if cv.equation is None and split == "train":
            ds.skipped.append((pid, cv.reason or ""))
            continue
        if cv.equation is None:
            ds.unconverted[pid] = cv.reason or ""
        ds.problems.append(Problem(pid, text, [n.value for n in extract_numbers(text)], cv.equation,
                                   answer, "gsm8k", None, split, trainable=cv.equation is not None))
    return ds, constants


def _files(root: Path | None) -> tuple[Path, Path]:
    d = None if root is None else Path(root) / "gsm8k"
    files = (None, None) if d is None else (d / "train.jsonl", d / "test.jsonl")
    for f in files:
        if f is None or not f.is_file():
            raise DataError(f"GSM8K file {f or 'DATA_DIR/gsm8k/train.jsonl'} is missing. Put train.jsonl and "
                            "test.jsonl of github.com/openai/grade-school-math in <data-dir>/gsm8k/ and pass "
                            "--data-dir or set EDGEMATH_DATA.")
    return files


def load_gsm8k(root: Path | None) -> Splits:
    """The ``gsm8k`` spec: train = converted GSM8K train; dev and test = GSM8K test (1,319),
    every problem scored by its answer."""
    tr, te = _files(root)
    train, consts = read_gsm8k(tr, "train")
    test, _ = read_gsm8k(te, "test", consts)
    return Splits("gsm8k", train, test, test, files=[tr, te])


def with_gsm8k(base: Splits, root: Path | None) -> Splits:
    """``SPEC+gsm8k``: SPEC's train split plus converted GSM8K train (extra data); SPEC's own dev
    and test splits are unchanged. GSM8K's skip reasons are prefixed ``gsm8k:``."""
    tr, _ = _files(root)
    extra, _ = read_gsm8k(tr, "train")
    train = Dataset(f"{base.train.name}{SUFFIX}", base.train.problems + extra.problems,
                    base.train.skipped + [(pid, f"gsm8k: {r}") for pid, r in extra.skipped])
    return Splits(f"{base.spec}{SUFFIX}", train, base.dev, base.test, files=[*base.files, tr])


def stats(ds: GSM8KDataset) -> dict:
    """What docs/gsm8k.md tabulates: records, converted, reasons, constants, steps and operations."""
    conv = ds.conversions
    ok = [cv for cv in conv.values() if cv.equation]
    by_problem = Counter(c for cv in ok for c in set(cv.constants))
    words = Counter(c for cv in ok for c in set(cv.words))
    over_100 = re.compile(r"/ n\d+ 100(?!\S)")
    percent = sum(1 for cv in ok if over_100.search(" ".join(cv.equation)))
    return {
        "records": len(conv), "converted": len(ok),
        "not_converted": dict(Counter(cv.reason for cv in conv.values() if not cv.equation).most_common()),
        "constants_by_problems": {c: [n, words.get(c, 0)] for c, n in by_problem.most_common()},
        "with_a_word_constant": sum(1 for cv in ok if cv.words),
        "without_constants": sum(1 for cv in ok if not cv.constants),
        "last_step_from_prose": sum(1 for cv in ok if cv.prose),
        "slot_over_100": percent,
        "steps": dict(sorted(Counter(cv.steps for cv in ok).items())),
        "operations": dict(sorted(Counter(cv.ops for cv in ok).items())),
    }


if __name__ == "__main__":  # python -m edgemath.gsm8k [DATA_DIR]: the tables of docs/gsm8k.md
    import sys

    from edgemath.problems import data_dir

    splits = load_gsm8k(data_dir(sys.argv[1] if len(sys.argv) > 1 else None))
    for name, part in (("train", splits.train), ("test", splits.test)):
        print(json.dumps({"split": name, **stats(part)}))
