"""Wrong answers of a solver by kind, from `edgemath evaluate`'s predictions file.

    edgemath evaluate RUN --data asdiv-a:0 --out preds.jsonl
    python bench/error_classes.py preds.jsonl --data asdiv-a:0 [--run RUN] [--versus OTHER] [--examples 3] [--json OUT]

Each wrong prediction is put in the first class that fits. With ``--run`` (the run that made the
predictions) the first classes are the gold equations its decoder cannot write at all, by reason
(a constant outside its set, more steps than ``max_steps``, ...): no training fixes those. Then:
no equation; fewer or more operations than the gold equation; other numbers than the gold's;
other operators; the same numbers and operators in another order (``5 - 3`` for ``3 - 5``).

With ``--versus`` (another model's predictions on the same problems, such as the teacher a student
learns from) only the problems the other model solves are classified: what it knows that this one
does not, beside the counts each gets alone.

A second table scores the problems by how their text writes its numbers (percents, fractions,
mixed numbers, decimals, Chinese fraction words such as 三分之一, 半 "half"): accuracy with the
form against without it says whether reading a form is what goes wrong. A third scores them by the
length of their gold equation (operations, as the run reads the numbers): whether the long ones fail;
a fourth by its shape: a chain (every step uses the result before it) or an equation with two
computed operands somewhere, (a + b) * (c - d), which a decoder without step layers cannot write
greedily (``model.DecoderConfig.step_layers``).
"""
from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from edgemath.data import load_splits
from edgemath.evaluate import read_predictions
from edgemath.runtime.expression import OPERATORS
from edgemath.runtime.numbers import extract_numbers

MIXED = re.compile(r"\d+(\s+\d+/\d+|\(\d+/\d+\))")  # "2 1/2", Math23k's "1(5/6)"
FORMS = {  # tag -> does a number (or the text around it) take this form
    "percent": lambda text, nums: any(n.percent for n in nums),
    "mixed number": lambda text, nums: any(MIXED.fullmatch(n.text) for n in nums),
    "fraction": lambda text, nums: any("/" in n.text and not MIXED.fullmatch(n.text) for n in nums),
    "decimal": lambda text, nums: any("." in n.text for n in nums),
    "fraction in words (X分之Y)": lambda text, nums: "分之" in text,
    "half (半; not 半径 radius)": lambda text, nums: re.search("半(?![径圆])", text) is not None,
}


def error_class(pred: list[str], gold: list[str]) -> str:
    ops = lambda eq: sorted(t for t in eq if t in OPERATORS)
    leaves = lambda eq: sorted(t for t in eq if t not in OPERATORS)
    if not pred:
        return "no equation"
    if len(ops(pred)) < len(ops(gold)):
        return "fewer operations than gold"
    if len(ops(pred)) > len(ops(gold)):
        return "more operations than gold"
    if leaves(pred) != leaves(gold):
        return "other numbers or constants"
    if ops(pred) != ops(gold):
        return "other operators"
    return "same numbers and operators, other order"


def read_by_run(run: Path, problems: list) -> tuple[dict[str, str], dict[str, list[str]]]:
    """What the run's decoder makes of each gold equation: problem id -> why it cannot write it
    (only those it cannot), and id -> the gold equation as the run reads the numbers (a percent's
    ``/ nK 100`` gone for a ``--percent-fraction`` run), so a prediction is compared like with like."""
    from edgemath.checkpoint import load_vocab
    from edgemath.features import gold_steps, gold_tree, untrainable_reason
    from edgemath.runtime.expression import to_prefix

    cfg, tok = load_vocab(run)
    reach, equations = {}, {}
    for p in problems:
        enc = tok.encode(p.text)
        if p.equation:
            equations[p.id] = to_prefix(gold_tree(p, enc, cfg))
        if gold_steps(p, enc, cfg) is None:
            reason = untrainable_reason(p, enc, cfg)
            reach[p.id] = "out of reach: " + (re.sub(r"^constant \S+", "a constant", reason))
    return reach, equations


def form_table(preds: list[dict], gold: dict) -> list[dict]:
    """Accuracy of the problems whose text has each number form, against those without it."""
    rows, tags = [], {}
    for p in preds:
        text = gold[p["id"]].text
        nums = extract_numbers(text)
        tags[p["id"]] = {f for f, has in FORMS.items() if has(text, nums)}
    for form in FORMS:
        with_ = [p["correct"] for p in preds if form in tags[p["id"]]]
        without = [p["correct"] for p in preds if form not in tags[p["id"]]]
        acc = lambda xs: round(100 * sum(xs) / len(xs), 2) if xs else None
        rows.append({"form": form, "problems": len(with_), "accuracy": acc(with_),
                     "accuracy_without": acc(without), "wrong": len(with_) - sum(with_)})
    return rows


def grouped_accuracy(preds: list[dict], group, name: str) -> list[dict]:
    """Accuracy of the predictions in each group (``group(p)`` -> its key), keys in order."""
    by: dict = {}
    for p in preds:
        by.setdefault(group(p), []).append(p["correct"])
    return [{name: k, "problems": len(xs), "accuracy": round(100 * sum(xs) / len(xs), 2), "wrong": len(xs) - sum(xs)}
            for k, xs in sorted(by.items())]


