"""`edgemath compress`: dynamic pruning + recursive distillation, baked into a smaller model.

setup -> rounds -> bake -> after the bake -> manifest. Round k (of K) starts from teacher k (the
trained teacher, then each round's student), cuts its share of whole layers, then prunes
progressively from ratio r_{k-1} to r_k = R * k / K on the cubic schedule over the first
``prune_frac`` of its steps (recomputing importance every ``refresh_every`` steps, so units can
come back), then trains on with the masks fixed. The student of round k, masked, is written to
``rounds/round{k}/`` and becomes teacher k+1. At the end the masked units are sliced out and the
result is checked against the masked model; the vocabulary is cut from the baked model last.

What is pruned is a list of pruners (edgemath/compress/pruner.py: score -> select -> gate ->
bake); this file knows only when each acts, never which attributes of which architecture.
"""
from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from edgemath.loop import LoopSettings
from edgemath.manifest import file_sha256, refuse_to_replace, write_manifest


@dataclass
class CompressConfig(LoopSettings):
    teacher: Path = Path("runs/teacher")
    """Run directory of the trained teacher."""
    out: Path = Path("runs/student")
    prune_heads: float = 0.3
    """Final fraction of attention heads removed."""
    prune_ffn: float = 0.0
    """Final fraction of FFN intermediate neurons removed (ranked globally across layers)."""
    drop_layers: int = 0
    """Whole encoder layers removed (lowest Block Influence first), split over the rounds, each
    round's share at its start."""
    prune_vocab: bool = False
    """After baking, keep only the tokens of the training texts and a wider English sample."""
    vocab_min_count: int = 2
    """Tokens of the wider sample (GSM8K train) are kept when seen at least this often."""
    vocab_train_min_count: int = 1
    """Tokens of the training texts are kept when seen at least this often (1: all of them)."""
    rounds: int = 3
    """Recursive distillation rounds; each round's student is the next round's teacher."""
    alpha: float = 0.5
    """Importance mix: alpha * weight norm + (1 - alpha) * attention focus."""
    entropy_sign: str = "low"
    """'low': focused (low-entropy) heads are important; 'high': broad heads are."""
    scorer: str = "paper"
    """'paper' (the alpha mix) or 'random' (baseline)."""
    schedule_power: float = 3.0
    min_heads: int = 1
    """Heads every layer keeps (the global ranking may otherwise empty a layer almost entirely)."""
    prune_frac: float = 0.5
    """Fraction of each round's steps over which the ratio moves; the rest fine-tunes the fixed mask."""
    refresh_every: int = 10
    """Recompute head importance every N steps while pruning."""
    score_batches: int = 4
    distill: bool = True
    tau: float = 2.0
    beta: float = 100.0
    """Weight of the attention-map MSE (probabilities are small: their squared error is ~1e-3)."""
    gamma: float = 0.0
    """Weight of an MSE between the student's and teacher's final encoder states (0: off)."""
    lambda1: float = 1.0
    lambda2: float = 1.0
    epochs: int = 4
    """Epochs per round."""
    lr: float = 2e-4
    """Decoder learning rate. Lower than training: the student starts from a converged teacher,
    and at 5e-4/5e-5 re-training alone cost ~4 points on ASDiv-A before any head was gone."""
    encoder_lr: float = 2e-4
    """Encoder learning rate: the decoder's, not a fine-tuning rate. At 2e-5 the encoder could not
    re-route around removed heads: on ASDiv-A folds 1-2 it lost 2.1 / 3.8 points at 30% / 50% of
    heads where 2e-4 lost -0.6 / 1.1 (docs/results.md, "Encoder learning rate")."""
    warmup: float = 0.05
    ema_decay: float = 0.99
    """Average of the student's weights, evaluated and kept (0 turns it off)."""
    max_steps: int | None = None
    """Steps per round (smoke runs)."""

    def __post_init__(self):
        problems = self.loop_problems()
        if not 0.0 <= self.prune_heads < 1.0:
            problems.append("--prune-heads must be in [0, 1)")
        if not 0.0 <= self.prune_ffn < 1.0:
            problems.append("--prune-ffn must be in [0, 1)")
        if self.drop_layers < 0:
            problems.append("--drop-layers must be >= 0")
        if self.vocab_min_count < 1 or self.vocab_train_min_count < 1:
            problems.append("--vocab-min-count and --vocab-train-min-count must be at least 1")
        if self.rounds < 1:
            problems.append("--rounds must be at least 1")
        if not 0.0 <= self.alpha <= 1.0:
            problems.append("--alpha must be in [0, 1]")
        if self.entropy_sign not in ("low", "high"):
            problems.append("--entropy-sign must be 'low' or 'high'")
        if self.scorer not in ("paper", "random"):
            problems.append("--scorer must be 'paper' or 'random'")
        if self.min_heads < 1:
            problems.append("--min-heads must be at least 1")
        if not 0.0 < self.prune_frac <= 1.0:
            problems.append("--prune-frac must be in (0, 1]")
        if problems:
            raise ValueError("; ".join(problems))
        self.teacher, self.out = Path(self.teacher), Path(self.out)


