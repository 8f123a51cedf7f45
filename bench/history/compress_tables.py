"""Markdown tables of the compress experiments (bench/asdiv_compress.sh) from their manifests.

    python bench/history/compress_tables.py runs > bench/results/asdiv-a-fold0-compress.md
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def load(run: Path) -> dict | None:
    f = run / "manifest.json"
    return json.loads(f.read_text()) if f.is_file() else None


def row(name: str, m: dict, teacher_acc: float) -> str:
    met, cfg = m["metrics"], m["config"]
    b, a = met["before"], met["after"]
    kept = met["rounds"][-1]["kept_per_layer"]
    score = "random" if cfg.get("scorer") == "random" else f"alpha {cfg['alpha']}, {cfg.get('entropy_sign', 'low')} entropy kept"
    acc = a["dev_acc"]
    return (f"| {name} | {cfg['prune_heads']:.0%} | {cfg['rounds']} x {cfg['epochs']} | {'yes' if cfg['distill'] else 'no'} | {score} | "
            f"{' '.join(map(str, kept))} | {100 * acc:.2f} | {100 * (acc - teacher_acc):+.2f} | "
            f"{100 * (a['params']['total'] / b['params']['total'] - 1):+.1f}% | "
            f"{100 * (a['params']['attention'] / b['params']['attention'] - 1):+.1f}% | "
            f"{100 * (a['flops'] / b['flops'] - 1):+.1f}% | {m['wall_time_s'] / 60:.1f} |")


def main(runs: Path) -> None:
    head = ("| run | heads pruned | rounds x epochs | distill | score | heads kept per layer | dev acc % | vs teacher | "
            "params | attention params | encoder FLOPs | minutes |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    teacher = load(runs / "teacher-asdiv-a-0")
    t_acc = teacher["metrics"]["dev_acc"] if teacher else float("nan")
    print(f"Teacher (runs/teacher-asdiv-a-0): dev accuracy {100 * t_acc:.2f}% on ASDiv-A fold 0 (238 problems; "
          f"one problem = 0.42 points).\n")
    groups = {
        "Main rows": ["c30-alpha0.5", "c30-one-round", "c50-alpha0.5", "c50-one-round", "c50-rec4",
                      "c50-one-round-alpha0.0"],
        "Alpha sweep at 30% (3 rounds)": [f"c30-alpha{a}" for a in ("0.0", "0.3", "0.5", "0.7", "1.0")],
        "Ablation at 30% (same 6 epochs in total)": ["c30-prune-only", "c30-one-round", "c30-alpha0.5"],
        "Controls (one round x 6 epochs)": ["c30-one-round-random", "c30-one-round", "c50-one-round-alpha0.0-high",
                                            "c50-one-round-alpha0.0"],
    }
    for title, names in groups.items():
        print(f"### {title}\n\n{head}")
        for n in names:
            m = load(runs / n)
            print(row(n, m, t_acc) if m else f"| {n} | not run yet |||||||||||")
        print()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs"))
