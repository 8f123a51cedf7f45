"""What the compress stage writes down: finished rounds (resume), each round's summary, the table
printed at the end and the manifest's metrics. Kept apart from the loop (run.py) so the loop reads
as the paper's procedure; the keys are the manifest's, unchanged since before the pruner protocol.
"""
from __future__ import annotations

import json
import os
from pathlib import Path


def save_round(student, tok, masks: dict, trained: list, info: dict, out: Path) -> None:
    """The round's masked student and ``round.json`` (its summary plus each TRAIN pruner's mask)."""
    from edgemath.checkpoint import save_solver

    save_solver(student, tok, out / "checkpoint")
    tmp = out / "round.json.tmp"
    saved = {}
    for p in trained:
        saved.update(p.save(masks.get(p.name)))
    tmp.write_text(json.dumps({**info, **saved}))
    os.replace(tmp, out / "round.json")  # written last: its presence means the round finished


def finished_rounds(out: Path) -> list[int]:
    done = []
    for d in sorted((out / "rounds").glob("round*")):
        if (d / "round.json").is_file() and d.name[5:].isdigit():
            done.append(int(d.name[5:]))
    return sorted(done)


def load_rounds(out: Path, done: list[int], trained: list, device: str):
    """(student of the last finished round, its tokenizer, its masks, every finished round's summary)."""
    from edgemath.checkpoint import load_solver

    last = out / "rounds" / f"round{done[-1]}"
    student, tok = load_solver(last / "checkpoint", device)
    info = json.loads((last / "round.json").read_text())
    masks = {p.name: m for p in trained if (m := p.load(info, student.encoder)) is not None}
    rows = [json.loads((out / "rounds" / f"round{r}" / "round.json").read_text()) for r in done]
    return student, tok, masks, rows


def round_summary(cfg, k: int, student, masks: dict) -> dict:
    """Ratios reached, heads and FFN neurons kept per layer, parameters with the masks applied."""
    from edgemath.compress.structure import heads_per_layer, kept_per_layer, param_counts

    heads, ffn, frac = masks.get("heads"), masks.get("ffn"), k / cfg.rounds
    return {"ratio": cfg.prune_heads * frac, "ffn_ratio": cfg.prune_ffn * frac,
            "kept_per_layer": heads_per_layer(student.encoder) if heads is None else kept_per_layer(heads),
            "params": param_counts(student.encoder, heads, ffn)["total"],
            "ffn_per_layer": None if ffn is None else kept_per_layer(ffn)}


def layers_kept(n_layers: int, rows: list[dict]) -> list[int]:
    """The surviving layers as indices of the teacher's, through every round's drop."""
    kept = list(range(n_layers))
    for r in rows:
        kept = [kept[l] for l in r.get("layers_kept", range(len(kept)))]
    return kept


def vocab_line(vocab: dict) -> str:
    check = vocab["check"]
    return (f"vocabulary: kept {vocab['kept']} of {vocab['of']} tokens; GSM8K test [UNK] rate "
            f"{vocab['gsm8k_test_unk']['rate']:.4%}; dev {check['identical_equations']}/"
            f"{check['problems']} equations unchanged ({check['respelled']} texts respelled), "
            f"accuracy {check['accuracy']:.4f}")


def print_table(console, cfg, teacher_heads: list[int], before: dict, rows: list[dict], after: dict, check: dict) -> None:
    from rich.table import Table

    table = Table(title=f"compress {cfg.teacher} -> {cfg.out}")
    for col in ("round", "heads", "ffn", "heads kept per layer", "ffn kept per layer", "params", "dev acc", "time"):
        table.add_column(col)
    table.add_row("teacher", "0", "0", " ".join(map(str, teacher_heads)), "",
                  f"{before['params']['total'] / 1e6:.2f}M", f"{before['dev_acc']:.4f}", "")
    for r in rows:
        table.add_row(str(r["round"]), f"{r['ratio']:.2f}", f"{r.get('ffn_ratio', 0):.2f}",
                      " ".join(map(str, r["kept_per_layer"])), " ".join(map(str, r.get("ffn_per_layer") or [])),
                      f"{r['params'] / 1e6:.2f}M", f"{r['dev_acc']:.4f}", f"{r['wall_time_s'] / 60:.1f} min")
    table.add_row("baked", "", "", "", "", f"{after['params']['total'] / 1e6:.2f}M", f"{after['dev_acc']:.4f}", "")
    console.print(table)
    console.print(f"baked: max |diff| {check['max_abs_diff']:.2e}, identical equations "
                  f"{check['identical_equations']}/{check['problems']}, dev {after['dev_acc']:.4f}")


def metrics(before: dict, after: dict, check: dict, baked: dict, rows: list[dict], kept: list[int],
            seq_len: float) -> dict:
    """The manifest's metrics; ``baked``: each pruner's bake record by name."""
    return {"before": before, "after": after, "bake_check": check, "pruned_heads": baked.get("heads", {}),
            "ffn_widths": baked.get("ffn"), "vocab": baked.get("vocab"), "layers_kept": kept,
            "rounds": [{k: v for k, v in r.items() if k != "history"} for r in rows],
            "histories": [r.get("history") for r in rows], "seq_len_mean": seq_len}
