"""`edgemath compress`: dynamic head pruning + recursive distillation, baked into a smaller model.

setup -> rounds -> bake -> manifest. Round k (of K) starts from teacher k (the trained teacher,
then each round's student), prunes progressively from ratio r_{k-1} to r_k = R * k / K on the
cubic schedule over the first ``prune_frac`` of its steps (recomputing head importance every
``refresh_every`` steps, so heads can come back), then trains on with the mask fixed. The
student of round k, masked, is written to ``rounds/round{k}/`` and becomes teacher k+1. At the
end the surviving heads are sliced out and the result is checked against the masked model.
"""
from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from edgemath.manifest import file_sha256, write_manifest


@dataclass
class CompressConfig:
    teacher: Path = Path("runs/teacher")
    """Run directory of the trained teacher."""
    data: str = "asdiv-a:0"
    out: Path = Path("runs/student")
    prune_heads: float = 0.3
    """Final fraction of attention heads removed."""
    rounds: int = 3
    """Recursive distillation rounds; each round's student is the next round's teacher."""
    alpha: float = 0.5
    """Importance mix: alpha * weight norm + (1 - alpha) * attention focus."""
    entropy_sign: str = "low"
    """'low': focused (low-entropy) heads are important; 'high': broad heads are."""
    scorer: str = "paper"
    """'paper' (the alpha mix) or 'random' (baseline)."""
    schedule_power: float = 3.0
    prune_frac: float = 0.5
    """Fraction of each round's steps over which the ratio moves; the rest fine-tunes the fixed mask."""
    refresh_every: int = 10
    """Recompute head importance every N steps while pruning."""
    score_batches: int = 4
    distill: bool = True
    tau: float = 2.0
    beta: float = 100.0
    """Weight of the attention-map MSE (probabilities are small: their squared error is ~1e-3)."""
    lambda1: float = 1.0
    lambda2: float = 1.0
    epochs: int = 4
    """Epochs per round."""
    batch_size: int = 16
    lr: float = 2e-4
    """Decoder learning rate. Lower than training: the student starts from a converged teacher,
    and at 5e-4/5e-5 re-training alone cost ~4 points on ASDiv-A before any head was gone."""
    encoder_lr: float = 2e-5
    weight_decay: float = 0.01
    warmup: float = 0.05
    eval_every: int = 1
    ema_decay: float = 0.99
    """Average of the student's weights, evaluated and kept (0 turns it off)."""
    max_steps: int | None = None
    """Steps per round (smoke runs)."""
    limit: int | None = None
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    data_dir: str | None = None

    def __post_init__(self):
        problems = []
        if not 0.0 <= self.prune_heads < 1.0:
            problems.append("--prune-heads must be in [0, 1)")
        if self.rounds < 1:
            problems.append("--rounds must be at least 1")
        if not 0.0 <= self.alpha <= 1.0:
            problems.append("--alpha must be in [0, 1]")
        if self.entropy_sign not in ("low", "high"):
            problems.append("--entropy-sign must be 'low' or 'high'")
        if self.scorer not in ("paper", "random"):
            problems.append("--scorer must be 'paper' or 'random'")
        if self.epochs < 1:
            problems.append("--epochs must be at least 1")
        if not 0.0 < self.prune_frac <= 1.0:
            problems.append("--prune-frac must be in (0, 1]")
        if problems:
            raise ValueError("; ".join(problems))
        self.teacher, self.out = Path(self.teacher), Path(self.out)


def _save_round(student, tok, mask, info: dict, out: Path) -> None:
    from edgemath.checkpoint import save_solver

    save_solver(student, tok, out / "checkpoint")
    tmp = out / "round.json.tmp"
    tmp.write_text(json.dumps({**info, "mask": mask.int().tolist()}, indent=2))
    os.replace(tmp, out / "round.json")  # written last: its presence means the round finished


def _finished_rounds(out: Path) -> list[int]:
    done = []
    for d in sorted((out / "rounds").glob("round*")):
        if (d / "round.json").is_file() and d.name[5:].isdigit():
            done.append(int(d.name[5:]))
    return sorted(done)


