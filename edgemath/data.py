"""Datasets as canonical problems.

Every source (SVAMP-style CSV folds, Math23k's 7-line JSON, canonical JSONL/CSV) becomes a
:class:`Problem`: raw text with the real numbers, the numbers as :func:`extract_numbers` reads
them from that text, a prefix equation over those number slots and constants, and the answer.
Records that cannot be used are kept in ``Dataset.skipped`` with the reason, never dropped
silently. A record whose annotated equation does not reproduce its answer stays in the set
(it is scored by its answer) but is marked ``trainable=False``.

Data specs: ``asdiv-a[:fold]``, ``mawps[:fold]``, ``mawps-asdiv-a``, ``math23k``, ``gsm8k``, or a
path; ``SPEC+gsm8k`` is SPEC with converted GSM8K train added to its train split.
"""
from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

from edgemath.problems import DataError, Dataset, Problem, Splits, data_dir
from edgemath.runtime.expression import (
    ExpressionError, Tree, answers_match, evaluate, parse_infix, parse_prefix, to_prefix,
)
from edgemath.runtime.numbers import extract_numbers, format_number

__all__ = ["Problem", "Dataset", "Splits", "load_splits", "data_dir", "EMBEDDED", "DataError"]

EMBEDDED = Path(__file__).parent / "datasets"
FOLDS = {"asdiv-a": 5, "mawps": 5}


# --- SVAMP-style CSV (ASDiv-A, MAWPS, the pool) ---------------------------------------------

_PLACEHOLDER = re.compile(r"number(\d+)")


def _problem_from_svamp(row: dict, pid: str, source: str, fold: int | None, split: str) -> Problem:
    """Put the real numbers back into the text, re-extract them exactly as the solver will,
    and point the equation at the extracted slots."""
    values = [float(v) for v in row["Numbers"].split()]
    text, spans, last = [], [], 0
    q = row["Question"].strip()
    pos = 0
    for m in _PLACEHOLDER.finditer(q):
        k = int(m.group(1))
        if k >= len(values):
            raise ExpressionError(f"placeholder number{k} but only {len(values)} numbers")
        text.append(q[last:m.start()])
        pos += m.start() - last
        surface = format_number(values[k])
        spans.append((pos, k))
        text.append(surface)
        pos += len(surface)
        last = m.end()
    text.append(q[last:])
    raw = "".join(text)
    found = extract_numbers(raw)
    by_start = {n.start: i for i, n in enumerate(found)}
    slot_of: dict[int, int] = {}
    for start, k in spans:
        if start not in by_start or found[by_start[start]].value != values[k]:
            raise ExpressionError(f"number{k} ({format_number(values[k])}) is not read back from the text")
        slot_of.setdefault(k, by_start[start])
    eq = []
    for tok in row["Equation"].split():
        m = _PLACEHOLDER.fullmatch(tok)
        if m:
            k = int(m.group(1))
            if k not in slot_of:
                raise ExpressionError(f"equation uses number{k}, which is not in the text")
            eq.append(f"n{slot_of[k]}")
        elif tok in "+-*/^":
            eq.append(tok)
        else:
            eq.append(format_number(float(tok)))
    tree = parse_prefix(eq)
    numbers = [n.value for n in found]
    answer = float(row["Answer"])
    try:
        ok = answers_match(evaluate(tree, numbers), answer)
    except ExpressionError:
        ok = False
    return Problem(pid, raw, numbers, eq, answer, source, fold, split, trainable=ok)


def _read_svamp_csv(path: Path, source: str, fold: int | None, split: str) -> Dataset:
    ds = Dataset(f"{source}:{split}" if fold is None else f"{source}:{fold}:{split}")
    with open(path, newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f)):
            pid = f"{source}-{'' if fold is None else f'f{fold}-'}{split}-{i}"
            try:
                ds.problems.append(_problem_from_svamp(row, pid, source, fold, split))
            except (ExpressionError, ValueError, KeyError) as e:
                ds.skipped.append((pid, str(e)))
    return ds


# --- Math23k -----------------------------------------------------------------------------------

def _read_7line_json(path: Path) -> list[dict]:
    """Math23k's files are pretty-printed objects of exactly 7 lines each, not one document."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads("".join(lines[i:i + 7])) for i in range(0, len(lines) - 6, 7)]


def _bind_slots(tree: Tree, numbers: list[float]) -> Tree:
    """Replace literal numbers (and literal fractions like (1/6)) by the text's slots."""
    def find(v: float) -> str | None:
        for i, x in enumerate(numbers):
            if abs(x - v) <= 1e-9 * max(1.0, abs(v)):
                return f"n{i}"
        return None

    if isinstance(tree, str):
        return find(float(tree)) or format_number(float(tree))
    op, a, b = tree
    if op == "/" and isinstance(a, str) and isinstance(b, str) and b != "100":
        slot = find(float(a) / float(b)) if float(b) else None
        if slot and not (find(float(a)) and find(float(b))):
            return slot
    return (op, _bind_slots(a, numbers), _bind_slots(b, numbers))


