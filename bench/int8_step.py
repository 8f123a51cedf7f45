"""Exports of one solver side by side: accuracy on a split and whole-solve latency, in one run.

    python bench/int8_step.py EXPORT [EXPORT ...] [--data math23k] [--split test] [--problems 200]
        [--threads 1] [--out bench/results/int8-step.json]

Made to weigh `edgemath export --int8`'s fp32 activations in the step graph's pair scorer
(`--int8-fp32-step`, default "/pairs/") against plain dynamic int8 (`--int8-fp32-step ''`): the
encoder is the same, so `edgemath bench`'s encoder timings cannot see it; a whole solve
(tokenize, encoder, quantities, the greedy steps) can. Problems are timed with the exports taking
turns problem by problem (`edgemath.bench._time_interleaved`), so machine drift hits all alike.
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

from edgemath.bench import _time_interleaved
from edgemath.data import load_splits
from edgemath.manifest import read_manifest
from edgemath.runtime.solver import OnnxSolver


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("exports", type=Path, nargs="+")
    ap.add_argument("--data", default="math23k")
    ap.add_argument("--split", default="test", choices=["dev", "test"])
    ap.add_argument("--problems", type=int, default=200, help="problems timed (the whole split is scored)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--out", type=Path, default=Path("bench/results/int8-step.json"))
    a = ap.parse_args()
    splits = load_splits(a.data, a.data_dir)
    problems = (splits.test if a.split == "test" else splits.dev).problems
    texts, answers = [p.text for p in problems], [p.answer for p in problems]
    solvers = {str(e): OnnxSolver(e, threads=a.threads) for e in a.exports}
    rows = {}
    for name, s in solvers.items():
        manifest = read_manifest(Path(name))
        rows[name] = {"accuracy": s.score(texts, answers), "problems": len(texts),
                      "int8_fp32_step": manifest.get("parity", {}).get("int8_fp32_step_activations")}
        print(f"{name}: {100 * rows[name]['accuracy']:.2f}% on {a.data} {a.split}", flush=True)
    timed = _time_interleaved({k: (s.solve_one, texts[: a.problems]) for k, s in solvers.items()}, repeats=3)
    first = next(iter(timed))
    for name, t in timed.items():
        rows[name]["solve_ms"] = t
        rows[name]["p50_vs_first"] = round(t["p50_ms"] / timed[first]["p50_ms"], 3)
        print(f"{name}: solve p50 {t['p50_ms']:.2f} ms ({rows[name]['p50_vs_first']:.3f}x the first)")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"data": a.data, "split": a.split, "threads": a.threads, "problems_timed": a.problems,
                                 "machine": {"processor": platform.machine(), "platform": platform.platform()},
                                 "rows": rows}, indent=2))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
