"""The shipped int8 model with onnxruntime's exact int8 products (the runtime's default) beside
the saturating kernel it took before, in one run: accuracy on every embedded problem set and on
GSM8K test, and per-problem solve latency (the two taking turns problem by problem).

    python bench/int8_precision.py [--model models/default] [--problems 200] [--out bench/results/int8-precision.json]

Why: on x86 CPUs without VNNI, onnxruntime's uint8 x int8 kernel sums pairs of products in int16
and saturates; `session.x64quantprecision` (OnnxSolver(exact_int8=True)) routes the weights
outside [-64, 63] through the exact uint8 x uint8 kernel. On CPUs with VNNI or on ARM both
settings compute the same numbers, and this script prints identical accuracies.
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np

from edgemath.bench import RUNTIME_SETS as SETS, _time_interleaved, runtime_set_problems as problems
from edgemath.cli import default_model
from edgemath.runtime.solver import OnnxSolver


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--problems", type=int, default=200, help="problems timed (from ASDiv-A fold 0 dev + train)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/int8-precision.json"))
    a = ap.parse_args()
    model = a.model or default_model()
    solvers = {"exact (x64quantprecision)": OnnxSolver(model, threads=1, exact_int8=True),
               "saturating (onnxruntime default)": OnnxSolver(model, threads=1, exact_int8=False)}
    rows = {name: {} for name in solvers}
    for label, spec in SETS.items():
        ps = problems(spec)
        for name, s in solvers.items():
            rows[name][label] = {"problems": len(ps), "accuracy": s.score([p.text for p in ps], [p.answer for p in ps])}
    texts = [p.text for p in problems("asdiv-a:0")[: a.problems]]
    timed = _time_interleaved({name: (s.solve_one, texts) for name, s in solvers.items()}, repeats=3)
    for name in solvers:
        rows[name]["solve_t1"] = {k: round(v, 2) for k, v in timed[name].items()}
    ratio = rows["exact (x64quantprecision)"]["solve_t1"]["p50_ms"] / rows["saturating (onnxruntime default)"]["solve_t1"]["p50_ms"]
    out = {"model": str(model), "cpu": platform.processor() or platform.machine(), "timed_problems": len(texts),
           "threads": 1, "rows": rows, "p50_exact_over_saturating": round(ratio, 3)}
    for name, r in rows.items():
        accs = "  ".join(f"{k}: {v['accuracy']:.2%} of {v['problems']}" for k, v in r.items() if "accuracy" in v)
        print(f"{name:34s} {accs}  solve p50 {r['solve_t1']['p50_ms']:.2f} ms")
    print(f"p50 exact / saturating: {ratio:.3f}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1) + "\n")

if __name__ == "__main__":
    main()
