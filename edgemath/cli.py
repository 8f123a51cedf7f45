"""The `edgemath` command line: one verb per stage, each a thin map to a stage's ``run``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

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
    data: str = typer.Option("asdiv-a:0", "--data", help="Data spec: asdiv-a[:FOLD], mawps[:FOLD], mawps-asdiv-a, math23k, PATH."),
    out_dir: Path = typer.Option(Path("runs/teacher"), "--out", help="Run directory to write."),
    encoder: Optional[str] = typer.Option(None, help="BERT-family checkpoint dir (default: all-MiniLM-L6-v2 package)."),
    epochs: int = typer.Option(30, help="Training epochs.", rich_help_panel="Schedule"),
    batch_size: int = typer.Option(16, help="Problems per step.", rich_help_panel="Schedule"),
    lr: float = typer.Option(1e-3, help="Decoder learning rate.", rich_help_panel="Schedule"),
    encoder_lr: float = typer.Option(8e-5, help="Encoder learning rate.", rich_help_panel="Schedule"),
    max_steps: Optional[int] = typer.Option(None, help="Stop after N steps (smoke runs).", rich_help_panel="Schedule"),
    limit: Optional[int] = typer.Option(None, help="Use only N train and N dev problems.", rich_help_panel="Schedule"),
    seed: int = typer.Option(0, help="Random seed."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="EDGEMATH_DATA", help="Folder with large datasets."),
):
    """Train a teacher solver; keeps the best checkpoint by dev accuracy."""
    from edgemath.checkpoint import CheckpointError
    from edgemath.data import DataError
    from edgemath.train import TrainConfig, run

    try:
        cfg = TrainConfig(data=data, out=out_dir, encoder=encoder, epochs=epochs, batch_size=batch_size, lr=lr,
                          encoder_lr=encoder_lr, max_steps=max_steps, limit=limit, seed=seed, device=device,
                          data_dir=data_dir)
        run(cfg, err)
    except (DataError, CheckpointError, ValueError) as e:
        _fail(str(e))


@app.command()
def evaluate(
    run_dir: Path = typer.Argument(..., help="A run directory from `edgemath train` (or its checkpoint/)."),
    data: str = typer.Option("asdiv-a:0", "--data", help="Data spec; scored on its dev split (test where it has one)."),
    split: str = typer.Option("auto", help="dev, test, train, or auto (test if the data has one, else dev)."),
    out_file: Optional[Path] = typer.Option(None, "--out", help="Predictions JSONL (default: RUN/predictions-DATA.jsonl)."),
    unseen_only: bool = typer.Option(False, help="Score only problems whose text is not in the train split."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="EDGEMATH_DATA", help="Folder with large datasets."),
):
    """Score a solver: answer accuracy (within 1e-4 relative) and per-problem predictions."""
    from edgemath.checkpoint import CheckpointError, load_solver
    from edgemath.data import DataError, load_splits
    from edgemath.evaluate import accuracy, predict, write_predictions
    from edgemath.train import pick_device

    try:
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
    preds = predict(solver, tok, problems, device=dev_name)
    acc = accuracy(preds)
    path = out_file or Path(run_dir) / f"predictions-{data.replace(':', '-').replace('/', '_')}-{split}.jsonl"
    write_predictions(preds, path)
    typer.echo(json.dumps({"data": data, "split": split, "problems": len(preds), "correct": sum(p.correct for p in preds),
                          "accuracy": round(acc, 4), "unseen_only": unseen_only, "predictions": str(path)}))


@app.command()
def compress(
    teacher: Path = typer.Option(Path("runs/teacher"), help="Run directory of the trained teacher."),
    data: str = typer.Option("asdiv-a:0", "--data", help="Data spec to distil on."),
    out_dir: Path = typer.Option(Path("runs/student"), "--out", help="Run directory to write."),
    prune_heads: float = typer.Option(0.3, help="Final fraction of attention heads removed.", rich_help_panel="Pruning"),
    rounds: int = typer.Option(3, help="Recursive distillation rounds.", rich_help_panel="Pruning"),
    alpha: float = typer.Option(0.5, help="alpha * weight norm + (1 - alpha) * attention focus.", rich_help_panel="Pruning"),
    entropy_sign: str = typer.Option("low", help="low: focused heads are important; high: broad heads are.", rich_help_panel="Pruning"),
    scorer: str = typer.Option("paper", help="paper (the alpha mix) or random (baseline).", rich_help_panel="Pruning"),
    schedule_power: float = typer.Option(3.0, help="n in p_t = p_final + (p_init - p_final)(1 - t/T)^n.", rich_help_panel="Pruning"),
    distill: bool = typer.Option(True, "--distill/--no-distill", help="Distil from the teacher (off: task loss only).", rich_help_panel="Distillation"),
    tau: float = typer.Option(2.0, help="Distillation temperature.", rich_help_panel="Distillation"),
    beta: float = typer.Option(100.0, help="Weight of the attention-map MSE.", rich_help_panel="Distillation"),
    lambda1: float = typer.Option(1.0, help="Weight of the distillation terms.", rich_help_panel="Distillation"),
    lambda2: float = typer.Option(1.0, help="Weight of the task loss.", rich_help_panel="Distillation"),
    epochs: int = typer.Option(4, help="Epochs per round.", rich_help_panel="Schedule"),
    max_steps: Optional[int] = typer.Option(None, help="Steps per round (smoke runs).", rich_help_panel="Schedule"),
    limit: Optional[int] = typer.Option(None, help="Use only N train and N dev problems.", rich_help_panel="Schedule"),
    resume: bool = typer.Option(False, help="Continue after the last finished round in --out."),
    seed: int = typer.Option(0, help="Random seed."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="EDGEMATH_DATA", help="Folder with large datasets."),
):
    """Prune attention heads progressively with recursive distillation, then bake a smaller model."""
    from edgemath.checkpoint import CheckpointError
    from edgemath.compress.run import CompressConfig, run
    from edgemath.data import DataError

    try:
        cfg = CompressConfig(teacher=teacher, data=data, out=out_dir, prune_heads=prune_heads, rounds=rounds,
                             alpha=alpha, entropy_sign=entropy_sign, scorer=scorer, schedule_power=schedule_power,
                             distill=distill, tau=tau, beta=beta, lambda1=lambda1, lambda2=lambda2, epochs=epochs,
                             max_steps=max_steps, limit=limit, resume=resume, seed=seed, device=device,
                             data_dir=data_dir)
        run(cfg, err)
    except (DataError, CheckpointError, ValueError) as e:
        _fail(str(e))


if __name__ == "__main__":
    app()
