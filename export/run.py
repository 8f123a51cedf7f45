"""`edgemath export`: a solver run -> an export directory the runtime can load.

setup (check the run, opset) -> export fp32 graphs -> parity vs PyTorch -> optional fusion
(re-checked) -> optional int8 (dev accuracy re-measured, fails beyond ``max_int8_drop``) ->
manifest.json. The output directory is everything the runtime needs, nothing more.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from edgemath.manifest import file_sha256, fresh_dir, swap_into_place, write_manifest

MIN_OPSET, MAX_OPSET = 14, 21
GRAPH_NAMES = ("encoder.onnx", "quantities.onnx", "step.onnx")


@dataclass
class ExportConfig:
    run: Path = Path("runs/teacher")
    out: Path = Path("exports/teacher")
    data: str | None = None
    """Dev set for parity and int8 accuracy; default: the run's own training data spec."""
    int8: bool = False
    static: bool = False
    """Static int8 with calibration on training problems instead of dynamic."""
    optimize: bool = False
    opset: int = 17
    max_int8_drop: float = 1.0
    """Accuracy points int8 may lose on the dev set before export fails."""
    int8_fp32: str | None = "auto"
    """Regex over the encoder's MatMulInteger node names fed fp32 activations (int8 weights kept);
    "auto": what the encoder's layout names (MPNet: the FFN output projection; BERT: none); None or
    "": every product int8."""
    int8_fp32_step: str | None = r"/pairs/"
    """The same over the decoder's step graph. Default: the pair scorer, whose [K, M, M, D] pair
    features share one dynamic scale per tensor; rounded, they cost the Math23k teacher 4.3 dev
    points (76.78 -> 72.47); fed fp32 over the same int8 weights, 75.68 (docs/results.md, Export and int8)."""
    atol: float = 1e-4
    limit: int | None = None
    data_dir: str | None = None

    def graph_settings(self) -> dict:
        """The settings that shape the exported graphs (a report reuses an export only when they match)."""
        names = ("int8", "opset") + (("static", "int8_fp32", "int8_fp32_step") if self.int8 else ())
        return {k: getattr(self, k) for k in names}

    def __post_init__(self):
        if self.static and not self.int8:
            raise ValueError("--static needs --int8")
        if not MIN_OPSET <= self.opset <= MAX_OPSET:
            raise ValueError(f"--opset {self.opset} is not supported: use {MIN_OPSET}-{MAX_OPSET}")
        self.run, self.out = Path(self.run), Path(self.out)


def _accuracy(onnx_solver, problems) -> float:
    return onnx_solver.score([p.text for p in problems], [p.answer for p in problems])


def optimize_encoder(path: Path) -> dict:
    """ONNX Runtime's transformer fusion; num_heads=0 lets it read each layer's head count
    from the graph (forcing one count on uneven heads fuses wrongly and silently)."""
    from onnxruntime.transformers.optimizer import optimize_model

    model = optimize_model(str(path), model_type="bert", num_heads=0, hidden_size=0, opt_level=1)
    model.save_model_to_file(str(path))
    return {k: v for k, v in model.get_fused_operator_statistics().items() if v}


def fp32_activation_pattern(setting: str | None, encoder) -> str | None:
    """The ``int8_fp32`` regex to apply: "auto" asks the encoder's layout."""
    if setting != "auto":
        return setting or None
    from edgemath.layout import layout_of

    return layout_of(encoder).int8_fp32


