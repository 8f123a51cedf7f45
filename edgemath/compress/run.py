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


def _save_round(student, tok, mask, ffn_mask, info: dict, out: Path) -> None:
    from edgemath.checkpoint import save_solver

    save_solver(student, tok, out / "checkpoint")
    tmp = out / "round.json.tmp"
    ffn = None if ffn_mask is None else [m.nonzero().flatten().tolist() for m in ffn_mask]
    heads = None if mask is None else mask.int().tolist()
    tmp.write_text(json.dumps({**info, "mask": heads, "ffn_kept": ffn}))
    os.replace(tmp, out / "round.json")  # written last: its presence means the round finished


def _finished_rounds(out: Path) -> list[int]:
    done = []
    for d in sorted((out / "rounds").glob("round*")):
        if (d / "round.json").is_file() and d.name[5:].isdigit():
            done.append(int(d.name[5:]))
    return sorted(done)


def _clone(mask):
    return None if mask is None else mask.clone()


def _rows(mask, layers: list[int]):
    """The rows of a per-layer mask that belong to the surviving layers (a copy)."""
    return None if mask is None else mask[layers].clone()


def layers_in_round(n_layers: int, k: int, rounds: int) -> int:
    """Layers dropped in round k: the way to ``n_layers`` split evenly over the rounds."""
    return round(n_layers * k / rounds) - round(n_layers * (k - 1) / rounds)


def run_round(k, cfg, teacher, teacher_masks, tok, examples, dev, device, console):
    """One round: distil teacher k into a student pruned from r_{k-1} to r_k (heads and FFN
    neurons move on the same schedule). ``teacher_masks``: (heads, ffn), None where that structure
    is not pruned in this run."""
    import torch
    import torch.nn.functional as F

    from edgemath.compress.distill import attention_mse, distill_loss, step_kl
    from edgemath.compress.ffn import ffn_gates, ffn_scores
    from edgemath.compress.layers import drop_layers, layer_scores, layers_to_keep
    from edgemath.compress.schedule import cubic_schedule, select_heads
    from edgemath.compress.score import entropy_scores, head_importance, random_scores, weight_norm_scores
    from edgemath.evaluate import accuracy, predict
    from edgemath.features import collate
    from edgemath.loop import fit

    frac_prev, frac_k = (k - 1) / cfg.rounds, k / cfg.rounds
    t_heads, t_ffn = teacher_masks
    student = copy.deepcopy(teacher).to(device)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    score_batches = [collate([e for e, _ in examples[i:i + cfg.batch_size]], tok.pad_id)
                     for i in range(0, min(len(examples), cfg.score_batches * cfg.batch_size), cfg.batch_size)]
    layer_map = list(range(len(student.encoder.encoder.layer)))  # student layer l is teacher layer layer_map[l]
    n_drop = layers_in_round(cfg.drop_layers, k, cfg.rounds)
    if n_drop:  # one shot at the round's start; heads and FFN neurons then move on their schedule
        if cfg.scorer == "random":
            scores = random_scores((len(layer_map),), cfg.seed + 2000 + k)
        else:
            with ffn_gates(student.encoder, t_ffn):
                scores = layer_scores(student, score_batches, device, t_heads)
        layer_map = layers_to_keep(scores, n_drop)
        drop_layers(student.encoder, layer_map)
    state = {"mask": _rows(t_heads, layer_map), "ffn": _rows(t_ffn, layer_map), "frac": frac_prev}

    def head_scores():
        if cfg.scorer == "random":
            return random_scores(state["mask"].shape, cfg.seed + k)
        ent = entropy_scores(student, score_batches, device)
        return head_importance(weight_norm_scores(student.encoder), ent, cfg.alpha, cfg.entropy_sign)

    def neuron_scores():
        if cfg.scorer == "random":
            return random_scores(state["ffn"].shape, cfg.seed + 1000 + k)
        return ffn_scores(student, score_batches, device)

    def set_masks(frac):
        """Masks at fraction ``frac`` of the way to the final ratios."""
        state["frac"] = frac
        if state["mask"] is not None:
            state["mask"] = select_heads(head_scores(), cfg.prune_heads * frac, min_per_layer=cfg.min_heads)
        if state["ffn"] is not None:
            state["ffn"] = select_heads(neuron_scores(), cfg.prune_ffn * frac, min_per_layer=1)

    def before_step(step, total):
        t_prune = max(1, int(cfg.prune_frac * total))
        if step <= t_prune and (step % cfg.refresh_every == 0 or step == t_prune):
            set_masks(cubic_schedule(step, t_prune, frac_prev, frac_k, cfg.schedule_power))

    def loss_fn(batch):
        want_att = cfg.distill and cfg.beta > 0
        with ffn_gates(student.encoder, state["ffn"]):
            out = student.encode(batch, state["mask"], output_attentions=want_att)
        task, s_logits = student(batch, hidden=out.last_hidden_state)
        if not cfg.distill:
            return task
        with torch.no_grad(), ffn_gates(teacher.encoder, t_ffn):
            t_out = teacher.encode(batch, t_heads, output_attentions=want_att)
            _, t_logits = teacher(batch, hidden=t_out.last_hidden_state)
        kl = step_kl(s_logits, t_logits, batch.n_steps, cfg.tau)
        keep = None if state["mask"] is None else state["mask"] & t_heads[layer_map]
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
        with ffn_gates(student.encoder, state["ffn"]):
            acc = accuracy(predict(student, tok, dev, device=device, head_mask=state["mask"]))
        if state["frac"] == frac_k and acc > best["acc"]:
            best.update(acc=acc, state={k: v.detach().clone() for k, v in student.state_dict().items()},
                        mask=_clone(state["mask"]), ffn=_clone(state["ffn"]))
        return acc

    def on_best(acc, epoch):
        pass

    t0 = time.time()
    _, history = fit(student, tok, examples, dev, cfg, device, console, on_best, loss_fn=loss_fn,
                     before_step=before_step, evaluate_fn=evaluate_fn, label=f"round {k}/{cfg.rounds}")
    if "state" not in best:  # no evaluation happened at r_k (very short runs): fix the masks there
        set_masks(frac_k)
        history.append({"note": "masks fixed at r_k after training", "dev_acc": evaluate_fn()})
    student.load_state_dict(best["state"])
    return student, (best["mask"], best["ffn"]), {
        "round": k, "ratio": cfg.prune_heads * frac_k, "ffn_ratio": cfg.prune_ffn * frac_k, "layers_kept": layer_map,
        "dev_acc": best["acc"], "history": history, "wall_time_s": time.time() - t0}


