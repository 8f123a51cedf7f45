"""The recipe-screening table of docs/results.md from the runs of bench/teacher_screen.sh.

    python bench/teacher_screen_table.py runs/screen [--json bench/results/teacher-screen.json] [--versus mpnet12]

A row per recipe (runs named RECIPE-fFOLD): best dev accuracy per fold, mean ± sd, and the mean
difference to the baseline over the same folds (and to the recipe named by --versus, such as the
base teacher a distilled student learns from). The baseline is the recipe named ``baseline``
when it was run, else the teachers of a committed ``edgemath report`` (same command, earlier
session). Unfinished runs show their best epoch so far and are left out of the means. With --json,
the rows already in that file are kept (runs deleted since stay in the table) and the file is
rewritten; without it nothing is written, so a dry run on a scratch folder cannot reach the results.
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
from edgemath.report import dev_accuracy  # noqa: E402


def fold_result(run: Path) -> dict:
    if (run / "manifest.json").is_file():
        m = read_manifest(run)
        # a compress run (bench/mpnet_hard.sh) is scored after its last round, its epochs all spent
        epoch = m["metrics"]["best_epoch"] if m["stage"] == "train" else m["config"]["rounds"] * m["config"]["epochs"]
        return {"acc": dev_accuracy(m), "epoch": epoch, "minutes": m["wall_time_s"] / 60, "done": True}
    log = run.with_name(run.name + ".log")
    accs = [float(a) for a in re.findall(r"dev (\d\.\d+)", log.read_text())] if log.is_file() else []
    return {"acc": max(accs) if accs else None, "epoch": len(accs), "done": False}


def is_solver_run(run: Path) -> bool:
    """A train or compress run; an encoder made for a fold (import-e5's e5-asdiv-a-f0) is not."""
    return not (run / "manifest.json").is_file() or read_manifest(run)["stage"] in ("train", "compress")


def collect(root: Path) -> dict[str, dict[int, dict]]:
    rows: dict[str, dict[int, dict]] = {}
    for run in sorted(p for p in root.iterdir() if p.is_dir()):
        m = re.fullmatch(r"(.+)-f(\d+)", run.name)
        if m and is_solver_run(run):
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


def paired_diff(by_fold: dict[int, dict], ref: dict[int, dict]) -> str:
    """Mean difference over the folds both have finished, so a missing fold cannot move it."""
    diffs = [r["acc"] - ref[f]["acc"] for f, r in by_fold.items() if r["done"] and f in ref and ref[f]["done"]]
    return f"{100 * statistics.mean(diffs):+.2f}" if diffs else ""


def mean_sd(xs: list[float]) -> str:
    if not xs:
        return ""
    return f"{100 * statistics.mean(xs):.2f}" + (f" ± {100 * statistics.stdev(xs):.2f}" if len(xs) > 1 else "")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("--baseline", type=Path, default=Path("reports/asdiv-a/results.json"))
    ap.add_argument("--json", type=Path, help="results file to merge with and rewrite (bench/results/...)")
    ap.add_argument("--versus", help="a second reference recipe: a column of differences to it")
    args = ap.parse_args()
    kept = json.loads(args.json.read_text()) if args.json and args.json.is_file() else {}
    rows = merge(kept, collect(args.root))
    if "baseline" not in rows and args.baseline.is_file():
        cells = json.loads(args.baseline.read_text())["cells"]
        rows = {"baseline": {int(f): {"acc": c["0.0"]["accuracy"], "done": True, "from": str(args.baseline)}
                             for f, c in cells.items()}, **rows}
    folds = sorted({f for r in rows.values() for f in r})
    base = rows.get("baseline", {})
    versus = rows.get(args.versus) if args.versus else None  # a recipe not run yet: no column
    extra = f" vs {args.versus} (same folds) |" if versus is not None else ""
    print("| recipe | " + " | ".join(f"fold {f}" for f in folds) + " | mean ± sd | vs baseline (same folds) |" + extra)
    print("|---|" + "---|" * (len(folds) + 2 + (versus is not None)))
    for name, by_fold in rows.items():
        cells = []
        for f in folds:
            r = by_fold.get(f)
            if r is None or r["acc"] is None:
                cells.append("")
            else:
                cells.append(f"{100 * r['acc']:.2f}" + ("" if r["done"] else f" (running, {r['epoch']} epochs)"))
        done = {f: r["acc"] for f, r in by_fold.items() if r["done"]}
        diff = paired_diff(by_fold, base) if name != "baseline" else ""
        vs = "" if versus is None else " " + (paired_diff(by_fold, versus) if name != args.versus else "") + " |"
        print(f"| {name} | " + " | ".join(cells) + f" | {mean_sd([done[f] for f in sorted(done)])} | {diff} |" + vs)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
