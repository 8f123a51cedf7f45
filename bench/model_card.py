"""Write an export directory's model card (README.md) from the manifests that made it.

    python bench/model_card.py models/default --bench bench/results/default.json \
        [--held-out bench/results/default-recipe-asdiv-a-0.json]

Every number comes from a manifest or a bench JSON, never typed by hand: the teacher's and
student's settings and accuracy, the bake and export checks, the sizes, the latency table.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def _read(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def _cmd(stage: str, cfg: dict, keys: list[str]) -> str:
    parts = [f"edgemath {stage}"]
    for k in keys:
        v = cfg.get(k)
        if v is None or v is False:
            continue
        flag = "--" + k.replace("_", "-")
        parts.append(flag if v is True else f"{flag} {v}")
    return " ".join(parts)


def card(export_dir: Path, bench: dict | None, held_out: dict | None) -> str:
    exp = _read(export_dir / "manifest.json")
    run = Path(exp["config"]["run"])
    comp = _read(run / "manifest.json")
    ccfg, cm = comp["config"], comp["metrics"]
    teach = _read(Path(ccfg["teacher"]) / "manifest.json")
    tcfg, tm = teach["config"], teach["metrics"]
    par = exp["parity"]
    before, after = cm["before"]["params"], cm["after"]["params"]
    lines = [
        f"# {export_dir.name}: a compressed int8 math-word-problem solver", "",
        "Made by edgemath's own pipeline: MiniLM-L6 (all-MiniLM-L6-v2) + deductive decoder trained on the "
        f"{tcfg['data']} pool, attention heads and FFN neurons pruned with distillation, vocabulary pruned, "
        "exported to ONNX and quantized to int8 (dynamic, per-channel). Run it with `edgemath solve` "
        "(onnxruntime + tokenizers + numpy, no torch).", "",
        "## License of the training data", "",
        "Trained on ASDiv-A (ASDiv, **CC BY-NC 4.0: non-commercial use only**) and MAWPS (no licence stated): "
        "this model inherits those terms. The encoder it starts from, all-MiniLM-L6-v2, is Apache-2.0.", "",
        "## How it was made", "",
        "```",
        _cmd("train", {**tcfg, "out": tcfg["out"]}, ["data", "out", "epochs"]),
        _cmd("compress", {**ccfg}, ["teacher", "data", "out", "prune_heads", "prune_ffn", "prune_vocab", "rounds",
                                    "alpha", "epochs"]),
        f"edgemath export {run} --out {export_dir} --int8 --max-int8-drop {exp['config']['max_int8_drop']}",
        "```", "",
        f"Teacher: {tm['train_problems']} training problems, {tcfg['epochs']} epochs, "
        f"{teach['wall_time_s'] / 60:.0f} min on {teach['machine']['cpus']} CPU cores. "
        f"Compression: {comp['wall_time_s'] / 60:.0f} min. Both recipes are in `bench/default_model.sh`.", "",
        "## Size", "",
        "| | teacher | this model |", "|---|---|---|",
        f"| encoder parameters | {before['total'] / 1e6:.2f}M | {after['total'] / 1e6:.2f}M |",
        f"| of which embeddings | {before['embeddings'] / 1e6:.2f}M | {after['embeddings'] / 1e6:.2f}M |",
        f"| attention | {before['attention'] / 1e6:.2f}M | {after['attention'] / 1e6:.2f}M |",
        f"| FFN | {before['ffn'] / 1e6:.2f}M | {after['ffn'] / 1e6:.2f}M |",
        f"| encoder GFLOPs per problem ({cm['seq_len_mean']:.0f} tokens) | {cm['before']['flops'] / 1e9:.2f} | "
        f"{cm['after']['flops'] / 1e9:.2f} |", "",
        f"ONNX graphs: {exp['total_bytes'] / 1e6:.1f} MB ({', '.join(f'{k} {v / 1e6:.1f} MB' for k, v in exp['graph_bytes'].items())}); "
        f"the whole folder with tokenizer and manifests: "
        f"{sum(p.stat().st_size for p in export_dir.iterdir() if p.is_file()) / 1e6:.1f} MB.",
    ]
    kept = cm["rounds"][-1] if cm["rounds"] else {}
    lines += ["", f"Heads kept per layer: {' '.join(map(str, kept.get('kept_per_layer', [])))}; "
              f"FFN neurons kept per layer: {' '.join(map(str, cm.get('ffn_widths') or []))}."]
    if cm.get("vocab"):
        v = cm["vocab"]
        lines += [f"Vocabulary: {v['kept']} of {v['of']} tokens kept (the training texts, GSM8K train tokens seen "
                  f"at least {ccfg['vocab_min_count']} times, Latin single characters); on GSM8K test questions "
                  f"{v['gsm8k_test_unk']['rate']:.3%} of tokens become [UNK]."]
    lines += ["", "## Accuracy", "",
              f"On its fit-check set ({par['int8']['problems']} problems: ASDiv-A and MAWPS fold-0 dev, both inside the "
              f"training pool, so this is not a held-out number): PyTorch teacher {100 * cm['before']['dev_acc']:.2f}%, "
              f"compressed {100 * par['torch_dev_acc']:.2f}%, this int8 model {100 * par['int8']['dev_acc']:.2f}%."]
    if held_out:
        lines += ["", "Held-out estimate, the same recipe on ASDiv-A fold 0 (train on the fold's train split, score its "
                  f"dev split): {held_out['summary']}"]
    if bench:
        lines += ["", "## Latency", "",
                  f"`edgemath bench` on {bench['machine']['processor']} with {bench['machine']['cpus']} CPUs, "
                  f"{bench['timed_problems']} problems at batch 1, real unpadded lengths, all rows in one run:", "",
                  "| variant | MB | encoder p50 ms, 1 thread | vs PyTorch teacher | vs optimum int8 teacher | accuracy |",
                  "|---|---|---|---|---|---|"]
        for name, r in bench["rows"].items():
            lines.append(f"| {name} | {r['bytes'] / 1e6:.1f} | {r['encoder_t1']['p50_ms']:.2f} | "
                         f"{r.get('encoder_vs_pytorch', float('nan')):.2f}x | {r.get('encoder_vs_optimum_int8', float('nan')):.2f}x | "
                         f"{100 * r['accuracy']:.2f}% |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export_dir", type=Path)
    ap.add_argument("--bench", type=Path, help="edgemath bench JSON with this model's row")
    ap.add_argument("--held-out", type=Path, help="JSON with a 'summary' line: the recipe's held-out accuracy")
    a = ap.parse_args()
    text = card(a.export_dir, _read(a.bench) if a.bench else None, _read(a.held_out) if a.held_out else None)
    (a.export_dir / "README.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
