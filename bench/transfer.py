"""Transfer: solvers trained on one benchmark, scored on another and on GSM8K test (issue
"stronger solver", robustness). The held-out challenge set varies the question over the same
text and adds numbers the answer does not use; this measures what we have of that shift.

    python bench/transfer.py runs/transfer/baseline-f0 runs/transfer/aug-dq-f0 \
        --source mawps --target asdiv-a --out bench/results/transfer-mawps-asdiv-a.json

Target problems: every problem of the target benchmark (its fold-0 train and dev together)
whose text, lower-cased with punctuation dropped, is not a text of the source benchmark
(MAWPS and ASDiv-A share 232 texts). Each is scored as written, with one unused number
inserted (`augment.distractor`) and with its question rephrased (`augment.question`, where a
template fits), in templates and names that `--augment` never writes (edgemath/transfer.py): a
solver trained with `--augment distractor,question` is not scored on its own phrasing.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgemath.checkpoint import load_solver
from edgemath.data import load_splits
from edgemath.evaluate import accuracy, predict
from edgemath.transfer import probe_sets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--source", default="mawps")
    ap.add_argument("--target", default="asdiv-a")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    sets = {**probe_sets(a.source, a.target), "gsm8k test": load_splits("gsm8k").dev.problems}
    print("problems: " + ", ".join(f"{k} {len(v)}" for k, v in sets.items()))
    rows = {}
    for run in a.runs:
        solver, tok = load_solver(run, "cpu")
        rows[str(run)] = {k: round(100 * accuracy(predict(solver, tok, v)), 2) for k, v in sets.items()}
        print(f"{run}: " + ", ".join(f"{k} {v:.2f}" for k, v in rows[str(run)].items()))
    out = a.out or Path(f"bench/results/transfer-{a.source}-{a.target}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"source": a.source, "target": a.target,
                               "problems": {k: len(v) for k, v in sets.items()}, "accuracy": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
