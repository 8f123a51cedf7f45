"""Parity of exported graphs against PyTorch, every time (after optimum's validate_model_outputs).

Encoder outputs are compared on padded batches of a size the graph was not traced with; the
whole solver is compared by the equations it decodes on the dev set. Failures are collected
and raised together as :class:`ParityError`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class ParityError(RuntimeError):
    """The ONNX model disagrees with PyTorch beyond tolerance."""


@dataclass
class Parity:
    encoder_max_abs_diff: float = 0.0
    identical_equations: int = 0
    problems: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def equations_match(self) -> bool:
        return self.identical_equations == self.problems


def encoder_parity(solver, onnx_solver, texts: list[str], batch_size: int = 5) -> float:
    """Max |ONNX - PyTorch| of last_hidden_state over real tokens, padded batches."""
    import torch

    from edgemath.runtime.solver import collate_np

    worst = 0.0
    tok = onnx_solver.tok
    for s in range(0, len(texts), batch_size):
        encs = [tok.encode(t) for t in texts[s : s + batch_size]]
        ids, att, _, _ = collate_np(encs, tok.pad_id)
        got = onnx_solver.hidden(ids, att)
        with torch.no_grad():
            ref = solver.encoder(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(att)).last_hidden_state.numpy()
        real = att.astype(bool)
        worst = max(worst, float(np.abs(got - ref)[real].max()))
    return worst


def solver_parity(torch_equations: list[str], onnx_solver, texts: list[str], batch_size: int = 32) -> tuple[int, list[str]]:
    """How many problems decode to the same prefix equation as PyTorch, and the first few that don't."""
    from edgemath.runtime.expression import to_prefix

    same, bad = 0, []
    for s in range(0, len(texts), batch_size):
        encs = [onnx_solver.tok.encode(t) for t in texts[s : s + batch_size]]
        trees = onnx_solver.decode(encs)
        for k, tree in enumerate(trees):
            eq = " ".join(to_prefix(tree))
            ref = torch_equations[s + k]
            if eq == ref:
                same += 1
            elif len(bad) < 5:
                bad.append(f"{texts[s + k][:60]!r}: onnx {eq} vs torch {ref}")
    return same, bad
