"""Write an export directory's model card (README.md) from the manifests that made it.

    python bench/model_card.py models/default --bench bench/results/default.json \
        [--held-out-run runs/ffn/h0.3-f0.6-v]

Every number comes from a manifest or a bench JSON, never typed by hand: the teacher's and
student's settings and accuracy, the bake and export checks, the sizes, the latency table.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgemath.manifest import lineage, read_manifest


def _read(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def _cmd(stage: str, cfg: dict, keys: list[str]) -> str:
    parts = [f"edgemath {stage}"]
    for k in keys:
        v = cfg.get(k)
        if v is None or v is False or v == "":
            continue
        flag = "--" + k.replace("_", "-")
        parts.append(flag if v is True else f"{flag} {v}")
    return " ".join(parts)


def encoder_flag(path: str) -> str:
    """``--encoder`` as a user types it: a named encoder's cache folder by its name (mpnet)."""
    from edgemath.encoders import NAMED

    return next((n for n, e in NAMED.items() if Path(path).name == e.folder), path)


def _trains(cfg: dict) -> bool:
    """A compress step that removes no heads, neurons or layers only cuts the vocabulary: no training."""
    return bool(cfg.get("prune_heads") or cfg.get("prune_ffn") or cfg.get("drop_layers"))


def card(export_dir: Path, bench: dict | None, held_out: Path | None, note: str = "", gsm8k: dict | None = None) -> str:
    exp = _read(export_dir / "manifest.json")
    chain = lineage(Path(exp["config"]["run"]))
    (t_path, teach), steps = chain[-1], list(reversed(chain[:-1]))  # teacher, then compress steps in order
    tcfg, tm = teach["config"], teach["metrics"]
    first, last = steps[0][1]["metrics"], steps[-1][1]["metrics"]
    par = exp["parity"]
    before, after = first["before"]["params"], last["after"]["params"]
    pool = tcfg["data"] == "mawps-asdiv-a"
    init = read_manifest(Path(tcfg["init"])) if tcfg.get("init") else None  # a start, e.g. from GSM8K train
    start = (f", starting from a solver trained on `{init['config']['data']}` train ({init['config']['epochs']} epochs)"
             if init else "")
    kd = read_manifest(Path(tcfg["teacher"])) if tcfg.get("teacher") else None  # a base-size teacher it distilled from
    if kd:
        start += (f", distilled from the base-size teacher `{tcfg['teacher']}` ({Path(kd['config']['encoder']).name} encoder, "
                  f"{kd['config']['epochs']} epochs on `{kd['config']['data']}`, dev {100 * kd['metrics']['dev_acc']:.2f}%)")
    lines = [
        f"# {export_dir.name}: a compressed int8 math-word-problem solver", "",
        f"Made by edgemath's own pipeline: MiniLM-L6 (all-MiniLM-L6-v2) + deductive decoder (hidden {tcfg.get('hidden', 256)}) trained on "
        f"`{tcfg['data']}`{' (all 3,138 MAWPS + ASDiv-A problems)' if pool else ''}{start}, compressed with distillation, "
        "exported to ONNX and quantized to int8 (dynamic, per-channel). Run it with `edgemath solve` "
        "(onnxruntime + tokenizers + numpy, no torch).", "",
        "## License of the training data", "",
        "Trained on ASDiv-A (ASDiv, **CC BY-NC 4.0: non-commercial use only**)"
        + (" and MAWPS (no licence stated)" if pool or "mawps" in tcfg["data"] else "")
        + (", started from GSM8K train (MIT License; its test split stays held out)"
           if init and init["config"]["data"] == "gsm8k" else "")
        + ": this model inherits those terms. The encoder it starts from, all-MiniLM-L6-v2, is Apache-2.0"
        + (f"; its teacher's, {Path(kd['config']['encoder']).name}, too" if kd else "") + ".", "",
        "## How it was made", "", "```",
        *([_cmd("train", init["config"], ["data", "hidden", "out", "epochs"])] if init else []),
        *([_cmd("train", {**kd["config"], "encoder": encoder_flag(kd["config"]["encoder"])}, ["data", "encoder", "out", "epochs"])]
          if kd else []),
        _cmd("train", {**tcfg, "out": str(t_path)}, ["data", "hidden", "init", "teacher", "out", "epochs", "augment"]),
        *[_cmd("compress", {**d["config"], "out": str(p)},
               ["teacher", "data", "out", "prune_heads", "prune_ffn", "prune_vocab", "augment"]
               + (["vocab_min_count", "vocab_train_min_count"] if d["config"].get("prune_vocab") else [])
               + (["rounds", "alpha", "epochs", "encoder_lr"] if _trains(d["config"]) else [])) for p, d in steps],
        f"edgemath export {chain[0][0]} --out {export_dir} --int8 --max-int8-drop {exp['config']['max_int8_drop']}",
        "```", "",
        f"Teacher: {tm['train_problems']} training problems, {tcfg['epochs']} epochs, "
        f"{teach['wall_time_s'] / 60:.0f} min on a {teach['machine']['cpus']}-core CPU machine shared with other jobs (an upper bound). "
        f"Compression: {sum(d['wall_time_s'] for _, d in steps) / 60:.0f} min.", "",
        "## Size", "",
        "| | teacher | this model |", "|---|---|---|",
        f"| encoder parameters | {before['total'] / 1e6:.2f}M | {after['total'] / 1e6:.2f}M |",
        f"| of which embeddings | {before['embeddings'] / 1e6:.2f}M | {after['embeddings'] / 1e6:.2f}M |",
        f"| attention | {before['attention'] / 1e6:.2f}M | {after['attention'] / 1e6:.2f}M |",
        f"| FFN | {before['ffn'] / 1e6:.2f}M | {after['ffn'] / 1e6:.2f}M |",
        f"| encoder GFLOPs per problem ({first['seq_len_mean']:.0f} tokens) | {first['before']['flops'] / 1e9:.2f} | "
        f"{last['after']['flops'] / 1e9:.2f} |", "",
        f"ONNX graphs: {exp['total_bytes'] / 1e6:.1f} MB ({', '.join(f'{k} {v / 1e6:.1f} MB' for k, v in exp['graph_bytes'].items())}); "
        f"the whole folder with tokenizer and manifests: "
        f"{sum(p.stat().st_size for p in export_dir.iterdir() if p.is_file()) / 1e6:.1f} MB.",
    ]
    cm = next((d["metrics"] for _, d in reversed(steps) if d["metrics"]["rounds"]), last)
    ccfg = next((d["config"] for _, d in steps if d["config"].get("prune_vocab")), steps[-1][1]["config"])
    vocab = next((d["metrics"]["vocab"] for _, d in steps if d["metrics"].get("vocab")), None)
    kept = cm["rounds"][-1] if cm["rounds"] else {}
    lines += ["", f"Heads kept per layer: {' '.join(map(str, kept.get('kept_per_layer', [])))}; "
              f"FFN neurons kept per layer: {' '.join(map(str, cm.get('ffn_widths') or [])) or 'all'}."]
    if vocab:
        train_min = ccfg.get("vocab_train_min_count", 1)
        texts = "the training texts" if train_min <= 1 else f"training-text tokens seen at least {train_min} times"
        lines += [f"Vocabulary: {vocab['kept']} of {vocab['of']} tokens kept ({texts}, GSM8K train tokens seen "
                  f"at least {ccfg['vocab_min_count']} times, Latin single characters); on GSM8K test questions "
                  f"{vocab['gsm8k_test_unk']['rate']:.3%} of tokens become [UNK]."]
    where = (f"its fit-check set ({par['int8']['problems']} problems: ASDiv-A and MAWPS fold-0 dev, both inside the "
             "training pool, so this is not a held-out number)" if pool else
             f"the {par['int8']['problems']} dev problems of `{tcfg['data']}` (held out from training)")
    lines += ["", "## Accuracy", "",
              f"On {where}: PyTorch teacher {100 * tm['dev_acc']:.2f}%, compressed {100 * par['torch_dev_acc']:.2f}%, "
              f"this int8 model {100 * par['int8']['dev_acc']:.2f}%."]
    if held_out:
        lines += ["", "Held-out estimate: " + held_out_summary(held_out)]
    if gsm8k:
        lines += ["", gsm8k_summary(gsm8k, export_dir)]
    if bench:
        lines += ["", "## Latency", "",
                  f"`edgemath bench` on {bench['machine']['processor']} with {bench['machine']['cpus']} CPUs, "
                  f"{bench['timed_problems']} problems at batch 1, real unpadded lengths, all rows in one run:", "",
                  "| variant | MB | encoder p50 ms, 1 thread | vs fp32 ONNX teacher | vs PyTorch teacher | "
                  "vs optimum int8 teacher | accuracy |", "|---|---|---|---|---|---|---|"]
        # bench's convention: the first export given is the unpruned fp32 teacher
        ref = next(r for name, r in bench["rows"].items() if not name.endswith(" teacher"))["encoder_t1"]["p50_ms"]
        for name, r in bench["rows"].items():
            lines.append(f"| {name} | {r['bytes'] / 1e6:.1f} | {r['encoder_t1']['p50_ms']:.2f} | "
                         f"{r['encoder_t1']['p50_ms'] / ref:.2f}x | {r.get('encoder_vs_pytorch', float('nan')):.2f}x | "
                         f"{r.get('encoder_vs_optimum_int8', float('nan')):.2f}x | {100 * r['accuracy']:.2f}% |")
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def gsm8k_summary(bench: dict, export_dir: Path) -> str:
    """GSM8K test, a held-out score for every shipped model: none of it is in any training set."""
    row = bench["rows"][export_dir.name]
    right = round(row["accuracy"] * bench["scored_problems"])
    return (f"GSM8K test (held out; {bench['scored_problems']} problems, answer within 1e-4, "
            f"`edgemath bench {export_dir} --data gsm8k`): **{100 * row['accuracy']:.2f}%** ({right} right). GSM8K problems "
            "take 2-8 operations; this model's training data mostly 1-2.")