def round_state(out: Path, k: int) -> Path:
    """Where round k's loop saves itself while it runs (deleted once the round is written)."""
    return out / "rounds" / f"round{k}.state.pt"


def run_round(k, cfg, teacher, teacher_masks: dict, tok, examples, dev, device, console):
    """One round: distil teacher k into a student pruned from r_{k-1} to r_k (every TRAIN pruner
    moves on the same schedule). ``teacher_masks``: {pruner name: mask} of the TRAIN pruners of
    this run, over the teacher's layers. Returns (student, its masks, the round's summary).
    The loop's state, with the masks where the schedule has moved them and the best student so
    far, is saved as it goes (``round_state``): a killed or stopped round resumes where it was."""
    import torch
    import torch.nn.functional as F

    from edgemath.compress.distill import attention_mse, distill_loss
    from edgemath.compress.pruner import ROUND, TRAIN, Evidence, Target, gated, importance, pruners
    from edgemath.compress.schedule import cubic_schedule
    from edgemath.encoder_shapes import n_layers
    from edgemath.evaluate import accuracy, predict
    from edgemath.features import collate
    from edgemath.kd import step_kl
    from edgemath.loop import fit

    units = [p for p in pruners(cfg) if p.active]
    trained = [p for p in units if p.when == TRAIN]
    frac_prev, frac_k = (k - 1) / cfg.rounds, k / cfg.rounds
    student = copy.deepcopy(teacher).to(device)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    score_batches = [collate([e for e, _ in examples[i:i + cfg.batch_size]], tok.pad_id)
                     for i in range(0, min(len(examples), cfg.score_batches * cfg.batch_size), cfg.batch_size)]
    layer_map = list(range(n_layers(student.encoder)))  # student layer l is teacher layer layer_map[l]
    for p in units:  # ROUND pruners cut whole layers once, at the start; the masks then move
        if p.when == ROUND and p.amount(k):
            ev = Evidence(student, score_batches, device, teacher_masks, tuple(trained))
            keep = p.select(importance(p, ev, cfg.scorer, cfg.seed + k), p.amount(k))
            layer_map = [layer_map[l] for l in p.bake(Target(student.encoder), keep)]
    masks = {name: m[layer_map].clone() for name, m in teacher_masks.items()}  # the surviving layers' rows
    schedule = {"frac": frac_prev}

    def set_masks(frac):
        """Masks at fraction ``frac`` of the way to the final ratios (scored on the ungated student)."""
        schedule["frac"] = frac
        ev = Evidence(student, score_batches, device)
        for p in trained:
            masks[p.name] = p.select(importance(p, ev, cfg.scorer, cfg.seed + k), p.ratio * frac)

    def before_step(step, total):
        t_prune = max(1, int(cfg.prune_frac * total))
        if step <= t_prune and (step % cfg.refresh_every == 0 or step == t_prune):
            set_masks(cubic_schedule(step, t_prune, frac_prev, frac_k, cfg.schedule_power))

    def loss_fn(batch):
        want_att = cfg.distill and cfg.beta > 0
        with gated(trained, student.encoder, masks) as kwargs:
            out = student.encode(batch, output_attentions=want_att, **kwargs)
        task, s_logits = student(batch, hidden=out.last_hidden_state)
        if not cfg.distill:
            return task
        with torch.no_grad(), gated(trained, teacher.encoder, teacher_masks) as kwargs:
            t_out = teacher.encode(batch, output_attentions=want_att, **kwargs)
            _, t_logits = teacher(batch, hidden=t_out.last_hidden_state)
        kl = step_kl(s_logits, t_logits, batch.n_steps, cfg.tau)
        heads = masks.get("heads")  # attention maps compare head by head: those kept in both models
        keep = None if heads is None else heads & teacher_masks["heads"][layer_map]
        att = (attention_mse(out.attentions, [t_out.attentions[l] for l in layer_map], keep, batch.attention_mask)
               if want_att else kl * 0)
        loss = distill_loss(task, kl, att, cfg.lambda1, cfg.lambda2, cfg.beta)
        if cfg.gamma > 0:
            real = batch.attention_mask.bool()
            loss = loss + cfg.lambda1 * cfg.gamma * F.mse_loss(out.last_hidden_state[real], t_out.last_hidden_state[real])
        return loss

    best = {"acc": -1.0}

    def evaluate_fn():
        """Dev accuracy with the current masks; once they have reached r_k, the best such
        state is kept (the teacher was chosen by dev accuracy too: the same protocol)."""
        with gated(trained, student.encoder, masks) as kwargs:
            acc = accuracy(predict(student, tok, dev, device=device, **kwargs))
        if schedule["frac"] == frac_k and acc > best["acc"]:
            best.update(acc=acc, state={k: v.detach().clone() for k, v in student.state_dict().items()},
                        masks={name: m.clone() for name, m in masks.items()})
        return acc

    t0 = time.time()
    saved = round_state(cfg.out, k)
    saved.parent.mkdir(parents=True, exist_ok=True)
    _, history = fit(student, tok, examples, dev, cfg, device, console, lambda acc, epoch: None, loss_fn=loss_fn,
                     before_step=before_step, evaluate_fn=evaluate_fn, label=f"round {k}/{cfg.rounds}",
                     state=saved, carry={"schedule": schedule, "masks": masks, "best": best})
    if "state" not in best:  # no evaluation happened at r_k (very short runs): fix the masks there
        set_masks(frac_k)
        history.append({"note": "masks fixed at r_k after training", "dev_acc": evaluate_fn()})
    student.load_state_dict(best["state"])
    return student, best["masks"], {"round": k, "layers_kept": layer_map, "dev_acc": best["acc"], "history": history,
                                    "wall_time_s": time.time() - t0}


