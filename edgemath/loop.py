"""The training loop ``edgemath train`` and every ``edgemath compress`` round share: settings,
weight averaging, length-grouped batches, resumable state, DDP gradient averaging and ``fit``.
Each stage keeps only what is its own (the teacher's vocabulary and model, the student's masks
and losses)."""
from __future__ import annotations

import contextlib
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from edgemath.data import Problem


@dataclass
class LoopSettings:
    data: str = "asdiv-a:0"
    """Data spec (asdiv-a[:fold], mawps[:fold], mawps-asdiv-a, math23k, or a path)."""
    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-3
    """Decoder learning rate."""
    encoder_lr: float = 8e-5
    weight_decay: float = 0.01
    warmup: float = 0.1
    """Fraction of steps with linear warm-up."""
    eval_every: int = 1
    ema_decay: float = 0.995
    """Evaluate and save an exponential moving average of the weights (0 turns it off)."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (smoke runs)."""
    limit: int | None = None
    """Use only the first N train and dev problems (smoke runs)."""
    seed: int = 0
    device: str = "auto"
    data_dir: str | None = None
    resume: bool = False
    augment: str = ""
    """Comma-separated transforms adding one exact copy of each training problem (``edgemath.augment``:
    distractor, distractor-wide, resample, question); empty: none. A student distilled on the teacher's augmented
    data keeps what the teacher learnt from it."""
    time_budget: float | None = None
    """Minutes; stop cleanly at the end of the first epoch past it (``resume`` continues from the
    state saved at the end of the last finished epoch)."""
    save_every: float | None = 10.0
    """Minutes between states saved inside an epoch (a killed run resumes at the batch it had
    reached); None: at epoch ends only. Single-process runs only."""

    def loop_problems(self) -> list[str]:
        """What is wrong with the shared fields, phrased as CLI flags (empty when nothing)."""
        problems = []
        if self.epochs < 1:
            problems.append("--epochs must be at least 1")
        if self.batch_size < 1:
            problems.append("--batch-size must be at least 1")
        if self.limit is not None and self.limit < 1:
            problems.append("--limit must be at least 1")
        if self.max_steps is not None and self.max_steps < 1:
            problems.append("--max-steps must be at least 1")
        if not 0.0 <= self.warmup < 1.0:
            problems.append("--warmup must be in [0, 1)")
        if not 0.0 <= self.ema_decay < 1.0:
            problems.append("--ema-decay must be in [0, 1)")
        if self.time_budget is not None and self.time_budget < 0:
            problems.append("--time-budget must be >= 0 minutes")
        if self.save_every is not None and self.save_every < 0:
            problems.append("--save-every must be >= 0 minutes")
        from edgemath.augment import unknown_transforms

        if bad := unknown_transforms(self.transforms()):
            problems.append(bad)
        return problems

    def transforms(self) -> list[str]:
        return [t.strip() for t in self.augment.split(",") if t.strip()]

    def train_problems(self, train: list[Problem]) -> tuple[list[Problem], dict[str, int]]:
        """The training problems with ``--augment``'s copies added; copies made per transform."""
        if not self.transforms():
            return train, {}
        from edgemath.augment import augment

        return augment(train, self.transforms(), self.seed)


def lr_factor(total: int, warmup: float):
    """The learning rate's factor at step s: linear warm-up over ``warmup`` of the ``total`` steps
    (at least one step), then linear decay to zero at the last."""
    warm = max(1, int(warmup * total))
    return lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))


def pick_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but no CUDA GPU is visible")
    return name


def make_examples(problems: list[Problem], tok, dcfg, **options):
    """``edgemath.features.make_examples``, kept importable from here for the stages' loop code.
    It lives with the features (beside ``gold_steps``) so that ``evaluate`` can count expressible
    problems without importing the loop, which imports ``evaluate``; imported late (torch)."""
    from edgemath.features import make_examples

    return make_examples(problems, tok, dcfg, **options)