def run_round(k, cfg, teacher, teacher_mask, tok, examples, dev, device, console):
    """One round: distil teacher k into a student pruned from r_{k-1} to r_k."""
    import torch

    from edgemath.compress.distill import attention_mse, distill_loss, step_kl
    from edgemath.compress.schedule import cubic_schedule, select_heads
    from edgemath.compress.score import entropy_scores, head_importance, random_scores, weight_norm_scores
    from edgemath.evaluate import accuracy, predict
    from edgemath.features import collate
    from edgemath.train import fit

    r_prev, r_k = cfg.prune_heads * (k - 1) / cfg.rounds, cfg.prune_heads * k / cfg.rounds
    student = copy.deepcopy(teacher).to(device)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    state = {"mask": teacher_mask.clone(), "ratio": r_prev}
    score_batches = [collate([e for e, _ in examples[i:i + cfg.batch_size]], tok.pad_id)
                     for i in range(0, min(len(examples), cfg.score_batches * cfg.batch_size), cfg.batch_size)]

    def scores():
        if cfg.scorer == "random":
            return random_scores(state["mask"].shape, cfg.seed + k)
        ent = entropy_scores(student, score_batches, device)
        return head_importance(weight_norm_scores(student.encoder), ent, cfg.alpha, cfg.entropy_sign)

    def before_step(step, total):
        t_prune = max(1, int(cfg.prune_frac * total))
        if step <= t_prune and (step % cfg.refresh_every == 0 or step == t_prune):
            state["ratio"] = cubic_schedule(step, t_prune, r_prev, r_k, cfg.schedule_power)
            state["mask"] = select_heads(scores(), state["ratio"])

    def loss_fn(batch):
        mask = state["mask"]
        want_att = cfg.distill and cfg.beta > 0
        out = student.encode(batch, mask, output_attentions=want_att)
        task, s_logits = student(batch, hidden=out.last_hidden_state)
        if not cfg.distill:
            return task
        with torch.no_grad():
            t_out = teacher.encode(batch, teacher_mask, output_attentions=want_att)
            _, t_logits = teacher(batch, hidden=t_out.last_hidden_state)
        kl = step_kl(s_logits, t_logits, batch.n_steps, cfg.tau)
        att = attention_mse(out.attentions, t_out.attentions, mask & teacher_mask, batch.attention_mask) if want_att else kl * 0
        return distill_loss(task, kl, att, cfg.lambda1, cfg.lambda2, cfg.beta)

    best = {"acc": -1.0}

    def evaluate_fn():
        """Dev accuracy with the current mask; once the mask has reached r_k, the best such
        state is kept (the teacher was chosen by dev accuracy too: the same protocol)."""
        acc = accuracy(predict(student, tok, dev, device=device, head_mask=state["mask"]))
        if state["ratio"] == r_k and acc > best["acc"]:
            best.update(acc=acc, state={k: v.detach().clone() for k, v in student.state_dict().items()},
                        mask=state["mask"].clone())
        return acc

    def on_best(acc, epoch):
        pass

    t0 = time.time()
    _, history = fit(student, tok, examples, dev, cfg, device, console, on_best, loss_fn=loss_fn,
                     before_step=before_step, evaluate_fn=evaluate_fn, label=f"round {k}/{cfg.rounds}")
    if "state" not in best:  # no evaluation happened at r_k (very short runs): fix the mask there
        state["ratio"], state["mask"] = r_k, select_heads(scores(), r_k)
        history.append({"note": "mask fixed at r_k after training", "dev_acc": evaluate_fn()})
    student.load_state_dict(best["state"])
    return student, best["mask"], {"round": k, "ratio": r_k, "dev_acc": best["acc"],
                                   "history": history, "wall_time_s": time.time() - t0}


def verify_bake(masked, mask, baked, tok, dev, device) -> dict:
    """Encoder outputs and decoded equations of the baked model against the masked one."""
    import torch

    from edgemath.evaluate import predict
    from edgemath.features import collate

    worst = 0.0
    with torch.no_grad():
        for i in range(0, min(len(dev), 128), 32):
            batch = collate([tok.encode(p.text) for p in dev[i:i + 32]], tok.pad_id).to(device)
            a = masked.encode(batch, mask).last_hidden_state
            b = baked.encode(batch).last_hidden_state
            m = batch.attention_mask.bool()
            worst = max(worst, float((a - b).abs()[m].max()))
    pa = predict(masked, tok, dev, device=device, head_mask=mask)
    pb = predict(baked, tok, dev, device=device)
    same = sum(x.equation == y.equation for x, y in zip(pa, pb))
    return {"max_abs_diff": worst, "identical_equations": same, "problems": len(dev),
            "accuracy": sum(p.correct for p in pb) / max(1, len(pb))}


