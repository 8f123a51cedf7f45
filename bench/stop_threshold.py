"""Dev accuracy of trained teachers when greedy decoding stops at other stop-head thresholds
(0.5 is what training assumes and what the runtime does), and with beam search beside them.

    python bench/stop_threshold.py RUN:SPEC [RUN:SPEC ...] [--thresholds 0.3 0.5 0.7 0.8 0.9] [--unused-thresholds 0.9] [--beam 5]

e.g. `python bench/stop_threshold.py runs/screen/eq4-f0:asdiv-a:0 runs/screen/eq4-f1:asdiv-a:1`.
Why: a fifth of a teacher's errors on ASDiv-A fold 0 stop one step early (bench/error_classes.py).
A higher threshold makes the decoder go on unless the stop head is sure; whether that wins is a
screening question (two folds), answered here without training anything.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from edgemath.checkpoint import load_solver
from edgemath.data import load_splits
from edgemath.evaluate import encode_all
from edgemath.features import collate
from edgemath.runtime.expression import ExpressionError, answers_match, evaluate


@torch.no_grad()
def accuracies(run: Path, spec: str, thresholds: list[float], beam: int, unused: list[float]) -> dict[str, float]:
    solver, tok = load_solver(run)
    solver.eval()
    dev = load_splits(spec).dev.problems
    right = ({f"t{t:g}": 0 for t in thresholds} | {f"unused{t:g}": 0 for t in unused}
             | ({f"beam{beam}": 0} if beam > 1 else {}))
    for s in range(0, len(dev), 64):
        probs = dev[s : s + 64]
        encs = encode_all(probs, tok)
        batch = collate(encs, tok.pad_id)
        hidden = solver.encode(batch).last_hidden_state
        runs = {f"t{t:g}": solver.decode(batch, hidden=hidden, stop_threshold=t) for t in thresholds}
        runs |= {f"unused{t:g}": solver.decode(batch, hidden=hidden, unused_stop_threshold=t) for t in unused}
        if beam > 1:
            runs[f"beam{beam}"] = solver.decode(batch, hidden=hidden, beam=beam)
        for name, trees in runs.items():
            for p, e, tree in zip(probs, encs, trees):
                try:
                    right[name] += answers_match(evaluate(tree, [n.value for n in e.numbers]), p.answer)
                except ExpressionError:
                    pass
    return {k: 100 * v / len(dev) for k, v in right.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="RUN:SPEC, a finished run and its data spec")
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.3, 0.5, 0.7, 0.8, 0.9])
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--unused-thresholds", type=float, nargs="*", default=[],
                    help="thresholds used only while text numbers are left unused (0.5 otherwise)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/stop-threshold.json"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    rows = {}
    for item in a.runs:
        run, _, spec = item.partition(":")
        rows[item] = accuracies(Path(run), spec, a.thresholds, a.beam, a.unused_thresholds)
        print(item, "  ".join(f"{k} {v:.2f}" for k, v in rows[item].items()), flush=True)
    cols = list(next(iter(rows.values())))
    means = {c: round(statistics.mean(r[c] for r in rows.values()), 2) for c in cols}
    print("mean", "  ".join(f"{k} {v:.2f}" for k, v in means.items()))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"runs": rows, "mean": means}, indent=1) + "\n")


if __name__ == "__main__":
    main()
