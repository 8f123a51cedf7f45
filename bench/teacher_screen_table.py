"""The recipe-screening table of docs/results.md from the runs of bench/teacher_screen.sh.

    python bench/teacher_screen_table.py runs/screen [--baseline reports/asdiv-a/results.json]

A row per recipe (runs named RECIPE-fFOLD): best dev accuracy per fold, mean ± sd, and the mean
difference to the baseline over the same folds. The baseline is the recipe named ``baseline``
when it was run, else the teachers of a committed ``edgemath report`` (same command, earlier
session). Unfinished runs show their best epoch so far and are left out of the means.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgemath.manifest import read_manifest  # noqa: E402


def fold_result(run: Path) -> dict:
    if (run / "manifest.json").is_file():
        m = read_manifest(run)
        return {"acc": m["metrics"]["dev_acc"], "epoch": m["metrics"]["best_epoch"], "minutes": m["wall_time_s"] / 60,
                "done": True}
    log = run.with_name(run.name + ".log")
    accs = [float(a) for a in re.findall(r"dev (\d\.\d+)", log.read_text())] if log.is_file() else []
    return {"acc": max(accs) if accs else None, "epoch": len(accs), "done": False}


def collect(root: Path) -> dict[str, dict[int, dict]]:
    rows: dict[str, dict[int, dict]] = {}
    for run in sorted(p for p in root.iterdir() if p.is_dir()):
        m = re.fullmatch(r"(.+)-f(\d+)", run.name)
        if m:
            rows.setdefault(m.group(1), {})[int(m.group(2))] = fold_result(run)
    return rows


def merge(recorded: dict, found: dict[str, dict[int, dict]]) -> dict[str, dict[int, dict]]:
    """The results already in the JSON, updated by the runs found: a run folder lost with a
    workspace keeps its recorded number, and a finished result is never replaced by a running one."""
    rows = {name: {int(f): r for f, r in by_fold.items()} for name, by_fold in recorded.items()}
    for name, by_fold in found.items():
        for f, r in by_fold.items():
            old = rows.setdefault(name, {}).get(f)
            if old is None or r["done"] or not old["done"]:
                rows[name][f] = r
    return rows


def mean_sd(xs: list[float]) -> str:
    if not xs:
        return ""
    return f"{100 * statistics.mean(xs):.2f}" + (f" ± {100 * statistics.stdev(xs):.2f}" if len(xs) > 1 else "")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("--baseline", type=Path, default=Path("reports/asdiv-a/results.json"))
    ap.add_argument("--json", type=Path, default=Path("bench/results/teacher-screen.json"))
    args = ap.parse_args()
    rows = merge(json.loads(args.json.read_text()) if args.json.is_file() else {}, collect(args.root))
    if "baseline" not in rows and args.baseline.is_file():
        cells = json.loads(args.baseline.read_text())["cells"]
        rows = {"baseline": {int(f): {"acc": c["0.0"]["accuracy"], "done": True, "from": str(args.baseline)}
                             for f, c in cells.items()}, **rows}
    folds = sorted({f for r in rows.values() for f in r})
    base = rows.get("baseline", {})
    print("| recipe | " + " | ".join(f"fold {f}" for f in folds) + " | mean ± sd | vs baseline (same folds) |")
    print("|---|" + "---|" * (len(folds) + 2))
    for name, by_fold in rows.items():
        cells = []
        for f in folds:
            r = by_fold.get(f)
            if r is None or r["acc"] is None:
                cells.append("")
            else:
                cells.append(f"{100 * r['acc']:.2f}" + ("" if r["done"] else f" (running, {r['epoch']} epochs)"))
        done = {f: r["acc"] for f, r in by_fold.items() if r["done"]}
        paired = [done[f] - base[f]["acc"] for f in done if f in base and base[f]["done"]]
        diff = f"{100 * statistics.mean(paired):+.2f}" if paired and name != "baseline" else ""
        print(f"| {name} | " + " | ".join(cells) + f" | {mean_sd([done[f] for f in sorted(done)])} | {diff} |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
