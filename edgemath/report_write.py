"""The report's Markdown and PNG plots, from the results ``edgemath.report.build`` gathered.

Kept apart from the runs so a report can be rewritten from ``results.json`` alone.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from edgemath.paired import paired_delta, str_to_marks

PAPER = {"accuracy_drop": 0.7, "speedup": 0.275, "params": -0.187, "flops": -0.193}
"""arXiv 2511.17577, Math23k at 30% heads: 84.4 -> 83.7, +27.5% speed, -18.7% params, -19.3% FLOPs."""


def _mean_sd(xs: list[float]) -> tuple[float, float | None]:
    """Mean and sample sd (None from a single fold: there is no spread to show)."""
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else None)


def aggregate(cells: dict) -> dict[float, dict]:
    """Per ratio: mean and sd over folds of each measure, and the per-fold deltas to the teacher."""
    ratios = sorted({float(r) for per in cells.values() for r in per})
    out = {}
    for ratio in ratios:
        rows = [(f, per[ratio]) for f, per in cells.items() if ratio in per]
        agg = {"folds": [f for f, _ in rows]}
        for key in ("accuracy", "int8_accuracy", "fp32_ms", "int8_ms", "flops", "int8_bytes"):
            agg[key] = _mean_sd([r[key] for _, r in rows])
        for key in ("total", "attention", "ffn", "embeddings"):
            agg[f"params_{key}"] = _mean_sd([r["params"][key] for _, r in rows])
        base = [(cells[f].get(0.0), r) for f, r in rows if 0.0 in cells[f]]
        if base:
            agg["delta_points"] = _mean_sd([100 * (r["accuracy"] - b["accuracy"]) for b, r in base])
            agg["fp32_speedup"] = _mean_sd([b["fp32_ms"] / r["fp32_ms"] - 1 for b, r in base])
            agg["int8_speedup"] = _mean_sd([b["int8_ms"] / r["int8_ms"] - 1 for b, r in base])
            agg["params_change"] = _mean_sd([r["params"]["total"] / b["params"]["total"] - 1 for b, r in base])
            agg["flops_change"] = _mean_sd([r["flops"] / b["flops"] - 1 for b, r in base])
        agg["heads_per_layer"] = rows[0][1]["heads_per_layer"]
        out[ratio] = agg
    return out


def paired_ci(ref: dict, row: dict) -> list[float] | None:
    """``row - ref``'s 95% paired bootstrap interval in points from two rows' per-problem marks (a
    held-out split's); None where either has none (older results, or dev folds)."""
    if not (ref.get("correct") and row.get("correct")):
        return None
    return paired_delta(str_to_marks(ref["correct"]), str_to_marks(row["correct"]))["ci95_points"]


def _ci_text(ci: list[float]) -> str:
    return " ({:+.1f} .. {:+.1f})".format(*ci)


def paired_intervals(cells: dict) -> dict[float, list[float]]:
    """Per ratio, Δ's 95% paired bootstrap interval against the teacher, where one fold was scored on a
    held-out split with per-problem marks (over folds Δ is mean ± sd instead)."""
    if len(cells) != 1:
        return {}
    per = next(iter(cells.values()))
    cis = {r: paired_ci(per.get(0.0, {}), row) for r, row in per.items() if r > 0}
    return {r: ci for r, ci in cis.items() if ci}


def _pm(ms, scale=1.0, fmt="{:.2f}") -> str:
    m, s = ms
    return fmt.format(m * scale) if s is None else (fmt + " ± " + fmt).format(m * scale, s * scale)


def plots(agg: dict[float, dict], out: Path, split: str = "dev") -> list[str]:
    """accuracy vs ratio, latency vs ratio, accuracy vs latency (Pareto), heads kept heat map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratios = sorted(agg)
    names = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out / name, dpi=120)
        plt.close(fig)
        names.append(name)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key, label in (("accuracy", "PyTorch fp32"), ("int8_accuracy", "ONNX int8")):
        ax.errorbar(ratios, [100 * agg[r][key][0] for r in ratios], yerr=[100 * (agg[r][key][1] or 0) for r in ratios],
                    marker="o", capsize=3, label=label)
    ax.set(xlabel="fraction of heads removed", ylabel=f"{split} accuracy (%)", title="Accuracy vs pruning ratio")
    ax.legend()
    save(fig, "accuracy_vs_ratio.png")

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key, label in (("fp32_ms", "ONNX fp32"), ("int8_ms", "ONNX int8")):
        ax.errorbar(ratios, [agg[r][key][0] for r in ratios], yerr=[agg[r][key][1] or 0 for r in ratios],
                    marker="o", capsize=3, label=label)
    ax.set(xlabel="fraction of heads removed", ylabel="encoder p50 ms (batch 1, 1 thread)", title="Latency vs pruning ratio")
    ax.legend()
    save(fig, "latency_vs_ratio.png")

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key, acc, label in (("fp32_ms", "accuracy", "fp32"), ("int8_ms", "int8_accuracy", "int8")):
        pts = sorted((agg[r][key][0], 100 * agg[r][acc][0], r) for r in ratios)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
        for x, y, r in pts:
            ax.annotate(f"{r:g}", (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
        front, best = [], -1.0  # Pareto: no faster point is at least as accurate
        for x, y, _ in pts:
            if y > best:
                front.append((x, y))
                best = y
        ax.plot([p[0] for p in front], [p[1] for p in front], ls="--", color="grey", lw=0.8)
    ax.set(xlabel="encoder p50 ms", ylabel=f"{split} accuracy (%)", title="Accuracy vs latency (dashed: Pareto front)")
    ax.legend()
    save(fig, "accuracy_vs_latency.png")

    kept = [agg[r]["heads_per_layer"] for r in ratios if agg[r]["heads_per_layer"]]
    if kept:
        fig, ax = plt.subplots(figsize=(5, 3))
        im = ax.imshow(kept, cmap="viridis", aspect="auto")
        ax.set(xlabel="layer", ylabel="heads removed", title="Heads kept per layer (first fold)",
               yticks=range(len(kept)), yticklabels=[f"{r:g}" for r in ratios if agg[r]["heads_per_layer"]])
        for i, row in enumerate(kept):
            for j, v in enumerate(row):
                ax.text(j, i, str(v), ha="center", va="center", color="white", fontsize=8)
        fig.colorbar(im)
        save(fig, "heads_per_layer.png")
    return names


def write_report(doc: dict, out: Path) -> Path:
    cfg = doc["config"]
    cells = {int(f): {float(r): row for r, row in per.items()} for f, per in doc["cells"].items()}
    agg = aggregate(cells)
    held = list(doc.get("held_out", {}).values()) or [{"split": "dev", "problems": None}]
    split = held[0]["split"]
    pngs = plots(agg, out, split)
    folds = sorted(cells)
    where = (f"Folds {', '.join(map(str, folds))}; dev split of each fold; mean ± sd over folds. " if split == "dev"
             else f"Scored on the {split} split (models selected on dev). ")
    encoder = Path(cfg["encoder"]).name if cfg.get("encoder") else "all-MiniLM-L6-v2"
    lines = [f"# {cfg['data']}: pruning report ({encoder})", "", where +
             f"Teacher {cfg['epochs']} epochs; students: alpha {cfg['alpha']}, {cfg['rounds']} round(s) x "
             f"{cfg['compress_epochs']} epochs; FFN neurons removed: {cfg.get('prune_ffn', 0):g}; vocabulary "
             f"{'pruned' if cfg.get('prune_vocab') else 'kept'} (rows other than 0). Latency: encoder p50, batch 1, 1 thread, real unpadded lengths, "
             f"{cfg['bench_problems']} {split} problems, all variants of a fold timed in one run. "
             f"Machine: {doc['machine']['processor']}, {doc['machine']['cpus']} CPUs ({doc['machine']['platform']}).", "",
             "Reproduce: `" + command(cfg) + "` (finished runs are reused).", "",
             "## Accuracy, size, cost and latency per ratio", "",
             "| heads removed | folds | accuracy % | Δ points | int8 accuracy % | params total (M) | attention (M) | FFN (M) | "
             "GFLOPs/problem | fp32 ms | int8 ms | int8 MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    intervals = paired_intervals(cells)
    for r, a in agg.items():
        delta = _pm(a["delta_points"]) if "delta_points" in a else ""
        if r in intervals:
            delta += _ci_text(intervals[r])
        lines.append(f"| {r:g} | {len(a['folds'])} | {_pm(a['accuracy'], 100)} | {delta} | {_pm(a['int8_accuracy'], 100)} | "
                     f"{_pm(a['params_total'], 1e-6)} | {_pm(a['params_attention'], 1e-6)} | {_pm(a['params_ffn'], 1e-6)} | "
                     f"{_pm(a['flops'], 1e-9, '{:.3f}')} | {_pm(a['fp32_ms'])} | {_pm(a['int8_ms'])} | {_pm(a['int8_bytes'], 1e-6, '{:.1f}')} |")
    if intervals:
        lines += ["", "On one split Δ carries its 95% paired bootstrap interval: the problems resampled, the same "
                  "ones for the student and the teacher (`edgemath.paired`)."]
    lines += ["", "## Against the paper (30% heads on Math23k)", ""]
    lines += paper_comparison(agg)
    if doc.get("equal_budget"):
        lines += ["", "## At an equal training budget", ""] + budget_comparison(doc["equal_budget"])
    if doc.get("no_distill"):
        lines += ["", "## With and without distillation", ""] + distill_comparison(cells, doc["no_distill"], split)
    if doc.get("sweeps"):
        lines += ["", f"## Alpha sweep and distillation ablation (fold {folds[0]}, {cfg['sweep_ratio']:g} of heads removed)", "",
                  "| run | accuracy % | int8 accuracy % | heads kept per layer | fp32 ms | int8 ms |", "|---|---|---|---|---|---|"]
        for label, row in doc["sweeps"].items():
            lines.append(f"| {label} | {100 * row['accuracy']:.2f} | {100 * row['int8_accuracy']:.2f} | "
                         f"{' '.join(map(str, row['heads_per_layer'] or []))} | {row['fp32_ms']:.2f} | {row['int8_ms']:.2f} |")
    lines += ["", "## Per fold", "", "| fold | heads removed | accuracy % | int8 % | fp32 ms | int8 ms | heads kept | run | train min |",
              "|---|---|---|---|---|---|---|---|---|"]
    for f in folds:
        for r, row in sorted(cells[f].items()):
            wall = f"{row['wall_time_s'] / 60:.1f}" if row.get("wall_time_s") else ""
            lines.append(f"| {f} | {r:g} | {100 * row['accuracy']:.2f} | {100 * row['int8_accuracy']:.2f} | {row['fp32_ms']:.2f} | "
                         f"{row['int8_ms']:.2f} | {' '.join(map(str, row['heads_per_layer'] or []))} | `{row['run']}` | {wall} |")
    lines += ["", "## Plots", ""] + [f"![{p[:-4]}]({p})" for p in pngs]
    sizes = sorted({h["problems"] for h in held if h["problems"]})
    lines += ["", f"Report wall time {doc['wall_time_s'] / 60:.1f} min (reused runs cost nothing)."]
    if sizes:
        n = f"{sizes[0]}" if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
        pts = f"{100 / sizes[0]:.2f}" if len(sizes) == 1 else f"{100 / sizes[-1]:.2f}-{100 / sizes[0]:.2f}"
        lines[-1] += (f" On {n} {split} problems{' per fold' if len(folds) > 1 else ''} one problem is {pts} points: "
                      "differences under ~1-3 points on one fold are noise.")
    (out / "README.md").write_text("\n".join(lines) + "\n")
    return out / "README.md"


def budget_comparison(budget: dict) -> list[str]:
    """Each student against its teacher and against the teacher trained the student's epochs more
    (dev accuracy, mean ± sd over folds of the per-fold differences)."""
    folds = sorted(budget, key=int)
    n = budget[folds[0]]["epochs"]
    students = {f: {float(r): acc for r, acc in budget[f]["students"].items()} for f in folds}  # JSON keys are str
    ratios = sorted({r for f in folds for r in students[f]})
    lines = [f"Students train {n} epochs from their teacher; \"teacher +{n}\" is the teacher trained {n} epochs more "
             f"(`edgemath train --init TEACHER --epochs {n}`, a fresh schedule), so a student above its teacher "
             "cannot come from training longer. Dev accuracy, points; mean ± sd over folds.", "",
             f"| heads removed | folds | student % | Δ vs teacher | Δ vs teacher +{n} |", "|---|---|---|---|---|",
             f"| teacher +{n} | {len(folds)} | {_pm(_mean_sd([budget[f]['accuracy'] for f in folds]), 100)} | "
             f"{_pm(_mean_sd([100 * (budget[f]['accuracy'] - budget[f]['teacher']) for f in folds]))} | |"]
    for r in ratios:
        have = [f for f in folds if r in students[f]]
        acc = [students[f][r] for f in have]
        lines.append(f"| {r:g} | {len(have)} | {_pm(_mean_sd(acc), 100)} | "
                     f"{_pm(_mean_sd([100 * (a - budget[f]['teacher']) for a, f in zip(acc, have)]))} | "
                     f"{_pm(_mean_sd([100 * (a - budget[f]['accuracy']) for a, f in zip(acc, have)]))} |")
    return lines


def distill_comparison(cells: dict, plain: dict, split: str) -> list[str]:
    """Each ratio's distilled student against the same pruning fine-tuned on the task loss alone
    (same heads removed, same epochs): points distillation adds, mean ± sd over folds."""
    plain = {int(f): {float(r): row for r, row in per.items()} for f, per in plain.items()}
    folds = sorted(plain)
    lines, paired = [], False
    for r in sorted({r for f in folds for r in plain[f]}):
        have = [f for f in folds if r in plain[f]]
        kd, nd = [cells[f][r] for f in have], [plain[f][r] for f in have]
        adds = _pm(_mean_sd([100 * (a['accuracy'] - b['accuracy']) for a, b in zip(kd, nd)]))
        ci = paired_ci(nd[0], kd[0]) if len(folds) == 1 else None  # one split: paired, problem by problem
        if ci:
            adds, paired = adds + _ci_text(ci), True
        lines.append(f"| {r:g} | {len(have)} | {_pm(_mean_sd([x['accuracy'] for x in kd]), 100)} | "
                     f"{_pm(_mean_sd([x['accuracy'] for x in nd]), 100)} | {adds} | "
                     f"{_pm(_mean_sd([x['int8_accuracy'] for x in kd]), 100)} | "
                     f"{_pm(_mean_sd([x['int8_accuracy'] for x in nd]), 100)} |")
    note = " On one split the difference carries its 95% paired bootstrap interval (`edgemath.paired`)." if paired else ""
    return [f"\"No distillation\": the same heads removed and the same epochs, trained on the task loss alone (no "
            f"teacher). {split.capitalize()} accuracy %, mean ± sd over folds.{note}", "",
            "| heads removed | folds | distilled % | no distillation % | distillation adds (points) | "
            "int8, distilled % | int8, no distillation % |", "|---|---|---|---|---|---|---|"] + lines


def paper_comparison(agg: dict[float, dict]) -> list[str]:
    """The 30% row against the paper's claims, each marked holds / does not hold, and why in this
    encoder's own numbers: 30% of the heads can remove at most 30% of its attention parameters."""
    a, t = agg.get(0.3), agg.get(0.0)
    if not a or "delta_points" not in a or not t:
        return ["No 0.3 row beside a teacher row: nothing to compare."]
    rows = [("accuracy (points)", -PAPER["accuracy_drop"], a["delta_points"][0], "{:+.2f}", True),
            ("speed, fp32 encoder", PAPER["speedup"], a["fp32_speedup"][0], "{:+.1%}", True),
            ("speed, int8 encoder", PAPER["speedup"], a["int8_speedup"][0], "{:+.1%}", True),
            ("parameters", PAPER["params"], a["params_change"][0], "{:+.1%}", False),
            ("FLOPs", PAPER["flops"], a["flops_change"][0], "{:+.1%}", False)]
    lines = ["| measure | paper | here | the paper's claim |", "|---|---|---|---|"]
    for name, paper, here, fmt, higher_is_better in rows:
        holds = here >= paper if higher_is_better else here <= paper
        lines.append(f"| {name} | {fmt.format(paper)} | {fmt.format(here)} | {'holds' if holds else 'does not hold'} |")
    total, att = t["params_total"][0], t["params_attention"][0]
    emb, ffn = t["params_embeddings"][0], t["params_ffn"][0]
    lines += ["", f"Why, in this encoder's numbers: attention is {att / total:.1%} of its parameters (embeddings "
              f"{emb / total:.1%}, FFN {ffn / total:.1%}), so removing 30% of the heads can remove at most "
              f"{0.3 * att / total:.1%} of them (measured {-a['params_change'][0]:.1%}); the paper's -18.7% would need attention "
              f"to be at least {-PAPER['params'] / 0.3:.0%} of the parameters. Speed follows the FLOPs the heads carry; "
              "the FFN and embeddings keep theirs."]
    return lines


def command(cfg: dict) -> str:
    parts = [f"edgemath report --data {cfg['data']} --folds {','.join(map(str, cfg['folds']))}",
             f"--ratios {','.join(f'{r:g}' for r in cfg['ratios'])}", f"--out {cfg['out']}"]
    if cfg.get("alphas"):
        parts.append(f"--alphas {','.join(f'{a:g}' for a in cfg['alphas'])}")
    if cfg.get("ablation"):
        parts.append("--ablation")
    if cfg.get("no_distill"):
        parts.append("--no-distill")
    for key, default in (("epochs", 30), ("compress_epochs", 6), ("rounds", 1), ("alpha", 0.0), ("prune_ffn", 0.0)):
        if cfg.get(key, default) != default:
            parts.append(f"--{key.replace('_', '-')} {cfg[key]:g}")
    if cfg.get("prune_vocab"):
        parts.append("--prune-vocab")
    if cfg.get("init"):
        parts.append(f"--init {cfg['init']}")
    if cfg.get("encoder"):
        parts.append(f"--encoder {cfg['encoder']}")
    for key in ("encoder_layers", "const_min_count", "step_layers"):
        if cfg.get(key) is not None:
            parts.append(f"--{key.replace('_', '-')} {cfg[key]}")
    if cfg.get("percent_fraction"):
        parts.append("--percent-fraction")
    if cfg.get("equal_budget") is False:
        parts.append("--no-equal-budget")
    return " ".join(parts)


def rewrite(out: Path) -> Path:
    """Rewrite README.md and the plots from ``out/results.json``."""
    return write_report(json.loads((out / "results.json").read_text()), out)