def quantize(paths: list[Path], calibration: list[dict] | None = None) -> None:
    """Dynamic int8 for every graph; with ``calibration`` (encoder feeds), the encoder gets
    static int8 (activation ranges from those inputs, QDQ format) and the rest stays dynamic."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)

    class Feeds(CalibrationDataReader):
        def __init__(self, feeds):
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    for p in paths:
        tmp = p.with_suffix(".int8.onnx")
        if calibration and p.name == "encoder.onnx":
            quantize_static(str(p), str(tmp), Feeds(calibration), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True,
                            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        else:
            # per-channel weights: per-tensor int8 cost the ASDiv-A teacher 5.9 points, per-channel 1.3
            quantize_dynamic(str(p), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        tmp.replace(p)


def run(cfg: ExportConfig, console=None) -> Path:
    """Export ``cfg.run`` to ``cfg.out``; raises ParityError when a check fails."""
    import torch
    from rich.console import Console

    from edgemath.checkpoint import check_checkpoint_dir, load_solver
    from edgemath.data import load_splits
    from edgemath.evaluate import predict
    from edgemath.export.check import ParityError, encoder_parity, solver_parity
    from edgemath.export.graphs import export_graphs
    from edgemath.manifest import read_manifest
    from edgemath.runtime.solver import OnnxSolver

    console = console or Console(stderr=True)
    t0 = time.time()
    ckpt = check_checkpoint_dir(cfg.run)
    solver, tok = load_solver(cfg.run, "cpu")
    run_manifest = read_manifest(cfg.run)
    data = cfg.data or run_manifest.get("config", {}).get("data") or "asdiv-a:0"
    dev = load_splits(data, cfg.data_dir).dev.problems
    if cfg.limit:
        dev = dev[: cfg.limit]
    tmp = fresh_dir(cfg.out)
    with torch.no_grad():
        export_graphs(solver, tmp, cfg.opset)
    tok.save(tmp / "tokenizer.json")
    shutil.copy(ckpt / "encoder" / "config.json", tmp / "config.json")  # for third-party ONNX clients
    meta = json.loads((ckpt / "solver.json").read_text())
    (tmp / "solver.json").write_text(json.dumps(meta, indent=2))
    texts = [p.text for p in dev]
    ref = predict(solver, tok, dev)
    ref_eq = [p.equation for p in ref]
    ref_acc = sum(p.correct for p in ref) / max(1, len(ref))
    report: dict = {"torch_dev_acc": ref_acc}

    def check(stage: str) -> dict:
        sess = OnnxSolver(tmp, threads=2)
        diff = encoder_parity(solver, sess, texts[:40])
        same, bad = solver_parity(ref_eq, sess, texts)
        acc = _accuracy(sess, dev)
        if stage == "int8":  # quantized graphs are judged by accuracy, not bitwise agreement
            mark = f"(fp32 {report['fp32']['dev_acc']:.4f})"
        else:
            mark = "[green]ok[/]" if diff <= cfg.atol and same == len(texts) else "[red]FAIL[/]"
        console.print(f"{stage}: encoder max |diff| {diff:.2e} (atol {cfg.atol:g}), identical equations "
                      f"{same}/{len(texts)}, dev accuracy {acc:.4f} {mark}")
        return {"encoder_max_abs_diff": diff, "identical_equations": same, "problems": len(texts),
                "dev_acc": acc, "mismatches": bad}

    report["fp32"] = check("fp32")
    failures = []
    if report["fp32"]["encoder_max_abs_diff"] > cfg.atol or report["fp32"]["identical_equations"] != len(texts):
        failures.append(f"fp32 parity: {report['fp32']}")
    if cfg.optimize and not failures:
        report["fusion"] = optimize_encoder(tmp / "encoder.onnx")
        report["fused"] = check("fused")
        if report["fused"]["encoder_max_abs_diff"] > cfg.atol or report["fused"]["identical_equations"] != len(texts):
            failures.append(f"fused graph disagrees with PyTorch (a wrong fusion): {report['fused']}")
    if cfg.int8 and not failures:
        calibration = None
        if cfg.static:
            from edgemath.runtime.solver import collate_np

            train = load_splits(data, cfg.data_dir).train.problems[:64]
            calibration = []
            for p in train:
                ids, att, _, _ = collate_np([tok.encode(p.text)], tok.pad_id)
                calibration.append({"input_ids": ids, "attention_mask": att})
        quantize([tmp / g for g in GRAPH_NAMES], calibration)
        for graph, pattern, key in [("encoder.onnx", fp32_activation_pattern(cfg.int8_fp32, solver.encoder),
                                     "int8_fp32_activations"),
                                    ("step.onnx", cfg.int8_fp32_step, "int8_fp32_step_activations")]:
            if pattern:
                import re

                from edgemath.export.fp32_activations import matmul_integer_in_fp32

                matmul_integer_in_fp32(tmp / graph, tmp / graph, "fp32", re.compile(pattern))
                report[key] = pattern
        report["int8"] = check("int8")
        drop = 100 * (report["fp32"]["dev_acc"] - report["int8"]["dev_acc"])
        report["int8"]["drop_points"] = drop
        if drop > cfg.max_int8_drop:
            failures.append(f"int8 loses {drop:.2f} points of dev accuracy (limit --max-int8-drop {cfg.max_int8_drop})")
    if failures:
        raise ParityError("; ".join(failures))
    sizes = {g: (tmp / g).stat().st_size for g in GRAPH_NAMES}
    write_manifest(tmp, stage="export", config={**asdict(cfg), "run": str(cfg.run), "out": str(cfg.out), "data": data},
                   inputs={"run": str(cfg.run), "decoder_sha256": file_sha256(ckpt / "decoder.safetensors")},
                   precision=("int8-static" if cfg.static else "int8") if cfg.int8 else "fp32", opset=cfg.opset, graph_bytes=sizes,
                   total_bytes=sum(sizes.values()), parity=report, source_manifest=run_manifest.get("metrics", {}),
                   wall_time_s=time.time() - t0)
    swap_into_place(tmp, cfg.out)
    console.print(f"exported {cfg.out}: {sum(sizes.values()) / 1e6:.1f} MB ({'int8' if cfg.int8 else 'fp32'})")
    return cfg.out