class EMA:
    """Exponential moving average of trainable weights; dev accuracy of a small-data model
    swings by several points between epochs, the average much less."""

    def __init__(self, model, decay: float):
        self.decay = decay
        self.shadow = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        self.updates = 0

    def update(self, model) -> None:
        import torch

        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in self.shadow:
                    self.shadow[n].mul_(d).add_(p.detach(), alpha=1 - d)

    @contextlib.contextmanager
    def applied(self, model):
        """Temporarily load the averaged weights into ``model``."""
        import torch

        saved = {}
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in self.shadow:
                    saved[n] = p.detach().clone()
                    p.copy_(self.shadow[n])
        try:
            yield model
        finally:
            with torch.no_grad():
                for n, p in model.named_parameters():
                    if n in saved:
                        p.copy_(saved[n])


def world() -> tuple[int, int]:
    """(rank, world size) under torchrun / accelerate launch, (0, 1) otherwise."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed() -> None:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1): gloo on CPU, nccl on GPU."""
    import os

    import torch
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")


def _average_gradients(params) -> None:
    import torch.distributed as dist

    _, n = world()
    if n == 1:
        return
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= n


STATE = "train_state.pt"
"""Everything a stopped training run needs to go on as if it had never stopped."""
RESTART = {"out", "resume", "time_budget", "save_every", "device", "data_dir"}
"""Settings that may change between a stopped run and its resumption."""


def length_batches(order: list[int], lengths: list[int], size: int, rng: random.Random, window: int = 50) -> list[list[int]]:
    """Batches of similar token length, in random order: each run of ``window`` batches of the
    shuffled order is sorted by length before it is cut (a random batch of Math23k pads to
    ~1.7x its mean length; every padded token costs encoder time)."""
    batches = []
    for w in range(0, len(order), size * window):
        run = sorted(order[w : w + size * window], key=lengths.__getitem__)
        batches += [run[s : s + size] for s in range(0, len(run), size)]
    rng.shuffle(batches)
    return batches


class Stopped(Exception):
    """Training stopped on its time budget with its state saved; ``--resume`` goes on."""


def save_state(path: Path, **state) -> None:
    """Written beside, then renamed: a kill mid-write leaves the previous epoch's state."""
    import torch

    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def check_same_settings(was: dict, now: dict, where: Path) -> None:
    """Resuming under other settings (epochs, learning rates, data) would silently train a
    different model than either run asked for. A setting the saved state predates counts as the
    same when it is off now (False, None, 0): settings are added off by default."""
    added_off = {k for k in now.keys() - was.keys() if str(now[k]) in ("False", "None", "0", "0.0", "")}  # saved as text too
    changed = sorted(k for k in was.keys() | now.keys()
                     if k not in RESTART and k not in added_off and str(was.get(k)) != str(now.get(k)))
    if changed:
        diff = ", ".join(f"{k}: {was.get(k)!r} now {now.get(k)!r}" for k in changed)
        raise ValueError(f"{where} was made with other settings ({diff}); resume with the same ones or train afresh")


def load_state(path: Path, settings: dict) -> dict:
    import torch

    state = torch.load(path, map_location="cpu", weights_only=False)
    check_same_settings(state["settings"], settings, path)
    return state


def _to_device(value, device: str):
    """A saved value with every tensor in it (through dicts) moved to ``device``."""
    if isinstance(value, dict):
        return {k: _to_device(v, device) for k, v in value.items()}
    return value.to(device) if hasattr(value, "to") else value