def _problem_from_math23k(rec: dict, split: str) -> Problem:
    text = rec["original_text"]
    numbers = [n.value for n in extract_numbers(text)]
    eq = rec["equation"].strip()
    if not eq.startswith("x="):
        raise ExpressionError(f"equation does not start with x=: {eq!r}")
    tree = _bind_slots(parse_infix(eq[2:]), numbers)
    answer = evaluate(parse_infix(rec["ans"]), [])
    ok = answers_match(evaluate(tree, numbers), answer)
    return Problem(f"math23k-{rec['id']}", text, numbers, to_prefix(tree), answer, "math23k",
                   None, split, trainable=ok)


def _load_math23k(root: Path) -> tuple[dict[str, Dataset], list[Path]]:
    files = [root / "Math_23K.json", root / "math23k_test.json", root / "valid23k_processed.json"]
    for f in files:
        if not f.is_file():
            raise DataError(
                f"Math23k file {f} is missing. Put Math_23K.json, math23k_test.json and "
                f"valid23k_processed.json in <data-dir>/math23k/ (see the PROVENANCE.md that "
                f"comes with them) and pass --data-dir or set EDGEMATH_DATA.")
    test_ids = {r["id"] for r in _read_7line_json(files[1])}
    valid_ids = {str(r["id"]) for r in json.loads(files[2].read_text(encoding="utf-8"))}
    out = {s: Dataset(f"math23k:{s}") for s in ("train", "valid", "test")}
    for rec in _read_7line_json(files[0]):
        split = "test" if rec["id"] in test_ids else "valid" if rec["id"] in valid_ids else "train"
        try:
            out[split].problems.append(_problem_from_math23k(rec, split))
        except (ExpressionError, ValueError, KeyError) as e:
            out[split].skipped.append((f"math23k-{rec.get('id')}", str(e)))
    return out, files


# --- canonical JSONL / CSV ----------------------------------------------------------------------

def _problem_from_canonical(obj: dict, pid: str, source: str) -> Problem:
    text = str(obj.get("text") or obj.get("Question") or "").strip()
    if not text:
        raise ExpressionError("no text")
    numbers = [n.value for n in extract_numbers(text)]
    eq = obj.get("equation")
    tokens = (eq.split() if isinstance(eq, str) else list(eq)) if eq else None
    if tokens:
        parse_prefix(tokens)
    if obj.get("answer") in (None, ""):
        raise ExpressionError("no answer")
    answer = float(obj["answer"])
    ok = bool(tokens)
    if tokens:
        try:
            ok = answers_match(evaluate(parse_prefix(tokens), numbers), answer)
        except ExpressionError:
            ok = False
    return Problem(str(obj.get("id") or pid), text, numbers, tokens, answer, source,
                   None, str(obj.get("split", "")), trainable=ok)


def read_canonical(path: Path) -> Dataset:
    """JSONL (one object per line) or CSV with ``text, equation (prefix over n0..), answer``."""
    ds = Dataset(path.name)
    if path.suffix == ".jsonl":
        for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines()):
            if not line.strip():
                continue
            try:
                ds.problems.append(_problem_from_canonical(json.loads(line), f"{path.stem}-{i}", path.stem))
            except (json.JSONDecodeError, ExpressionError, ValueError, TypeError) as e:
                ds.skipped.append((f"{path.stem}-{i}", f"line {i + 1}: {e}"))
    elif path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            for i, row in enumerate(csv.DictReader(f)):
                try:
                    ds.problems.append(_problem_from_canonical(row, f"{path.stem}-{i}", path.stem))
                except (ExpressionError, ValueError, TypeError) as e:
                    ds.skipped.append((f"{path.stem}-{i}", f"row {i + 1}: {e}"))
    else:
        raise DataError(f"{path}: expected a .jsonl or .csv file")
    return ds


def embedded_problems() -> list[Problem]:
    """Every embedded ASDiv-A and MAWPS problem once: fold 0's train + dev is the whole set (the
    other folds and the pool hold the same texts)."""
    out = []
    for name in ("asdiv-a", "mawps"):
        s = load_splits(f"{name}:0")
        out += s.train.problems + s.dev.problems
    return out


# --- GSM8K (English text only: the wider sample for vocabulary pruning) ------------------------

