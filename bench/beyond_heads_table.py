"""Markdown table of bench/beyond_heads.sh (heads-only vs heads+FFN vs heads+FFN+vocabulary) and
bench/history/layers.sh (FFN-only and layer dropping):

    python bench/beyond_heads_table.py bench/results/beyond-heads-asdiv-a-0.json

Per run: what was pruned, parameters, FLOPs, dev accuracy (PyTorch, ONNX int8), encoder latency
p50 at batch 1 / 1 thread in fp32 and int8 with its ratio to the teacher at the same precision
(all timed side by side in one bench run), and the int8 solver's file size.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from edgemath.checkpoint import load_solver
from edgemath.compress.structure import encoder_flops, param_counts
from edgemath.manifest import lineage
from edgemath.report import dev_seq_len


def table(bench: dict, data_dir: str | None = None) -> str:
    rows = {Path(r["dir"]): r for r in bench["rows"].values()}
    runs = list(dict.fromkeys(d.parent for d in rows))
    teacher = runs[0]
    base = {p: rows[teacher / f"export-{p}"]["encoder_t1"]["p50_ms"] for p in ("fp32", "int8")}
    out = ["| run | layers | heads kept | FFN kept | vocab | params (M) | GFLOPs | accuracy % | int8 accuracy % | "
           "fp32 ms (x teacher) | int8 ms (x teacher) | int8 MB |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    chains = {run: lineage(run) for run in runs}
    for run in runs:
        doc = chains[run][0][1]
        m = doc["metrics"]
        if doc["stage"] == "train":  # a teacher records no structure: count it as compress counts a student
            solver, _ = load_solver(run)
            heads, ffn, acc = "all", "all", m["dev_acc"]
            params = param_counts(solver.encoder)["total"]
            flops = encoder_flops(solver.encoder, dev_seq_len(run, bench["data"], data_dir))
        else:
            # a vocabulary-only step trained nothing: its heads and FFN come from the step before
            pruned = next((d["metrics"] for _, d in chains[run] if d["metrics"].get("rounds")), m)
            heads = " ".join(map(str, pruned["rounds"][-1]["kept_per_layer"])) if pruned.get("rounds") else "all"
            ffn = " ".join(map(str, pruned.get("ffn_widths") or [])) or "all"
            params, flops, acc = m["after"]["params"]["total"], m["after"]["flops"], m["after"]["dev_acc"]
        f, q = rows[run / "export-fp32"], rows[run / "export-int8"]
        # from the checkpoint itself: a student of a vocabulary-cut teacher has no vocabulary step of its own
        enc = json.loads((run / "checkpoint" / "encoder" / "config.json").read_text())
        layers, vocab = enc["num_hidden_layers"], enc["vocab_size"]
        out.append(f"| `{run}` | {layers} | {heads} | {ffn} | {vocab} | {'' if params is None else f'{params / 1e6:.2f}'} | "
                   f"{'' if flops is None else f'{flops / 1e9:.3f}'} | {100 * acc:.2f} | {100 * q['accuracy']:.2f} | "
                   f"{f['encoder_t1']['p50_ms']:.2f} ({f['encoder_t1']['p50_ms'] / base['fp32']:.2f}x) | "
                   f"{q['encoder_t1']['p50_ms']:.2f} ({q['encoder_t1']['p50_ms'] / base['int8']:.2f}x) | {q['bytes'] / 1e6:.1f} |")
    return "\n".join(out)


if __name__ == "__main__":
    print(table(json.loads(Path(sys.argv[1]).read_text()), os.environ.get("EDGEMATH_DATA")))
