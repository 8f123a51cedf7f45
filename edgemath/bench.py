"""`edgemath bench`: the PyTorch teacher, optimum's export of it (fp32, int8) and our
exports (teacher/student, fp32/int8) measured side by side, in one run, on the same problems.

Per variant: encoder latency p50/p95 at batch 1 (1 and 2 threads, real unpadded lengths),
whole-solver latency at batch 1, throughput at batch 32, file size, dev accuracy. Ratios are
taken against the PyTorch fp32 teacher and against optimum's int8 teacher. The ONNX exports take
turns problem by problem while they are timed, so a machine that speeds up or slows down during
the run moves all of them alike; the PyTorch row is timed on its own, before them.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgemath.runtime.beam import check_width


@dataclass
class BenchConfig:
    exports: list[Path] = field(default_factory=list)
    """Export directories to measure (the first should be the fp32 teacher)."""
    teacher: Path | None = None
    """Teacher run directory: adds the PyTorch fp32 row and optimum's exports of its encoder."""
    data: str = "asdiv-a:0"
    problems: int = 100
    """Held-out problems timed at batch 1 (all are scored for accuracy unless quick): the test split
    where the data has one (Math23k), else dev."""
    threads: tuple[int, ...] = (1, 2)
    repeats: int = 3
    quick: bool = False
    out: Path = Path("bench/results/bench.json")
    work: Path = Path("runs/bench-work")
    data_dir: str | None = None
    beam: int = 1
    """Above 1: every export's whole solver is also timed and scored with this beam width (timed
    in turns with its greedy self), to show what the search costs and gives."""

    def __post_init__(self):
        check_width(self.beam)


def _pcts(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95))}


RUNTIME_SETS = {"asdiv-a (fold 0 train + dev)": "asdiv-a:0", "mawps (fold 0 train + dev)": "mawps:0", "gsm8k test": "gsm8k"}
"""The problem sets a runtime change is scored on: every embedded ASDiv-A and MAWPS problem (fit
checks for the shipped model, which trains on them) and GSM8K test (held out)."""


def runtime_set_problems(spec: str) -> list:
    """The problems of one of :data:`RUNTIME_SETS`: GSM8K's test split, fold 0's train + dev otherwise."""
    from edgemath.data import load_splits

    s = load_splits(spec)
    return s.test.problems if spec == "gsm8k" else s.train.problems + s.dev.problems


def _time_interleaved(variants: dict[str, tuple], repeats: int) -> dict[str, dict]:
    """Per-problem median over repeats for every variant, the variants taking turns problem by
    problem (who goes first rotates). On a shared machine the speed drifts (another job, clock
    changes); timing variant after variant lets a drift land on whichever ran during it and moved
    the ratios by ~10% between runs. Taking turns puts the drift on all of them alike.

    `variants` maps a name to (run_one, inputs); every variant gets the same number of inputs.
    One warm-up pass over the first five inputs first."""
    names = list(variants)
    n = {len(inputs) for _, inputs in variants.values()}
    if len(n) != 1:
        raise ValueError(f"variants have different numbers of inputs: {sorted(n)}")
    for run_one, inputs in variants.values():
        for x in inputs[:5]:
            run_one(x)
    per: dict[str, list[float]] = {k: [] for k in names}
    turn = 0
    for i in range(n.pop()):
        ts: dict[str, list[float]] = {k: [] for k in names}
        for _ in range(repeats):
            first = turn % len(names)
            turn += 1
            for k in names[first:] + names[:first]:
                run_one, inputs = variants[k]
                t0 = time.perf_counter()
                run_one(inputs[i])
                ts[k].append((time.perf_counter() - t0) * 1000)
        for k in names:
            per[k].append(float(np.median(ts[k])))
    return {k: _pcts(v) for k, v in per.items()}


