"""`edgemath bench`: the PyTorch teacher, optimum's export of it (fp32, int8) and our
exports (teacher/student, fp32/int8) measured side by side, in one run, on the same problems.

Per variant: encoder latency p50/p95 at batch 1 (1 and 2 threads, real unpadded lengths),
whole-solver latency at batch 1, throughput at batch 32, file size, dev accuracy. Ratios are
taken against the PyTorch fp32 teacher and against optimum's int8 teacher.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


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


def _pcts(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95))}


def _time_encoder(run_one, feeds, repeats: int) -> dict:
    """Median over repeats of each problem's encoder time; one warm-up pass first."""
    for f in feeds[:5]:
        run_one(f)
    per = []
    for f in feeds:
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            run_one(f)
            ts.append((time.perf_counter() - t0) * 1000)
        per.append(float(np.median(ts)))
    return _pcts(per)


def _ort_session(path: Path, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


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


def measure_export(d: Path, dev, timed, threads, repeats) -> dict:
    from edgemath.runtime.solver import OnnxSolver, collate_np

    row: dict = {"dir": str(d), "bytes": sum(p.stat().st_size for p in d.glob("*.onnx")),
                 "encoder_bytes": (d / "encoder.onnx").stat().st_size}
    for t in threads:
        sess = _ort_session(d / "encoder.onnx", t)
        solver = OnnxSolver(d, threads=t)
        feeds = []
        for p in timed:
            ids, att, _, _ = collate_np([solver.tok.encode(p.text)], solver.tok.pad_id)
            feeds.append(_encoder_feed(sess, ids, att))
        row[f"encoder_t{t}"] = _time_encoder(lambda f: sess.run(None, f), feeds, repeats)
        row[f"solve_t{t}"] = _pcts([solver.solve_one(p.text).latency_ms for p in timed])
    solver = OnnxSolver(d, threads=max(threads))
    t0 = time.perf_counter()
    row["accuracy"] = solver.score([p.text for p in dev], [p.answer for p in dev])
    row["throughput_b32_per_s"] = len(dev) / (time.perf_counter() - t0)
    row["precision"] = json.loads((d / "manifest.json").read_text()).get("precision", "fp32") if (d / "manifest.json").is_file() else "fp32"
    return row


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
            row[f"encoder_t{t}"] = _time_encoder(lambda b: solver.encoder(input_ids=b.input_ids, attention_mask=b.attention_mask),
                                                 batches, repeats)
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
        if cfg.exports:
            cfg.work.mkdir(parents=True, exist_ok=True)
            for name, d in _optimum_exports(cfg.teacher, cfg.exports[0], cfg.work).items():
                rows[f"{name} teacher"] = measure_export(d, dev, timed, cfg.threads, repeats)
    for d in cfg.exports:
        rows[variant_name(Path(d), cfg.exports)] = measure_export(Path(d), dev, timed, cfg.threads, repeats)
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

    doc = {"data": cfg.data, "split": split, "timed_problems": len(timed), "scored_problems": len(dev), "threads": list(cfg.threads),
           "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
           "wall_time_s": time.time() - t_start, "rows": rows}
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    cfg.out.write_text(json.dumps(doc, indent=2))
    table = Table(title=f"edgemath bench on {cfg.data} ({len(timed)} problems timed at batch 1, {len(dev)} {split} problems scored)")
    cols = ["variant", "MB"] + [f"encoder p50/p95 ms, {t} thr" for t in cfg.threads] + \
        [f"solve p50 ms, {t} thr" for t in cfg.threads] + ["batch-32 problems/s", "accuracy"]
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
                      *[f"{r[k]:.2f}x" if k in r else "-" for k in ratios])
    Console(width=200).print(table)
    console.print(f"wrote {cfg.out}")
    return doc