def fit(solver, tok, examples, dev: list[Problem], cfg, device: str, console, on_best,
        loss_fn=None, before_step=None, evaluate_fn=None, label: str = "train", state: Path | None = None,
        carry: dict[str, dict] | None = None):
    """The one training loop (train and compress use it): AdamW with two learning rates, linear
    warm-up and decay, dev accuracy after each epoch, ``on_best(acc, epoch)`` on improvement.

    Hooks for compression: ``loss_fn(batch) -> loss`` (default: the solver's task loss), or
    ``-> (loss, parts)`` with a dict of named terms whose epoch means go into the log and history,
    ``before_step(step, total)`` (mask updates), ``evaluate_fn() -> accuracy``. Under torchrun
    each rank takes its share of every epoch and gradients are averaged across ranks.

    With ``state`` (a file), the loop saves itself there after every epoch and every
    ``cfg.save_every`` minutes inside one (a Math23k epoch on CPU is an hour: a killed run loses
    minutes, not the epoch), resumes from it when it exists, at the batch it had reached, and
    raises ``Stopped`` after the first epoch past ``cfg.time_budget`` minutes. ``carry``: dicts the
    caller's hooks keep beside the model (a round's masks, its best student so far), saved with
    the state and restored in place, so that a resumed run finds them as the killed one left them."""
    import torch
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from edgemath.equivalents import Alternatives
    from edgemath.evaluate import accuracy, predict
    from edgemath.features import collate

    rank, n_ranks = world()
    lengths = [len(e.ids) for e, _ in examples]
    loss_fn = loss_fn or (lambda batch: solver(batch)[0])
    evaluate_fn = evaluate_fn or (lambda: accuracy(predict(solver, tok, dev, device=device)))
    enc_params = [p for n, p in solver.named_parameters() if n.startswith("encoder.")]
    dec_params = [p for n, p in solver.named_parameters() if not n.startswith("encoder.")]
    opt = torch.optim.AdamW([{"params": enc_params, "lr": cfg.encoder_lr},
                             {"params": dec_params, "lr": cfg.lr}], weight_decay=cfg.weight_decay)
    per_epoch = math.ceil(len(examples) / (cfg.batch_size * n_ranks))
    total = per_epoch * cfg.epochs
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(total, cfg.warmup))
    rng = random.Random(cfg.seed)
    amp = device.startswith("cuda")
    best, history, step, first, within = -1.0, [], 0, 0, None
    ema = EMA(solver, cfg.ema_decay) if cfg.ema_decay else None
    settings = {k: str(v) for k, v in asdict(cfg).items()}
    if state is not None and state.is_file():
        saved = load_state(state, settings)
        solver.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        sched.load_state_dict(saved["sched"])
        if ema:
            ema.shadow, ema.updates = {n: t.to(device) for n, t in saved["ema"].items()}, saved["ema_updates"]
        rng.setstate(saved["rng"])
        torch.set_rng_state(saved["torch_rng"])
        if saved.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(saved["cuda_rng"])
        best, history, step, first = saved["best"], saved["history"], saved["step"], saved["epoch"]
        for name, kept in (carry or {}).items():
            kept.clear()
            kept.update(_to_device(saved["carry"][name], device))
        within = saved.get("within")  # saved inside epoch first + 1: its batches, the next one, the losses so far
        if rank == 0:
            at = f" and {within['next']} of its {len(within['batches'])} batches" if within else ""
            console.log(f"{label}: resumed after epoch {first}{at} (step {step}, best dev {best:.4f})")
    t_start = last_save = time.time()
    wall0 = (within or {}).get("wall_s") or (history[-1]["wall_s"] if history else 0.0)
    save_every = getattr(cfg, "save_every", None) if state is not None and n_ranks == 1 else None

    def save(epoch_done: int, within_epoch: dict | None = None) -> None:
        nonlocal last_save
        save_state(state, settings=settings, epoch=epoch_done, step=step, best=best, history=history,
                   model=solver.state_dict(), opt=opt.state_dict(), sched=sched.state_dict(),
                   ema=ema.shadow if ema else None, ema_updates=ema.updates if ema else 0,
                   rng=rng.getstate(), torch_rng=torch.get_rng_state(),
                   cuda_rng=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                   within=within_epoch, carry=carry)
        last_save = time.time()
    quiet_bar, log_every = not console.is_terminal, max(1, per_epoch // 10)
    averaged = ema.applied if ema else (lambda m: contextlib.nullcontext(m))
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("loss {task.fields[loss]:.3f} dev {task.fields[dev]}"), TimeRemainingColumn(),
                  console=console, transient=False, disable=rank != 0) as bar:
        task = bar.add_task(label, total=total, completed=step, loss=0.0, dev="-")
        for epoch in range(first, cfg.epochs):
            solver.train()
            if within:  # the epoch a saved state stopped inside: its batches from the next one on
                batches, start, losses, parts = within["batches"], within["next"], within["losses"], within["parts"]
                within = None
            else:
                order = list(range(len(examples)))
                rng.shuffle(order)  # same seed on every rank: the same permutation, split below
                batches = length_batches(order[rank::n_ranks], lengths, cfg.batch_size, rng)
                start, losses, parts = 0, [], {}
            t_epoch, done_before = time.time(), len(losses)
            for k in range(start, len(batches)):
                ids = batches[k]
                if before_step:
                    before_step(step, total)
                chunk = [examples[i] for i in ids]
                steps = [st.pick(rng) if isinstance(st, Alternatives) else st for _, st in chunk]
                batch = collate([e for e, _ in chunk], tok.pad_id, steps).to(device)
                batch.rows = ids  # which examples: a loss may look up per-example targets (edgemath.kd)
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                    loss = loss_fn(batch)
                if isinstance(loss, tuple):  # (loss, {term: value}): a distillation loss's parts
                    loss, terms = loss
                    for name, value in terms.items():  # a term may be absent from a batch: counted per term
                        summed, count = parts.get(name, (0.0, 0))
                        parts[name] = (summed + float(value), count + 1)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                _average_gradients(solver.parameters())
                torch.nn.utils.clip_grad_norm_(solver.parameters(), 1.0)
                opt.step()
                sched.step()
                if ema:
                    ema.update(solver)
                step += 1
                losses.append(loss.item())
                recent = sum(losses[-20:]) / len(losses[-20:])
                bar.update(task, advance=1, loss=recent)
                if quiet_bar and rank == 0 and len(losses) % log_every == 0:  # logs have no live bar
                    console.log(f"{label} epoch {epoch + 1}: step {step}/{total}, loss {recent:.4f}, "
                                f"{(time.time() - t_epoch) / (len(losses) - done_before):.2f} s/step")
                if step >= total:
                    break
                if save_every is not None and k + 1 < len(batches) and time.time() - last_save >= save_every * 60:
                    save(epoch, {"batches": batches, "next": k + 1, "losses": losses, "parts": parts,
                                 "wall_s": round(wall0 + time.time() - t_start, 1)})
            last = step >= total or epoch == cfg.epochs - 1
            if (epoch + 1) % cfg.eval_every == 0 or last:
                with averaged(solver):
                    acc = evaluate_fn()
                    if acc > best and rank == 0:
                        on_best(acc, epoch + 1)
                means = {name: summed / count for name, (summed, count) in parts.items()}
                history.append({"epoch": epoch + 1, "step": step, "loss": sum(losses) / max(1, len(losses)), "dev_acc": acc,
                                "wall_s": round(wall0 + time.time() - t_start, 1), **means})
                bar.update(task, dev=f"{acc:.3f} (best {max(best, acc):.3f})")
                if rank == 0:
                    split = " (" + ", ".join(f"{n} {v:.4f}" for n, v in means.items()) + ")" if means else ""
                    console.log(f"{label} epoch {epoch + 1}: loss {history[-1]['loss']:.4f}{split} dev {acc:.4f}")
                best = max(best, acc)
            if step >= total:
                break
            if state is not None:
                if rank == 0:
                    save(epoch + 1)
                budget = getattr(cfg, "time_budget", None)
                if budget is not None and time.time() - t_start >= budget * 60:
                    raise Stopped(f"{label}: time budget of {budget:g} min spent after epoch {epoch + 1} of "
                                  f"{cfg.epochs} (best dev {best:.4f}); state in {state}, continue with --resume")
    if ema:  # leave the averaged weights in the model: they are what was evaluated and saved
        with torch.no_grad():
            for n, p in solver.named_parameters():
                if n in ema.shadow:
                    p.copy_(ema.shadow[n])
    return best, history