def verify_bake(masked, masks, baked, tok, dev, device, baked_tok=None) -> dict:
    """Encoder outputs and decoded equations of the baked model against the masked one
    (``masks``: heads, FFN or None). ``baked_tok``: the baked model's own tokenizer, when the
    vocabulary was pruned (texts must then encode to the same number of tokens to compare).
    Raises when the two disagree on a text both spell the same way."""
    import torch

    from edgemath.compress.ffn import ffn_gates
    from edgemath.evaluate import predict
    from edgemath.features import collate

    heads, ffn = masks
    baked_tok = baked_tok or tok
    encs = []
    for p in dev:
        ea = tok.encode(p.text)
        encs.append((ea, ea if baked_tok is tok else baked_tok.encode(p.text)))
    # a word outside the kept vocabulary is spelled in smaller pieces: only same-length texts compare
    same_spelling = [len(ea.ids) == len(eb.ids) for ea, eb in encs]
    worst, compared = 0.0, 0
    with torch.no_grad(), ffn_gates(masked.encoder, ffn):
        for (ea, eb), kept in zip(encs[:128], same_spelling):
            if not kept:
                continue
            a = masked.encode(collate([ea], tok.pad_id).to(device), heads).last_hidden_state
            b = baked.encode(collate([eb], baked_tok.pad_id).to(device)).last_hidden_state
            worst, compared = max(worst, float((a - b).abs().max())), compared + 1
        pa = predict(masked, tok, dev, device=device, head_mask=heads)
    pb = predict(baked, baked_tok, dev, device=device)
    same = [x.equation == y.equation for x, y in zip(pa, pb)]
    check = {"max_abs_diff": worst, "texts_compared": compared, "identical_equations": sum(same), "problems": len(dev),
             "respelled": same_spelling.count(False),
             "identical_where_same_spelling": sum(s for s, k in zip(same, same_spelling) if k),
             "accuracy": sum(p.correct for p in pb) / max(1, len(pb))}
    if worst > 1e-4 or check["identical_where_same_spelling"] != len(dev) - check["respelled"]:
        raise RuntimeError(f"baked model disagrees with the masked model on texts both spell the same way: {check}")
    return check