def held_out_summary(run: Path) -> str:
    """The same pruning recipe on a benchmark fold, scored on that fold's dev split."""
    chain = lineage(run)
    (_, teacher), (_, doc) = chain[-1], chain[0]
    steps = [f"heads {d['config']['prune_heads']:g}, FFN {d['config'].get('prune_ffn', 0):g}"
             + (", vocabulary" if d["config"].get("prune_vocab") else "") for _, d in reversed(chain[:-1])]
    return (f"the same kind of compression ({'; then '.join(steps)}) on {doc['config']['data']}, trained on its train "
            f"split and scored on its dev split ({teacher['metrics']['dev_problems']} problems, not seen in training): "
            f"teacher {100 * teacher['metrics']['dev_acc']:.2f}%, compressed {100 * doc['metrics']['after']['dev_acc']:.2f}% "
            f"(PyTorch, before int8). Run: `{run}`.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export_dir", type=Path)
    ap.add_argument("--bench", type=Path, help="edgemath bench JSON with this model's row")
    ap.add_argument("--held-out-run", type=Path, help="a compress run of the same recipe on a benchmark fold")
    ap.add_argument("--gsm8k", type=Path, help="edgemath bench JSON of this model on --data gsm8k (its test split)")
    ap.add_argument("--note", default="", help="a closing remark, e.g. how busy the machine was while timing")
    a = ap.parse_args()
    text = card(a.export_dir, _read(a.bench) if a.bench else None, a.held_out_run, a.note,
                _read(a.gsm8k) if a.gsm8k else None)
    (a.export_dir / "README.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