def length_table(preds: list[dict], equations: dict[str, list[str]], longest: int = 5) -> list[dict]:
    """Accuracy by the number of operations in the gold equation (``longest`` and over in one row)."""
    rows = grouped_accuracy(preds, lambda p: min(sum(t in OPERATORS for t in equations[p["id"]]), longest), "operations")
    return [{**r, "operations": f"{r['operations']}+" if r["operations"] == longest else str(r["operations"])} for r in rows]


def two_computed_operands(tree) -> bool:
    """Does some operation of the tree take two computed operands (not a chain)?"""
    if isinstance(tree, str):
        return False
    _, a, b = tree
    return (not isinstance(a, str) and not isinstance(b, str)) or two_computed_operands(a) or two_computed_operands(b)


def shape_table(preds: list[dict], equations: dict[str, list[str]]) -> list[dict]:
    """Accuracy of chain-shaped gold equations against those with two computed operands."""
    from edgemath.runtime.expression import parse_prefix

    def shape(p):
        eq = equations[p["id"]]
        return "two computed operands" if eq and two_computed_operands(parse_prefix(eq)) else "a chain"

    return grouped_accuracy(preds, shape, "shape")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("predictions", type=Path)
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", default="dev")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--run", type=Path, help="the run that made the predictions: its decoder's limits")
    ap.add_argument("--versus", type=Path, help="another model's predictions: classify only the problems it solves")
    ap.add_argument("--examples", type=int, default=2)
    ap.add_argument("--json", type=Path, help="write the counts and examples here")
    args = ap.parse_args()
    splits = load_splits(args.data, args.data_dir)
    problems = getattr(splits, args.split).problems
    gold = {p.id: p for p in problems}
    preds = read_predictions(args.predictions)
    unknown = [p["id"] for p in preds if p["id"] not in gold]
    if unknown:
        raise SystemExit(f"{len(unknown)} predictions are not {args.data} {args.split} problems "
                         f"(e.g. {unknown[0]!r}): pass the --data and --split they were made on")
    reach, equations = read_by_run(args.run, [gold[p["id"]] for p in preds]) if args.run else ({}, {})
    other = None
    if args.versus:
        other = {p["id"]: p["correct"] for p in read_predictions(args.versus)}
        missing = [p["id"] for p in preds if p["id"] not in other]
        if missing:
            raise SystemExit(f"{args.versus} has no prediction for {len(missing)} of these problems "
                             f"(e.g. {missing[0]!r})")
        both = sum(p["correct"] and other[p["id"]] for p in preds)
        print(f"versus {args.versus}: both right {both}, only this {sum(p['correct'] for p in preds) - both}, "
              f"only the other {sum(other[p['id']] for p in preds) - both} (classified below)")
    as_read = {p["id"]: equations.get(p["id"], gold[p["id"]].equation or []) for p in preds}
    counts, examples = Counter(), {}
    for p in preds:
        if p["correct"] or (other is not None and not other[p["id"]]):
            continue
        g = gold[p["id"]]
        g_eq = as_read[g.id]
        k = reach.get(p["id"]) or error_class((p["equation"] or "").split(), g_eq)
        counts[k] += 1
        examples.setdefault(k, []).append({"id": g.id, "text": g.text[:90], "gold": " ".join(g_eq),
                                           "predicted": p["equation"]})
    wrong = sum(counts.values())
    print(f"{len(preds)} problems, {wrong} wrong ({100 * wrong / max(1, len(preds)):.2f}%)"
          + (" of those the other model solves" if other is not None else "")
          + (f"; {len(reach)} with a gold equation the decoder cannot write" if args.run else "") + "\n")
    print("| kind | problems | points |\n|---|---|---|")
    for k, n in counts.most_common():
        print(f"| {k} | {n} | {100 * n / len(preds):.2f} |")
    forms = form_table(preds, gold)
    print("\n| the text has | problems | accuracy | accuracy without it | wrong |\n|---|---|---|---|---|")
    for r in forms:
        print(f"| {r['form']} | {r['problems']} | {r['accuracy']} | {r['accuracy_without']} | {r['wrong']} |")
    lengths, shapes = length_table(preds, as_read), shape_table(preds, as_read)
    print("\n| gold operations | problems | accuracy | wrong |\n|---|---|---|---|")
    for r in lengths:
        print(f"| {r['operations']} | {r['problems']} | {r['accuracy']} | {r['wrong']} |")
    print("\n| gold shape | problems | accuracy | wrong |\n|---|---|---|---|")
    for r in shapes:
        print(f"| {r['shape']} | {r['problems']} | {r['accuracy']} | {r['wrong']} |")
    for k, _ in counts.most_common() if args.examples else []:
        print(f"\n{k}:")
        for e in examples[k][: args.examples]:
            print(f"- {e['text']}... gold `{e['gold']}`, predicted `{e['predicted']}`")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "predictions": str(args.predictions), "versus": str(args.versus) if args.versus else None,
            "data": args.data, "split": args.split, "problems": len(preds),
            "wrong": wrong, "out_of_reach": len(reach), "by_kind": dict(counts.most_common()),
            "by_form": forms, "by_length": lengths, "by_shape": shapes, "examples": {k: v[: args.examples] for k, v in examples.items()}},
            indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