def _optimum_exports(teacher: Path, base_export: Path, work: Path) -> dict[str, Path]:
    """optimum's feature-extraction export of the teacher encoder (and its dynamic int8), each
    placed beside our decoder graphs so the whole solver can be scored with it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from optimum.exporters.onnx import main_export
    import onnx

    from edgemath.checkpoint import check_checkpoint_dir

    from edgemath.manifest import file_sha256

    ckpt = check_checkpoint_dir(teacher)
    work = work / file_sha256(ckpt / "encoder" / "model.safetensors")[:16]  # never reuse another model's export
    hf = work / "hf-encoder"
    if not (hf / "config.json").is_file():
        shutil.copytree(ckpt / "encoder", hf, dirs_exist_ok=True)
        shutil.copy(ckpt / "tokenizer.json", hf / "tokenizer.json")
    raw = work / "optimum-raw"
    if not (raw / "model.onnx").is_file():
        main_export(str(hf), raw, task="feature-extraction", library_name="transformers")
    out = {}
    for name in ("optimum-fp32", "optimum-int8"):
        d = work / name
        if not (d / "encoder.onnx").is_file():
            shutil.copytree(base_export, d, dirs_exist_ok=True)
            if name == "optimum-fp32":
                shutil.copy(raw / "model.onnx", d / "encoder.onnx")
            else:
                quantize_dynamic(str(raw / "model.onnx"), str(d / "encoder.onnx"), weight_type=QuantType.QInt8,
                                 extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        out[name] = d
    return out


def _encoder_feed(sess, ids, att) -> dict:
    names = {i.name for i in sess.get_inputs()}
    feed = {"input_ids": ids, "attention_mask": att}
    if "token_type_ids" in names:
        feed["token_type_ids"] = np.zeros_like(ids)
    return feed


def measure_exports(dirs: dict[str, Path], dev, timed, threads, repeats, beam: int = 1) -> dict[str, dict]:
    """Latency of every export, timed in turns (`_time_interleaved`); then each one's accuracy and
    batch-32 throughput on all of `dev` (and, with ``beam`` > 1, its beam-search solve time and
    accuracy)."""
    import copy

    from edgemath.paired import marks_to_str
    from edgemath.runtime.solver import OnnxSolver, collate_np

    rows: dict[str, dict] = {name: {"dir": str(d), "bytes": sum(p.stat().st_size for p in d.glob("*.onnx")),
                                    "encoder_bytes": (d / "encoder.onnx").stat().st_size}
                             for name, d in dirs.items()}
    texts = [p.text for p in timed]
    for t in threads:
        encoders, solvers = {}, {}
        for name, d in dirs.items():
            # CPU on every machine: the bench is about the edge; the encoder timed alone is the
            # solver's own session (one copy of each model in memory, not two)
            solver = OnnxSolver(d, threads=t, provider="cpu")
            sess = solver.sessions["encoder.onnx"]
            feeds = [_encoder_feed(sess, *collate_np([solver.tok.encode(x)], solver.tok.pad_id)[:2]) for x in texts]
            encoders[name] = (lambda f, sess=sess: sess.run(None, f), feeds)
            solvers[name] = (solver.solve_one, texts)
            if beam > 1:
                wide = copy.copy(solver)  # the same sessions, searched with a beam
                wide.beam = beam
                solvers[f"{name}\tbeam"] = (wide.solve_one, texts)
        for name, stats in _time_interleaved(encoders, repeats).items():
            rows[name][f"encoder_t{t}"] = stats
        for name, stats in _time_interleaved(solvers, 1).items():
            export, _, searched = name.partition("\t")
            rows[export][f"solve_t{t}" + (f"_beam{beam}" if searched else "")] = stats
        del encoders, solvers  # a dozen fp32 sessions per thread count: free them before the next
    for name, d in dirs.items():
        solver = OnnxSolver(d, threads=max(threads), provider="cpu")
        t0 = time.perf_counter()
        marks = solver.marks([p.text for p in dev], [p.answer for p in dev])
        rows[name]["accuracy"] = sum(marks) / max(1, len(marks))
        rows[name]["correct"] = marks_to_str(marks)  # per problem: paired differences between exports
        rows[name]["throughput_b32_per_s"] = len(dev) / (time.perf_counter() - t0)
        if beam > 1:
            solver.beam = beam
            rows[name][f"accuracy_beam{beam}"] = solver.score([p.text for p in dev], [p.answer for p in dev])
        m = d / "manifest.json"
        rows[name]["precision"] = json.loads(m.read_text()).get("precision", "fp32") if m.is_file() else "fp32"
    return rows


def measure_torch(teacher: Path, dev, timed, threads, repeats) -> dict:
    import torch

    from edgemath.checkpoint import check_checkpoint_dir, load_solver
    from edgemath.evaluate import accuracy, predict
    from edgemath.features import collate

    solver, tok = load_solver(teacher)
    ckpt = check_checkpoint_dir(teacher)
    row: dict = {"dir": str(teacher), "precision": "fp32",
                 "bytes": sum(p.stat().st_size for p in ckpt.rglob("*.safetensors"))}
    row["encoder_bytes"] = (ckpt / "encoder" / "model.safetensors").stat().st_size
    before = torch.get_num_threads()
    for t in threads:
        torch.set_num_threads(t)
        batches = [collate([tok.encode(p.text)], tok.pad_id) for p in timed]
        with torch.inference_mode():
            encoder = (lambda b: solver.encoder(input_ids=b.input_ids, attention_mask=b.attention_mask), batches)
            row[f"encoder_t{t}"] = _time_interleaved({"torch": encoder}, repeats)["torch"]
            per = []
            for b in batches:
                t0 = time.perf_counter()
                solver.decode(b)
                per.append((time.perf_counter() - t0) * 1000)
        row[f"solve_t{t}"] = _pcts(per)
    torch.set_num_threads(max(threads))
    t0 = time.perf_counter()
    row["accuracy"] = accuracy(predict(solver, tok, dev, batch_size=32))
    row["throughput_b32_per_s"] = len(dev) / (time.perf_counter() - t0)
    torch.set_num_threads(before)
    return row


def variant_name(d: Path, exports: list) -> str:
    """The folder name, or parent/name where two exports share a folder name."""
    same = [Path(e) for e in exports if Path(e).name == d.name]
    return d.name if len(same) == 1 else f"{d.parent.name}/{d.name}"


def run(cfg: BenchConfig, console=None) -> dict:
    from rich.console import Console
    from rich.table import Table

    from edgemath.data import load_splits

    console = console or Console(stderr=True)
    splits = load_splits(cfg.data, cfg.data_dir)
    split = "test" if splits.test else "dev"  # as `edgemath evaluate`: the paper's Math23k numbers are on test
    dev = (splits.test or splits.dev).problems
    n = min(cfg.problems, 20) if cfg.quick else cfg.problems
    if cfg.quick:
        dev = dev[:40]
    timed = dev[:n]
    repeats = 1 if cfg.quick else cfg.repeats
    rows: dict[str, dict] = {}
    t_start = time.time()
    if cfg.teacher:
        rows["pytorch-fp32 teacher"] = measure_torch(cfg.teacher, dev, timed, cfg.threads, repeats)
    dirs: dict[str, Path] = {}
    if cfg.teacher and cfg.exports:
        cfg.work.mkdir(parents=True, exist_ok=True)
        for name, d in _optimum_exports(cfg.teacher, cfg.exports[0], cfg.work).items():
            dirs[f"{name} teacher"] = d
    for d in cfg.exports:
        dirs[variant_name(Path(d), cfg.exports)] = Path(d)
    if dirs:
        rows.update(measure_exports(dirs, dev, timed, cfg.threads, repeats, cfg.beam))
    t1 = cfg.threads[0]
    base = rows.get("pytorch-fp32 teacher")
    ref_int8 = rows.get("optimum-int8 teacher")
    first = rows[variant_name(Path(cfg.exports[0]), cfg.exports)] if cfg.exports else None
    for r in rows.values():
        if first:
            r["encoder_vs_first_export"] = r[f"encoder_t{t1}"]["p50_ms"] / first[f"encoder_t{t1}"]["p50_ms"]
        if base:
            r["encoder_vs_pytorch"] = r[f"encoder_t{t1}"]["p50_ms"] / base[f"encoder_t{t1}"]["p50_ms"]
        if ref_int8:
            r["encoder_vs_optimum_int8"] = r[f"encoder_t{t1}"]["p50_ms"] / ref_int8[f"encoder_t{t1}"]["p50_ms"]
    import os
    import platform

    doc = {"data": cfg.data, "split": split, "beam": cfg.beam, "timed_problems": len(timed), "scored_problems": len(dev), "threads": list(cfg.threads), "timing": "exports interleaved problem by problem",
           "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
           "wall_time_s": time.time() - t_start, "rows": rows}
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    cfg.out.write_text(json.dumps(doc, indent=2))
    table = Table(title=f"edgemath bench on {cfg.data} ({len(timed)} problems timed at batch 1, {len(dev)} {split} problems scored)")
    cols = ["variant", "MB"] + [f"encoder p50/p95 ms, {t} thr" for t in cfg.threads] + \
        [f"solve p50 ms, {t} thr" for t in cfg.threads] + ["batch-32 problems/s", "accuracy"]
    beam_cols = {}  # row key -> column title
    if cfg.beam > 1:
        beam_cols = {f"solve_t{t}_beam{cfg.beam}": f"beam {cfg.beam}: solve p50 ms, {t} thr" for t in cfg.threads}
        beam_cols[f"accuracy_beam{cfg.beam}"] = f"beam {cfg.beam}: accuracy"
    cols += list(beam_cols.values())
    ratios = {"encoder_vs_first_export": "encoder vs first export", "encoder_vs_pytorch": "encoder vs torch",
              "encoder_vs_optimum_int8": "encoder vs optimum int8"}
    ratios = {k: v for k, v in ratios.items() if any(k in r for r in rows.values())}
    cols += list(ratios.values())
    for c in cols:
        table.add_column(c, justify="left" if c == "variant" else "right")
    for name, r in rows.items():
        table.add_row(name, f"{r['bytes'] / 1e6:.1f}",
                      *[f"{r[f'encoder_t{t}']['p50_ms']:.2f}/{r[f'encoder_t{t}']['p95_ms']:.2f}" for t in cfg.threads],
                      *[f"{r[f'solve_t{t}']['p50_ms']:.2f}" for t in cfg.threads],
                      f"{r['throughput_b32_per_s']:.0f}", f"{r['accuracy']:.4f}",
                      *[("-" if k not in r else f"{r[k]:.4f}" if k.startswith("acc") else f"{r[k]['p50_ms']:.2f}")
                        for k in beam_cols],
                      *[f"{r[k]:.2f}x" if k in r else "-" for k in ratios])
    Console(width=200).print(table)
    console.print(f"wrote {cfg.out}")
    return doc
