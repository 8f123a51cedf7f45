"""The site's model (models/web) beside the int8 export it is made from (models/default), in the
Python runtime, one run: answer accuracy on every embedded problem set and GSM8K test, how often
the two pick the same equation, and per-problem solve latency (the two taking turns problem by
problem).

    python bench/page_model.py [--problems 200] [--out bench/results/page-model.json]

Why: models/web computes the decoder graphs and the encoder's q/k/v projections in fp32 over the
same int8 weights, so that the page and the Python runtime agree (docs/web.md). This measures what
that costs or gains on the Python side. Each problem is solved alone (batch 1, as a device does).
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

from edgemath.bench import RUNTIME_SETS as SETS, _time_interleaved, runtime_set_problems as problems
from edgemath.cli import default_model
from edgemath.runtime.expression import answers_match
from edgemath.runtime.solver import OnnxSolver
from edgemath.web import page_model_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="the int8 export (default: models/default)")
    ap.add_argument("--page-model", type=Path, default=None, help="its page model (default: models/web)")
    ap.add_argument("--problems", type=int, default=200, help="problems timed (from ASDiv-A fold 0 train + dev)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/page-model.json"))
    a = ap.parse_args()
    dirs = {"int8 (models/default)": a.model or default_model(), "page model (models/web)": a.page_model or page_model_dir()}
    solvers = {name: OnnxSolver(d, threads=1) for name, d in dirs.items()}
    rows = {name: {} for name in solvers}
    same = {}
    for label, spec in SETS.items():
        ps = problems(spec)
        sols = {name: s.solve(p.text for p in ps) for name, s in solvers.items()}
        for name, got in sols.items():
            right = sum(s.answer is not None and answers_match(s.answer, p.answer) for s, p in zip(got, ps))
            rows[name][label] = {"problems": len(ps), "correct": right, "accuracy": round(right / len(ps), 4)}
        a_sols, b_sols = sols.values()
        same[label] = sum(x.prefix == y.prefix for x, y in zip(a_sols, b_sols))
    texts = [p.text for p in problems("asdiv-a:0")[: a.problems]]
    timed = _time_interleaved({name: (s.solve_one, texts) for name, s in solvers.items()}, repeats=3)
    for name in solvers:
        rows[name]["solve_t1"] = {k: round(v, 2) for k, v in timed[name].items()}
    (n_a, r_a), (_, r_b) = rows.items()
    ratio = r_b["solve_t1"]["p50_ms"] / r_a["solve_t1"]["p50_ms"]
    out = {"command": "python bench/page_model.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(a).items() if v is not None),
           "models": {k: str(v) for k, v in dirs.items()}, "cpu": platform.processor() or platform.machine(),
           "timed_problems": len(texts), "threads": 1, "rows": rows, "same_equation": same,
           "p50_page_over_int8": round(ratio, 3)}
    for name, r in rows.items():
        accs = "  ".join(f"{k}: {v['accuracy']:.2%} of {v['problems']}" for k, v in r.items() if "accuracy" in v)
        print(f"{name:26s} {accs}  solve p50 {r['solve_t1']['p50_ms']:.2f} ms")
    print("same equation: " + "  ".join(f"{k}: {v} of {rows[n_a][k]['problems']}" for k, v in same.items()))
    print(f"p50 page model / int8: {ratio:.3f}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