def run(cfg: CompressConfig, console=None) -> Path:
    """Compress ``cfg.teacher`` and write ``cfg.out/checkpoint`` (baked) + manifest.json."""
    import torch
    from rich.console import Console
    from rich.table import Table

    from edgemath.checkpoint import load_solver, save_solver
    from edgemath.compress.structure import bake_heads, encoder_flops, head_shape, kept_per_layer, param_counts
    from edgemath.data import load_splits
    from edgemath.evaluate import accuracy, predict
    from edgemath.train import init_distributed, make_examples, pick_device, world

    console = console or Console(stderr=True)
    init_distributed()
    rank, _ = world()
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    t0 = time.time()
    teacher, tok = load_solver(cfg.teacher, device)
    splits = load_splits(cfg.data, cfg.data_dir)
    train, dev = splits.train.problems, splits.dev.problems
    if cfg.limit:
        train, dev = train[: cfg.limit], dev[: cfg.limit]
    examples, skipped = make_examples(train, tok, teacher.cfg)
    if not examples:
        raise ValueError(f"no trainable problems in {cfg.data}")
    shape = head_shape(teacher.encoder)
    base_mask = torch.ones(shape, dtype=torch.bool)
    seq_len = sum(len(tok.encode(p.text).ids) for p in dev) / max(1, len(dev))
    before = {"params": param_counts(teacher.encoder), "flops": encoder_flops(teacher.encoder, seq_len),
              "dev_acc": accuracy(predict(teacher, tok, dev, device=device))}
    cfg.out.mkdir(parents=True, exist_ok=True)
    rows, mask, current = [], base_mask, teacher
    done = _finished_rounds(cfg.out) if cfg.resume else []
    if done:
        last = done[-1]
        current, tok = load_solver(cfg.out / "rounds" / f"round{last}" / "checkpoint", device)
        info = json.loads((cfg.out / "rounds" / f"round{last}" / "round.json").read_text())
        mask = torch.tensor(info["mask"], dtype=torch.bool)
        rows = [json.loads((cfg.out / "rounds" / f"round{r}" / "round.json").read_text()) for r in done]
        console.print(f"resuming after round {last} (dev {info['dev_acc']:.4f})")
    for k in range(len(done) + 1, cfg.rounds + 1):
        student, mask, info = run_round(k, cfg, current, mask, tok, examples, dev, device, console)
        info.update(kept_per_layer=kept_per_layer(mask), params=param_counts(student.encoder, mask)["total"])
        if rank == 0:
            _save_round(student, tok, mask, info, cfg.out / "rounds" / f"round{k}")
        rows.append(info)
        current = student
    # bake
    baked = copy.deepcopy(current).to(device)
    pruned = bake_heads(baked.encoder, mask.cpu())
    check = verify_bake(current, mask, baked, tok, dev, device)
    if check["max_abs_diff"] > 1e-4 or check["identical_equations"] != check["problems"]:
        raise RuntimeError(f"baked model disagrees with the masked model: {check}")
    after = {"params": param_counts(baked.encoder), "flops": encoder_flops(baked.encoder, seq_len),
             "dev_acc": check["accuracy"]}
    if rank == 0:
        save_solver(baked, tok, cfg.out / "checkpoint")
        table = Table(title=f"compress {cfg.teacher} -> {cfg.out}")
        for col in ("round", "ratio", "heads kept per layer", "params", "dev acc", "time"):
            table.add_column(col)
        table.add_row("teacher", "0", " ".join(str(shape[1]) for _ in range(shape[0])),
                      f"{before['params']['total'] / 1e6:.2f}M", f"{before['dev_acc']:.4f}", "")
        for r in rows:
            table.add_row(str(r["round"]), f"{r['ratio']:.2f}", " ".join(map(str, r["kept_per_layer"])),
                          f"{r['params'] / 1e6:.2f}M", f"{r['dev_acc']:.4f}", f"{r['wall_time_s'] / 60:.1f} min")
        console.print(table)
        console.print(f"baked: max |diff| {check['max_abs_diff']:.2e}, identical equations "
                      f"{check['identical_equations']}/{check['problems']}, dev {after['dev_acc']:.4f}")
        ckpt = cfg.teacher / "checkpoint" if (cfg.teacher / "checkpoint").is_dir() else cfg.teacher
        write_manifest(cfg.out, stage="compress", config={**asdict(cfg), "teacher": str(cfg.teacher), "out": str(cfg.out)},
                       inputs={"teacher_decoder": file_sha256(ckpt / "decoder.safetensors"),
                               **{str(f): file_sha256(f) for f in splits.files}},
                       metrics={"before": before, "after": after, "bake_check": check, "pruned_heads": pruned,
                                "rounds": [{k: v for k, v in r.items() if k != "history"} for r in rows],
                                "histories": [r.get("history") for r in rows], "seq_len_mean": seq_len},
                       wall_time_s=time.time() - t0, device=device)
    return cfg.out