def gsm8k_texts(split: str, data_root: str | os.PathLike | None = None, answers: bool = False) -> list[str]:
    """Questions (with ``answers``, question + worked answer) of GSM8K ``train`` or ``test``."""
    root = data_dir(data_root)
    path = None if root is None else root / "gsm8k" / f"{split}.jsonl"
    if path is None or not path.is_file():
        raise DataError(f"GSM8K {split} not found (looked for {path or 'DATA_DIR/gsm8k/' + split + '.jsonl'}); "
                        "pass --data-dir DIR (or set EDGEMATH_DATA) where DIR/gsm8k/ holds train.jsonl and test.jsonl")
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                out.append(row["question"] + (" " + row["answer"] if answers else ""))
    return out


# --- specs ---------------------------------------------------------------------------------------

def parse_spec(spec: str) -> tuple[str, int | None]:
    name, _, fold = spec.partition(":")
    if fold and not fold.isdigit():
        raise DataError(f"bad data spec {spec!r}: the fold after ':' must be a number")
    return name, int(fold) if fold else None


def load_splits(spec: str, data_root: str | os.PathLike | None = None) -> Splits:
    """Train and dev (and test where the benchmark has one) for a data spec. ``SPEC+gsm8k`` adds
    converted GSM8K train to SPEC's train split (extra data; edgemath/gsm8k.py)."""
    if spec.endswith("+gsm8k") and spec != "+gsm8k":
        from edgemath.gsm8k import with_gsm8k

        if parse_spec(spec[: -len("+gsm8k")])[0] == "gsm8k":
            raise DataError(f"{spec!r}: gsm8k already trains on GSM8K")
        return with_gsm8k(load_splits(spec[: -len("+gsm8k")], data_root), data_dir(data_root))
    name, fold = parse_spec(spec)
    if name in FOLDS:
        fold = 0 if fold is None else fold
        if not 0 <= fold < FOLDS[name]:
            raise DataError(f"{name} has folds 0-{FOLDS[name] - 1}, not {fold}")
        d = EMBEDDED / name / f"fold{fold}"
        tr, dv = d / "train.csv", d / "dev.csv"
        return Splits(f"{name}:{fold}", _read_svamp_csv(tr, name, fold, "train"),
                      _read_svamp_csv(dv, name, fold, "dev"), files=[tr, dv])
    if name == "mawps-asdiv-a":
        f = EMBEDDED / name / "train.csv"
        pool = _read_svamp_csv(f, name, None, "train")
        # The pool has no dev split of its own: score on ASDiv-A fold 0 and MAWPS fold 0 dev
        # (both inside the pool, so this is a fit check, not a held-out number).
        dev = Dataset("mawps-asdiv-a:dev(fit)")
        for sub in ("asdiv-a", "mawps"):
            part = _read_svamp_csv(EMBEDDED / sub / "fold0" / "dev.csv", sub, 0, "dev")
            dev.problems += part.problems
        return Splits(name, pool, dev, files=[f])
    if name == "math23k":
        root = data_dir(data_root)
        if root is None:
            raise DataError("Math23k is not embedded. Pass --data-dir DIR (or set EDGEMATH_DATA) "
                            "where DIR/math23k/ holds Math_23K.json, math23k_test.json and "
                            "valid23k_processed.json.")
        parts, files = _load_math23k(root / "math23k")
        return Splits("math23k", parts["train"], parts["valid"], parts["test"], files=files)
    if name == "gsm8k":
        from edgemath.gsm8k import load_gsm8k

        if fold is not None:
            raise DataError(f"{spec!r}: gsm8k has no folds (train, and its test split as dev and test)")
        return load_gsm8k(data_dir(data_root))
    path = Path(spec)
    if path.is_dir():
        found = {s: next((path / f"{s}{ext}" for ext in (".jsonl", ".csv") if (path / f"{s}{ext}").is_file()), None)
                 for s in ("train", "dev", "test")}
        if not found["train"] or not found["dev"]:
            raise DataError(f"{path} needs train.jsonl|csv and dev.jsonl|csv in the canonical format")
        test = read_canonical(found["test"]) if found["test"] else None
        return Splits(str(path), read_canonical(found["train"]), read_canonical(found["dev"]), test,
                      files=[f for f in found.values() if f])
    if path.is_file():
        ds = read_canonical(path)
        return Splits(str(path), ds, ds, files=[path])
    raise DataError(f"unknown dataset {spec!r}: use asdiv-a[:FOLD], mawps[:FOLD], mawps-asdiv-a, "
                    f"math23k, gsm8k, or a path to a .jsonl/.csv file or a directory with train/dev "
                    f"files; SPEC+gsm8k adds GSM8K train to SPEC's")
