"""Where the page's encoder first parts from the Python runtime's: every float tensor of the
shipped encoder, computed by onnxruntime-web's wasm (in Node) and by native onnxruntime as the
runtime runs it (exact int8 products), compared in graph order; prints the first that differ.

    python bench/web_first_divergence.py [PROBLEM_ID ...] [--model models/default] [--show 8]

e.g. `python bench/web_first_divergence.py gsm8k-test/62` (ids as `python -m edgemath.web parity`
lists them). Why: with exact integer products on both sides, what is left is an fp32 kernel that
rounds differently; this names the first one.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from edgemath.cli import default_model
from edgemath.runtime.solver import session_options
from edgemath.runtime.tokenize import ProblemTokenizer
from edgemath.web import ensure_ort, parity_texts, web_root

DUMP = Path(__file__).with_name("web") / "dump_tensors.mjs"


def _file(d: Path, name: str) -> Path:
    return d / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".f32")


def divergences(model: Path, text: str, show: int) -> list[dict]:
    ids = ProblemTokenizer.from_file(model / "tokenizer.json").encode(text).ids
    m = onnx.shape_inference.infer_shapes(onnx.load(str(model / "encoder.onnx")))
    floats = {v.name for v in list(m.graph.value_info) + list(m.graph.output)
              if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT}
    outputs = {o.name for o in m.graph.output}
    order = [(o, n.op_type) for n in m.graph.node for o in n.output if o in floats]
    for o, _ in order:
        if o not in outputs:
            m.graph.output.append(onnx.helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None))
    rows = []
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        onnx.save(m, str(d / "all.onnx"))
        r = subprocess.run(["node", str(DUMP), str(d / "all.onnx"), json.dumps(ids), str(d)], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"node {DUMP.name} failed: {r.stderr.strip()[-1000:]}")
        s = ort.InferenceSession(str(d / "all.onnx"), session_options(threads=1))  # as OnnxSolver runs it
        feed = {"input_ids": np.array([ids]), "attention_mask": np.ones((1, len(ids)), dtype=np.int64)}
        native = dict(zip([x.name for x in s.get_outputs()], s.run(None, feed)))
        for name, op in order:
            f = _file(d, name)
            if not f.is_file() or name not in native:
                continue
            wasm = np.fromfile(f, dtype=np.float32).reshape(native[name].shape)
            diff = float(np.abs(wasm - native[name]).max())
            if diff > 0:
                rows.append({"op": op, "tensor": name, "max_abs_diff": diff, "max_abs": float(np.abs(native[name]).max())})
                if len(rows) >= show:
                    break
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ids", nargs="*", default=["gsm8k-test/62"])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--show", type=int, default=8)
    a = ap.parse_args()
    model = a.model or default_model()
    ensure_ort(web_root(), print)
    texts = dict(parity_texts())
    for pid in a.ids:
        print(pid)
        for r in divergences(model, texts[pid], a.show):
            print(f"  {r['op']:22s} {r['tensor'][:64]:64s} max|diff| {r['max_abs_diff']:.2e} (max|x| {r['max_abs']:.2e})")


if __name__ == "__main__":
    main()
