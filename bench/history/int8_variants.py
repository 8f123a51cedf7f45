"""Which int8 (or 4-bit) choice costs how much accuracy and size: quantize an fp32 export's graphs
in several ways and score each on the dev set with the runtime.

    python bench/history/int8_variants.py exports/teacher-fp32 asdiv-a:0

The 4-bit rows are weight-only blockwise quantization (ONNX Runtime's MatMulNBits and
GatherBlockQuantized, symmetric, one fp32 scale per block) of all three graphs: how far below the
int8 size a model can go, and at what accuracy.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic

from edgemath.data import load_splits
from edgemath.export.run import GRAPH_NAMES
from edgemath.runtime.solver import OnnxSolver

VARIANTS = {
    "encoder per-tensor": (["encoder.onnx"], {}),
    "decoder graphs only": (["quantities.onnx", "step.onnx"], {}),
    "encoder per-channel": (["encoder.onnx"], {"per_channel": True}),
    "encoder MatMul only": (["encoder.onnx"], {"op_types_to_quantize": ["MatMul"]}),
    "encoder per-channel, MatMul only": (["encoder.onnx"], {"per_channel": True, "op_types_to_quantize": ["MatMul"]}),
}
# name -> (block size, embeddings in 4-bit too; otherwise int8 per-channel)
WEIGHTS_4BIT = {
    "4-bit MatMul (block 32) + int8 embeddings": (32, False),
    "4-bit MatMul and embeddings (block 32)": (32, True),
    "4-bit MatMul and embeddings (block 128)": (128, True),
}


def weight_only_4bit(src: Path, dst: Path, block: int, embeddings: bool) -> None:
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

    ops = ("MatMul", "Gather") if embeddings else ("MatMul",)
    cfg = DefaultWeightOnlyQuantConfig(block_size=block, is_symmetric=True, accuracy_level=4, bits=4,
                                       op_types_to_quantize=ops, quant_axes=(("MatMul", 0), ("Gather", 1)))
    q = MatMulNBitsQuantizer(onnx.load(src), algo_config=cfg)
    q.process()
    q.model.save_model_to_file(str(dst), use_external_data_format=False)
    if not embeddings:
        quantize_dynamic(str(dst), str(dst), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["Gather"])


def main(src: Path, data: str) -> None:
    dev = load_splits(data).dev.problems
    texts, answers = [p.text for p in dev], [p.answer for p in dev]
    results = {"fp32": OnnxSolver(src, threads=2).score(texts, answers)}
    print(f"fp32: {results['fp32']:.4f}", flush=True)

    def score(name: str, d: Path) -> None:
        results[name] = acc = OnnxSolver(d, threads=2).score(texts, answers)
        mb = sum(p.stat().st_size for p in d.glob("*.onnx")) / 1e6
        print(f"{name}: {acc:.4f} ({mb:.1f} MB)", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        for name, (graphs, kw) in VARIANTS.items():
            d = Path(tmp) / name.replace(" ", "_").replace(",", "")
            shutil.copytree(src, d)
            for g in graphs:
                quantize_dynamic(str(src / g), str(d / g), weight_type=QuantType.QInt8,
                                 extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT}, **kw)
            score(name, d)
        for name, (block, embeddings) in WEIGHTS_4BIT.items():
            d = Path(tmp) / f"4bit-{block}-{embeddings}"
            shutil.copytree(src, d)
            for g in GRAPH_NAMES:
                weight_only_4bit(src / g, d / g, block, embeddings)
            score(name, d)
    print(json.dumps(results))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "asdiv-a:0")
