"""CPU cost of one training step, all-mpnet-base-v2 beside all-MiniLM-L6-v2, in one run: the
same problems (a seeded draw of ASDiv-A fold-0 training problems, one batch of the default
size), a whole step each (forward, backward, clip, AdamW with the training loop's two rates),
the two encoders taking turns so the machine's drift hits both alike, at 1 and 2 threads.

    python bench/mpnet_step_cost.py --out bench/results/mpnet-step-cost.json
    (after: edgemath fetch-encoder mpnet)
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

import torch

from edgemath.data import load_splits
from edgemath.features import collate
from edgemath.loop import make_examples
from edgemath.train import TrainConfig, build_solver


def make(encoder: str | None, problems, batch_size: int):
    cfg = TrainConfig(data="asdiv-a:0", encoder=encoder)
    solver, tok, path = build_solver(cfg, problems)
    examples, _ = make_examples(problems, tok, solver.cfg)
    batch = collate([e for e, _ in examples[:batch_size]], tok.pad_id, [s for _, s in examples[:batch_size]])
    enc = [p for n, p in solver.named_parameters() if n.startswith("encoder.")]
    dec = [p for n, p in solver.named_parameters() if not n.startswith("encoder.")]
    opt = torch.optim.AdamW([{"params": enc, "lr": cfg.encoder_lr}, {"params": dec, "lr": cfg.lr}],
                            weight_decay=cfg.weight_decay)
    solver.train()

    def step() -> float:
        t = time.perf_counter()
        loss = solver(batch)[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(solver.parameters(), 1.0)
        opt.step()
        return time.perf_counter() - t

    info = {"encoder": str(path), "params": sum(p.numel() for p in solver.encoder.parameters()),
            "batch": len(examples[:batch_size]), "tokens_per_problem": float(batch.attention_mask.sum(1).float().mean()),
            "padded_length": int(batch.input_ids.shape[1])}
    return step, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--out", type=Path, default=Path("bench/results/mpnet-step-cost.json"))
    args = ap.parse_args()
    train = load_splits("asdiv-a:0").train.trainable
    problems = random.Random(0).sample(train, 4 * args.batch_size)  # make_examples may skip a few
    torch.manual_seed(0)
    models = {"minilm": make(None, problems, args.batch_size), "mpnet": make("mpnet", problems, args.batch_size)}
    out = {"models": {k: info for k, (_, info) in models.items()}, "rows": []}
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        times = {k: [] for k in models}
        for k, (step, _) in models.items():
            step()  # warm-up: allocator, first AdamW state
        for r in range(args.repeats):
            for k in (list(models) if r % 2 == 0 else list(models)[::-1]):  # take turns, alternating who goes first
                times[k].append(models[k][0]())
        row = {"threads": threads, **{f"{k}_s": statistics.median(v) for k, v in times.items()},
               "all_s": {k: [round(x, 3) for x in v] for k, v in times.items()}}
        row["ratio_median"] = row["mpnet_s"] / row["minilm_s"]
        row["ratio_per_repeat"] = [round(a / b, 2) for a, b in zip(times["mpnet"], times["minilm"])]
        out["rows"].append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "all_s"}), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