def vocab_texts(cfg: CompressConfig, train) -> tuple[list[str], list[str]]:
    """(training texts, wider English sample) for vocabulary pruning."""
    from edgemath.data import gsm8k_texts

    return [p.text for p in train], gsm8k_texts("train", cfg.data_dir, answers=True)


def run(cfg: CompressConfig, console=None) -> Path:
    """Compress ``cfg.teacher`` and write ``cfg.out/checkpoint`` (baked) + manifest.json."""
    import torch
    from rich.console import Console
    from rich.table import Table

    from edgemath.checkpoint import load_solver, save_solver
    from edgemath.compress.ffn import bake_ffn, ffn_shape
    from edgemath.compress.structure import (bake_heads, encoder_flops, head_shape, heads_per_layer, kept_per_layer,
                                             param_counts)
    from edgemath.compress.vocab import needed_ids, prune_vocab, trim_positions, unk_rate
    from edgemath.data import gsm8k_texts, load_splits
    from edgemath.evaluate import accuracy, predict
    from edgemath.loop import init_distributed, make_examples, pick_device, world

    console = console or Console(stderr=True)
    init_distributed()
    rank, _ = world()
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    if not cfg.resume:
        refuse_to_replace(cfg.out, "manifest.json", "rounds")
    t0 = time.time()
    teacher, tok = load_solver(cfg.teacher, device)
    splits = load_splits(cfg.data, cfg.data_dir)
    train, dev = splits.train.problems, splits.dev.problems
    if cfg.limit:
        train, dev = train[: cfg.limit], dev[: cfg.limit]
    examples, skipped = make_examples(train, tok, teacher.cfg)
    if not examples:
        raise ValueError(f"no trainable problems in {cfg.data}")
    if cfg.prune_vocab:  # fail before training, not after, when the wider sample is missing
        corpus, wider = vocab_texts(cfg, train)
    shape = head_shape(teacher.encoder)
    if cfg.prune_heads > 0 and teacher.encoder.config.pruned_heads:
        raise ValueError(f"{cfg.teacher}: its heads were already pruned and baked; prune heads from the unpruned "
                         "teacher (FFN and vocabulary pruning still work here with --prune-heads 0)")
    masks = (torch.ones(shape, dtype=torch.bool) if cfg.prune_heads > 0 else None,
             torch.ones(ffn_shape(teacher.encoder), dtype=torch.bool) if cfg.prune_ffn > 0 else None)
    seq_len = sum(len(tok.encode(p.text).ids) for p in dev) / max(1, len(dev))
    before = {"params": param_counts(teacher.encoder), "flops": encoder_flops(teacher.encoder, seq_len),
              "dev_acc": accuracy(predict(teacher, tok, dev, device=device))}
    cfg.out.mkdir(parents=True, exist_ok=True)
    rows, current = [], teacher
    prunes = cfg.prune_heads > 0 or cfg.prune_ffn > 0 or cfg.drop_layers > 0
    if cfg.drop_layers >= len(teacher.encoder.encoder.layer):
        raise ValueError(f"--drop-layers {cfg.drop_layers}: the teacher has {len(teacher.encoder.encoder.layer)} "
                         "layers and at least one must stay")
    done = _finished_rounds(cfg.out) if cfg.resume else []
    if done:
        last = done[-1]
        current, tok = load_solver(cfg.out / "rounds" / f"round{last}" / "checkpoint", device)
        info = json.loads((cfg.out / "rounds" / f"round{last}" / "round.json").read_text())
        ffn = None
        if info.get("ffn_kept") is not None:
            ffn = torch.zeros(ffn_shape(current.encoder), dtype=torch.bool)
            for l, kept in enumerate(info["ffn_kept"]):
                ffn[l, kept] = True
        masks = (None if info["mask"] is None else torch.tensor(info["mask"], dtype=torch.bool), ffn)
        rows = [json.loads((cfg.out / "rounds" / f"round{r}" / "round.json").read_text()) for r in done]
        console.print(f"resuming after round {last} (dev {info['dev_acc']:.4f})")
    for k in range(len(done) + 1, cfg.rounds + 1 if prunes else 1):
        student, masks, info = run_round(k, cfg, current, masks, tok, examples, dev, device, console)
        heads = heads_per_layer(student.encoder) if masks[0] is None else kept_per_layer(masks[0])
        info.update(kept_per_layer=heads, params=param_counts(student.encoder, *masks)["total"],
                    ffn_per_layer=None if masks[1] is None else kept_per_layer(masks[1]))
        if rank == 0:
            _save_round(student, tok, *masks, info, cfg.out / "rounds" / f"round{k}")
        rows.append(info)
        current = student
    # bake
    baked = copy.deepcopy(current).to(device)
    pruned = bake_heads(baked.encoder, masks[0].cpu()) if masks[0] is not None and not masks[0].all() else {}
    widths = bake_ffn(baked.encoder, masks[1].cpu()) if masks[1] is not None else None
    check = verify_bake(current, masks, baked, tok, dev, device)
    vocab = None
    if cfg.prune_vocab:
        keep = needed_ids(tok, corpus, wider, cfg.vocab_min_count, cfg.vocab_train_min_count)
        unpruned = copy.deepcopy(baked)
        new_tok = prune_vocab(baked.encoder, tok, keep)
        positions = trim_positions(baked.encoder, tok.max_length)
        vocab_check = verify_bake(unpruned, (None, None), baked, tok, dev, device, baked_tok=new_tok)
        unseen = gsm8k_texts("test", cfg.data_dir)
        vocab = {"kept": len(keep), "of": unpruned.encoder.config.vocab_size, "check": vocab_check,
                 "positions": positions,
                 "gsm8k_test_unk": unk_rate(new_tok, unseen), "gsm8k_test_unk_before": unk_rate(tok, unseen)}
        tok = new_tok
        console.print(f"vocabulary: kept {len(keep)} of {vocab['of']} tokens; GSM8K test [UNK] rate "
                      f"{vocab['gsm8k_test_unk']['rate']:.4%}; dev {vocab_check['identical_equations']}/"
                      f"{vocab_check['problems']} equations unchanged ({vocab_check['respelled']} texts respelled), "
                      f"accuracy {vocab_check['accuracy']:.4f}")
        check["accuracy"] = vocab_check["accuracy"]
    layers_kept = list(range(len(teacher.encoder.encoder.layer)))  # as indices of the teacher's layers
    for r in rows:
        layers_kept = [layers_kept[l] for l in r.get("layers_kept", range(len(layers_kept)))]
    after = {"params": param_counts(baked.encoder), "flops": encoder_flops(baked.encoder, seq_len),
             "dev_acc": check["accuracy"]}
    if rank == 0:
        save_solver(baked, tok, cfg.out / "checkpoint")
        table = Table(title=f"compress {cfg.teacher} -> {cfg.out}")
        for col in ("round", "heads", "ffn", "heads kept per layer", "ffn kept per layer", "params", "dev acc", "time"):
            table.add_column(col)
        table.add_row("teacher", "0", "0", " ".join(map(str, heads_per_layer(teacher.encoder))), "",
                      f"{before['params']['total'] / 1e6:.2f}M", f"{before['dev_acc']:.4f}", "")
        for r in rows:
            table.add_row(str(r["round"]), f"{r['ratio']:.2f}", f"{r.get('ffn_ratio', 0):.2f}",
                          " ".join(map(str, r["kept_per_layer"])), " ".join(map(str, r.get("ffn_per_layer") or [])),
                          f"{r['params'] / 1e6:.2f}M", f"{r['dev_acc']:.4f}", f"{r['wall_time_s'] / 60:.1f} min")
        table.add_row("baked", "", "", "", "", f"{after['params']['total'] / 1e6:.2f}M", f"{after['dev_acc']:.4f}", "")
        console.print(table)
        console.print(f"baked: max |diff| {check['max_abs_diff']:.2e}, identical equations "
                      f"{check['identical_equations']}/{check['problems']}, dev {after['dev_acc']:.4f}")
        ckpt = cfg.teacher / "checkpoint" if (cfg.teacher / "checkpoint").is_dir() else cfg.teacher
        write_manifest(cfg.out, stage="compress", config={**asdict(cfg), "teacher": str(cfg.teacher), "out": str(cfg.out)},
                       inputs={"teacher_decoder": file_sha256(ckpt / "decoder.safetensors"),
                               **{str(f): file_sha256(f) for f in splits.files}},
                       metrics={"before": before, "after": after, "bake_check": check, "pruned_heads": pruned,
                                "ffn_widths": widths, "vocab": vocab, "layers_kept": layers_kept,
                                "rounds": [{k: v for k, v in r.items() if k != "history"} for r in rows],
                                "histories": [r.get("history") for r in rows], "seq_len_mean": seq_len},
                       wall_time_s=time.time() - t0, device=device)
    return cfg.out