def run(cfg: CompressConfig, console=None) -> Path:
    """Compress ``cfg.teacher`` and write ``cfg.out/checkpoint`` (baked) + manifest.json."""
    import torch
    from rich.console import Console

    from edgemath.augment import inserted_texts
    from edgemath.checkpoint import load_solver, save_solver
    from edgemath.compress import records
    from edgemath.compress.pruner import AFTER, TRAIN, Evidence, Target, pruners
    from edgemath.compress.structure import encoder_flops, heads_per_layer, param_counts
    from edgemath.compress.verify import verify_bake
    from edgemath.data import load_splits
    from edgemath.encoder_shapes import n_layers
    from edgemath.evaluate import accuracy, predict
    from edgemath.features import make_examples
    from edgemath.loop import Stopped, init_distributed, pick_device, world

    console = console or Console(stderr=True)
    init_distributed()
    rank, _ = world()
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    if not cfg.resume:
        refuse_to_replace(cfg.out, "manifest.json", "rounds")
    t0 = time.time()
    # setup: the teacher, the data, what each pruner starts from (each checks it can prune this teacher)
    teacher, tok = load_solver(cfg.teacher, device)
    splits = load_splits(cfg.data, cfg.data_dir)
    train, dev = splits.train.problems, splits.dev.problems
    if cfg.limit:
        train, dev = train[: cfg.limit], dev[: cfg.limit]
    source = train  # the vocabulary counts these, not their copies
    train, augmented = cfg.train_problems(train)
    if augmented:
        console.print(f"augmented copies {augmented}")
    examples, skipped = make_examples(train, tok, teacher.cfg)
    if not examples:
        raise ValueError(f"no trainable problems in {cfg.data}")
    every = pruners(cfg)
    trained_all = [p for p in every if p.when == TRAIN]  # round.json records each, pruned or not
    units = [p for p in every if p.active]
    masks = {}
    for p in units:
        start = p.start(teacher.encoder, cfg.teacher)
        if p.when == TRAIN:
            masks[p.name] = start
    seq_len = sum(len(tok.encode(p.text).ids) for p in dev) / max(1, len(dev))
    before = {"params": param_counts(teacher.encoder), "flops": encoder_flops(teacher.encoder, seq_len),
              "dev_acc": accuracy(predict(teacher, tok, dev, device=device))}
    cfg.out.mkdir(parents=True, exist_ok=True)
    # rounds: each student, masked, becomes the next round's teacher
    rows, current = [], teacher
    done = records.finished_rounds(cfg.out) if cfg.resume else []
    if done:
        current, tok, masks, rows = records.load_rounds(cfg.out, done, trained_all, device)
        console.print(f"resuming after round {done[-1]} (dev {rows[-1]['dev_acc']:.4f})")
    prunes = any(p.when != AFTER for p in units)
    for k in range(len(done) + 1, cfg.rounds + 1 if prunes else 1):
        try:
            student, masks, info = run_round(k, cfg, current, masks, tok, examples, dev, device, console)
        except Stopped as e:
            console.print(f"[yellow]{e}[/]")
            return cfg.out
        info.update(records.round_summary(cfg, k, student, masks))
        if rank == 0:
            records.save_round(student, tok, masks, trained_all, info, cfg.out / "rounds" / f"round{k}")
            round_state(cfg.out, k).unlink(missing_ok=True)
        rows.append(info)
        current = student
    # bake: cut what the masks hide, then check the cut model against the masked one
    baked = copy.deepcopy(current).to(device)
    trained = [p for p in units if p.when == TRAIN]
    cut = {p.name: p.bake(Target(baked.encoder, tok), masks[p.name]) for p in trained if p.name in masks}
    check = verify_bake(current, masks, trained, baked, tok, dev, device)
    # after the bake: cut from the baked model itself (the vocabulary), checked the same way
    for p in units:
        if p.when == AFTER:
            evidence = Evidence(baked, tok=tok, texts=[q.text for q in source],
                                kept_texts=inserted_texts(cfg.transforms()))
            keep = p.select(p.score(evidence), 1.0)
            unpruned, target = copy.deepcopy(baked), Target(baked.encoder, tok)
            cut[p.name] = p.bake(target, keep)
            cut[p.name]["check"] = verify_bake(unpruned, {}, (), baked, tok, dev, device, baked_tok=target.tok)
            tok = target.tok
            check["accuracy"] = cut[p.name]["check"]["accuracy"]
            console.print(records.vocab_line(cut[p.name]))
    after = {"params": param_counts(baked.encoder), "flops": encoder_flops(baked.encoder, seq_len),
             "dev_acc": check["accuracy"]}
    if rank == 0:
        save_solver(baked, tok, cfg.out / "checkpoint")
        records.print_table(console, cfg, heads_per_layer(teacher.encoder), before, rows, after, check)
        ckpt = cfg.teacher / "checkpoint" if (cfg.teacher / "checkpoint").is_dir() else cfg.teacher
        kept = records.layers_kept(n_layers(teacher.encoder), rows)
        write_manifest(cfg.out, stage="compress", config={**asdict(cfg), "teacher": str(cfg.teacher), "out": str(cfg.out)},
                       inputs={"teacher_decoder": file_sha256(ckpt / "decoder.safetensors"),
                               **{str(f): file_sha256(f) for f in splits.files}},
                       metrics={**records.metrics(before, after, check, cut, rows, kept, seq_len), "augmented": augmented},
                       wall_time_s=time.time() - t0, device=device)
    return cfg.out
