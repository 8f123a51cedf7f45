"""int8 graphs with some products computed in fp32 (dynamic quantization rounds each MatMul's
activations to uint8 with one scale per tensor; where that rounding costs accuracy, the same int8
weights can be fed the fp32 activations instead).

Used by ``edgemath export --int8`` where the encoder's layout names such products (MPNet: the FFN
output projection, whose 3,072-wide post-GELU activations cost 5 points when rounded) and by the
browser runtime's page model (``edgemath.web``).
"""
from __future__ import annotations

import re
from pathlib import Path


class GraphError(ValueError):
    """A graph this rewrite does not handle."""


def matmul_integer_in_fp32(src: Path, dst: Path, activations: str, pick: re.Pattern | None) -> None:
    """``src``'s MatMulInteger nodes (those ``pick`` matches, or all) rewritten in fp32, written to
    ``dst`` (may be ``src``). ``activations``: "int8" multiplies the same integers exactly in fp32;
    "fp32" feeds the unrounded activations x / scale (the dequantized twin: int8 weights, fp32
    activations)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    g = src.name
    m = onnx.load(str(src))
    inits = {i.name: i for i in m.graph.initializer}
    dql = {n.output[0]: n for n in m.graph.node if n.op_type == "DynamicQuantizeLinear"}
    nodes, retyped = [], set()
    for n in m.graph.node:
        if n.op_type != "MatMulInteger" or (pick and not pick.search(n.name)):
            nodes.append(n)
            continue
        if n.input[1] not in inits:
            raise GraphError(f"{g}: MatMulInteger {n.name} has a computed B; exact_int8_copy handles weight matrices only")
        b = numpy_helper.to_array(inits[n.input[1]]).astype(np.int64)
        if len(n.input) > 3 and n.input[3] in inits:
            b = b - numpy_helper.to_array(inits[n.input[3]]).astype(np.int64)
        bound = int(np.abs(b).sum(0).max()) * 255  # the largest |partial sum| one output can reach
        if activations == "int8" and bound >= 2**24:
            raise GraphError(f"{g}: MatMulInteger {n.name} can sum to {bound}; fp32 is not exact beyond 2**24")
        p = f"{n.output[0]}/exact"
        side = []
        for x, (val, zp) in enumerate([(n.input[0], n.input[2] if len(n.input) > 2 else ""),
                                       (n.input[1], n.input[3] if len(n.input) > 3 else "")]):
            if x == 0 and activations == "fp32":
                q = dql.get(val)
                if q is None:
                    raise GraphError(f"{g}: MatMulInteger {n.name} does not read a DynamicQuantizeLinear output")
                nodes.append(helper.make_node("Div", [q.input[0], q.output[1]], [f"{p}/0c"]))
                side.append(f"{p}/0c")
                continue
            nodes.append(helper.make_node("Cast", [val], [f"{p}/{x}f"], to=TensorProto.FLOAT))
            cur = f"{p}/{x}f"
            if zp:
                nodes.append(helper.make_node("Cast", [zp], [f"{p}/{x}zf"], to=TensorProto.FLOAT))
                nodes.append(helper.make_node("Sub", [cur, f"{p}/{x}zf"], [f"{p}/{x}c"]))
                cur = f"{p}/{x}c"
            side.append(cur)
        if activations == "int8":
            nodes.append(helper.make_node("MatMul", side, [f"{p}/y"]))
            nodes.append(helper.make_node("Cast", [f"{p}/y"], [n.output[0]], to=TensorProto.INT32))
        else:  # a float product: the Cast(to=float) that reads it becomes a no-op
            nodes.append(helper.make_node("MatMul", side, [n.output[0]]))
            retyped.add(n.output[0])
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    keep = [v for v in m.graph.value_info if v.name not in retyped]
    del m.graph.value_info[:]
    m.graph.value_info.extend(keep)
    onnx.save(m, str(dst))
