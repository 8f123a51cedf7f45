"""Which int8 choice costs how much accuracy: quantize an fp32 export's graphs in several ways
and score each on the dev set with the runtime.

    python bench/int8_variants.py exports/teacher-fp32 asdiv-a:0
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
from edgemath.runtime.solver import OnnxSolver

VARIANTS = {
    "encoder per-tensor": (["encoder.onnx"], {}),
    "decoder graphs only": (["quantities.onnx", "step.onnx"], {}),
    "encoder per-channel": (["encoder.onnx"], {"per_channel": True}),
    "encoder MatMul only": (["encoder.onnx"], {"op_types_to_quantize": ["MatMul"]}),
    "encoder per-channel, MatMul only": (["encoder.onnx"], {"per_channel": True, "op_types_to_quantize": ["MatMul"]}),
}


def main(src: Path, data: str) -> None:
    dev = load_splits(data).dev.problems
    texts, answers = [p.text for p in dev], [p.answer for p in dev]
    results = {"fp32": OnnxSolver(src, threads=2).score(texts, answers)}
    print(f"fp32: {results['fp32']:.4f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, (graphs, kw) in VARIANTS.items():
            d = Path(tmp) / name.replace(" ", "_").replace(",", "")
            shutil.copytree(src, d)
            for g in graphs:
                quantize_dynamic(str(src / g), str(d / g), weight_type=QuantType.QInt8,
                                 extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT}, **kw)
            acc = OnnxSolver(d, threads=2).score(texts, answers)
            mb = sum(p.stat().st_size for p in d.glob("*.onnx")) / 1e6
            results[name] = acc
            print(f"{name}: {acc:.4f} ({mb:.1f} MB)", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "asdiv-a:0")
