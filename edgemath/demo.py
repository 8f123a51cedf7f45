"""`edgemath demo`: the whole pipeline, small enough for ~5 minutes on 2 CPU cores.

train a teacher on a subset of the embedded ASDiv-A fold 0 -> compress (heads, 2 recursive
rounds) -> export int8 -> solve a handful of problems with the torch-free runtime -> a
latency/size table of teacher vs student. Accuracy here is low by design (a few minutes of
training); the full recipes are in docs/results.md.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

EXAMPLES = [
    "Tom has 3 apples and buys 5 more. How many apples does he have?",
    "A baker made 48 cookies and sold 19 of them. How many cookies are left?",
    "There are 6 boxes with 12 pencils in each box. How many pencils are there?",
    "Sara shares 56 stickers equally among 7 friends. How many stickers does each friend get?",
    "A book costs 8 dollars and a pen costs 3 dollars. How much do 2 books and 1 pen cost?",
]


@dataclass
class DemoConfig:
    out: Path = Path("runs/demo")
    encoder: str | None = None
    data: str = "asdiv-a:0"
    limit: int = 400
    epochs: int = 6
    prune_heads: float = 0.5
    device: str = "auto"


def run(cfg: DemoConfig, console=None) -> dict:
    from rich.console import Console
    from rich.table import Table

    from edgemath.compress.run import CompressConfig, run as compress
    from edgemath.export.run import ExportConfig, run as export
    from edgemath.runtime.numbers import format_number
    from edgemath.runtime.solver import OnnxSolver
    from edgemath.train import TrainConfig, run as train

    console = console or Console(stderr=True)
    t0 = time.time()
    steps = {}
    teacher = cfg.out / "teacher"
    if not (teacher / "manifest.json").is_file():
        train(TrainConfig(data=cfg.data, out=teacher, encoder=cfg.encoder, limit=cfg.limit, epochs=cfg.epochs,
                          device=cfg.device, resume=True), console)
    steps["train"] = time.time() - t0
    student = cfg.out / "student"
    if not (student / "manifest.json").is_file():
        compress(CompressConfig(teacher=teacher, data=cfg.data, out=student, prune_heads=cfg.prune_heads, rounds=2,
                                epochs=1, limit=cfg.limit, device=cfg.device, resume=True), console)
    steps["compress"] = time.time() - t0 - steps["train"]
    exports = {}
    for name, run_dir, int8 in (("teacher-fp32", teacher, False), ("student-int8", student, True)):
        d = cfg.out / "exports" / name
        if not (d / "manifest.json").is_file():
            export(ExportConfig(run=run_dir, out=d, int8=int8, limit=100, max_int8_drop=5.0), console)
        exports[name] = d
    steps["export"] = time.time() - t0 - steps["train"] - steps["compress"]
    solver = OnnxSolver(exports["student-int8"], threads=1)
    table = Table(title="student (int8, torch-free runtime)")
    for c in ("problem", "equation", "answer", "ms"):
        table.add_column(c)
    for text in EXAMPLES:
        s = solver.solve_one(text)
        table.add_row(text, s.equation or "-", format_number(round(s.answer, 4)) if s.answer is not None else s.error or "-",
                      f"{s.latency_ms:.1f}")
    console.print(table)
    lat = Table(title="teacher fp32 vs student int8, batch 1, 1 thread, same problems")
    for c in ("model", "MB", "p50 ms", "ratio"):
        lat.add_column(c)
    p50 = {}
    for name, d in exports.items():
        s = OnnxSolver(d, threads=1)
        ms = sorted(s.solve_one(t).latency_ms for t in EXAMPLES * 4)
        p50[name] = ms[len(ms) // 2]
        size = sum(p.stat().st_size for p in d.glob("*.onnx")) / 1e6
        lat.add_row(name, f"{size:.1f}", f"{p50[name]:.2f}", f"{p50[name] / p50['teacher-fp32']:.2f}x")
    console.print(lat)
    steps["total"] = time.time() - t0
    console.print("wall time: " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in steps.items()))
    return {"p50_ms": p50, "wall_time_s": steps}
