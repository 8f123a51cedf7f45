"""Wrong answers of a solver by kind, from `edgemath evaluate`'s predictions file.

    edgemath evaluate RUN --data asdiv-a:0 --out preds.jsonl
    python bench/error_classes.py preds.jsonl --data asdiv-a:0 [--examples 3]

Each wrong prediction is put in the first class that fits: no equation; fewer or more
operations than the gold equation; other numbers than the gold's; other operators; the same
numbers and operators in another order (``5 - 3`` for ``3 - 5``).
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from edgemath.data import load_splits
from edgemath.runtime.expression import OPERATORS


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("predictions", type=Path)
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", default="dev")
    ap.add_argument("--examples", type=int, default=2)
    args = ap.parse_args()
    splits = load_splits(args.data)
    gold = {p.id: p for p in getattr(splits, args.split).problems}
    preds = [json.loads(line) for line in args.predictions.read_text().splitlines() if line.strip()]
    counts, examples = Counter(), {}
    for p in preds:
        if p["correct"]:
            continue
        g = gold[p["id"]]
        k = error_class((p["equation"] or "").split(), g.equation or [])
        counts[k] += 1
        examples.setdefault(k, []).append(f"{g.text[:90]}... gold `{' '.join(g.equation or [])}`, "
                                          f"predicted `{p['equation']}`")
    wrong = sum(counts.values())
    print(f"{len(preds)} problems, {wrong} wrong ({100 * wrong / max(1, len(preds)):.2f}%)\n")
    print("| kind | problems | points |\n|---|---|---|")
    for k, n in counts.most_common():
        print(f"| {k} | {n} | {100 * n / len(preds):.2f} |")
    for k, _ in counts.most_common():
        print(f"\n{k}:")
        for e in examples[k][: args.examples]:
            print(f"- {e}")


if __name__ == "__main__":
    main()
