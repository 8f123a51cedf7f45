"""Cost of one training step on Math23k, side by side in one run: the encoder alone, the loss
rescored at every decoder step (``stepwise_loss``) and the one-pass loss ``Solver.forward``,
each forward + backward on the same batches, with all constants seen twice vs ten times.
With ``--layers``, instead: the one-pass, length-grouped step for each count of encoder layers
kept (``train --encoder-layers``), at one ``--const-min-count``, on the same batches.

    python bench/train_step.py --encoder runs/e5-math23k --data-dir ../shared/data \
        --out bench/results/train-step-math23k.json
    python bench/train_step.py --encoder runs/e5-math23k-iso --layers 12 8 6 4 --threads 1 \
        --out bench/results/train-step-math23k-layers.json
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch

from edgemath.data import load_splits
from edgemath.features import collate
from edgemath.model import stepwise_loss
from edgemath.loop import length_batches, make_examples
from edgemath.train import TrainConfig, build_solver


def seconds(solver, batches, loss) -> float:
    """Mean forward + backward seconds, the first batch left out as warm-up."""
    times = []
    for b in batches:
        t = time.perf_counter()
        loss(b).backward()
        times.append(time.perf_counter() - t)
        solver.zero_grad(set_to_none=True)
    return sum(times[1:]) / (len(times) - 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", required=True)
    ap.add_argument("--data", default="math23k")
    ap.add_argument("--data-dir")
    ap.add_argument("--batches", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layers", type=int, nargs="+", help="encoder layer counts to time instead")
    ap.add_argument("--const-min-count", type=int, default=10, help="with --layers")
    ap.add_argument("--out", type=Path, default=Path("bench/results/train-step-math23k.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    train = load_splits(args.data, args.data_dir).train.trainable
    if args.layers:
        return by_layers(args, train)
    rows = []
    for min_count in (2, 10):
        cfg = TrainConfig(data=args.data, encoder=args.encoder, data_dir=args.data_dir, const_min_count=min_count)
        solver, tok, _ = build_solver(cfg, train)
        examples, _ = make_examples(train, tok, solver.cfg)
        solver.train()
        rng = random.Random(0)
        order = rng.sample(range(len(examples)), 16 * args.batches)
        plain = [order[s : s + 16] for s in range(0, len(order), 16)]
        grouped = length_batches(list(range(len(examples))), [len(e.ids) for e, _ in examples], 16, rng)[: args.batches]
        as_batch = lambda ids: collate([examples[i][0] for i in ids], tok.pad_id, [examples[i][1] for i in ids])
        plain, grouped = [as_batch(b) for b in plain], [as_batch(b) for b in grouped]
        row = {"const_min_count": min_count, "constants": len(solver.cfg.constants), "examples": len(examples),
               "quantities_m0": sum(b.num_mask.shape[1] for b in plain) / len(plain) + len(solver.cfg.constants),
               "encoder_s": seconds(solver, plain, lambda b: solver.encode(b).last_hidden_state.sum()),
               "stepwise_s": seconds(solver, plain, lambda b: stepwise_loss(solver, b)[0]),
               "one_pass_s": seconds(solver, plain, lambda b: solver(b)[0]),
               "one_pass_length_grouped_s": seconds(solver, grouped, lambda b: solver(b)[0])}
        rows.append(row)
        print(" ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"encoder": args.encoder, "threads": args.threads, "rows": rows}, indent=1))


def by_layers(args, train) -> None:
    """One-pass length-grouped steps with the encoder cut to each layer count, the same batches;
    the counts take turns batch by batch so the machine's drift hits them alike."""
    solvers, batches = {}, None
    for n in args.layers:
        cfg = TrainConfig(data=args.data, encoder=args.encoder, data_dir=args.data_dir,
                          const_min_count=args.const_min_count, encoder_layers=n)
        solver, tok, _ = build_solver(cfg, train)
        solvers[n] = solver.train()
        if batches is None:
            examples, _ = make_examples(train, tok, solver.cfg)
            rng = random.Random(0)
            grouped = length_batches(list(range(len(examples))), [len(e.ids) for e, _ in examples], 16, rng)
            batches = [collate([examples[i][0] for i in ids], tok.pad_id, [examples[i][1] for i in ids])
                       for ids in grouped[: args.batches + 1]]
    times = {n: [] for n in solvers}
    for k, b in enumerate(batches):
        for n, solver in solvers.items():
            t = time.perf_counter()
            solver(b)[0].backward()
            if k:  # the first batch warms up
                times[n].append(time.perf_counter() - t)
            solver.zero_grad(set_to_none=True)
    full = max(solvers)
    rows = [{"encoder_layers": n, "step_s": sum(v) / len(v), "vs_all_layers": sum(v) / sum(times[full])}
            for n, v in times.items()]
    for r in rows:  # seconds are only as good as the machine was idle; the ratios hold either way
        print(f"layers {r['encoder_layers']:2d}: {r['step_s']:.2f} s/step ({r['vs_all_layers']:.2f}x); "
              f"an epoch is {len(grouped)} steps at {args.threads} thread(s)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"encoder": args.encoder, "threads": args.threads, "batches": args.batches,
                                    "const_min_count": args.const_min_count, "steps_per_epoch": len(grouped),
                                    "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
