"""Beam search: exact on a toy model when the beam holds every candidate, and the same equations
from the ONNX runtime as from PyTorch."""
import numpy as np
import pytest

from edgemath.runtime.beam import beam_decode
from edgemath.runtime.expression import to_prefix

OPS = ["+", "-", "*"]
W = np.random.default_rng(0).normal(size=(3, 4, 4))


def toy_step(q, q_mask):
    """A deterministic scorer: every (op, i, j) makes a new vector from q_i and q_j."""
    cand = np.tanh(np.einsum("kde,nie->nkid", W, q)[:, :, :, None, :] + q[:, None, None, :, :])
    scores = cand.sum(-1) * 2.0
    valid = q_mask[:, None, :, None] & q_mask[:, None, None, :]
    return np.where(valid, scores, -np.inf), cand[..., 0] * 3.0, cand


def _log_softmax(x):
    x = x.ravel()
    return x - x.max() - np.log(np.exp(x - x.max()).sum())


def every_solution(q, q_mask, trees, max_steps, t=0, lp=0.0):
    """(log-probability, expression) of every finished solution, by enumeration."""
    scores, stop, cand = toy_step(q, q_mask)
    m = q.shape[1]
    for f, s in enumerate(_log_softmax(scores[0])):
        if not np.isfinite(s):
            continue
        op, rest = divmod(f, m * m)
        i, j = divmod(rest, m)
        node, z = (OPS[op], trees[i], trees[j]), stop[0, op, i, j]
        if t == max_steps - 1:
            yield lp + s, node
            continue
        yield lp + s - np.logaddexp(0, -z), node
        yield from every_solution(np.concatenate([q, cand[:1, op, i, j][:, None]], 1),
                                  np.concatenate([q_mask, [[True]]], 1), trees + [node], max_steps, t + 1,
                                  lp + s - np.logaddexp(0, z))


@pytest.mark.parametrize("seed", range(5))
def test_wide_beam_finds_the_most_probable_solution(seed):
    rng = np.random.default_rng(seed)
    q, q_mask = rng.normal(size=(1, 3, 4)), np.array([[True, True, seed % 2 == 0]])
    leaves = ["n0", "n1", "c0"]
    solutions = list(every_solution(q, q_mask, leaves, max_steps=3))
    best_lp, best = max(solutions, key=lambda s: s[0])
    assert beam_decode(toy_step, q, q_mask, OPS, leaves, max_steps=3, width=10_000) == best
    assert len(solutions) > 100 and sum(lp == best_lp for lp, _ in solutions) == 1
    assert np.logaddexp.reduce([lp for lp, _ in solutions]) == pytest.approx(0.0, abs=1e-9)  # a distribution


def test_onnx_beam_matches_pytorch_beam(tiny_teacher, tmp_path):
    pytest.importorskip("torch")
    from edgemath.checkpoint import load_solver
    from edgemath.data import load_splits
    from edgemath.evaluate import predict
    from edgemath.export.run import ExportConfig, run as export
    from edgemath.runtime.solver import OnnxSolver

    out = export(ExportConfig(run=tiny_teacher, out=tmp_path / "fp32", limit=8))
    problems = load_splits("asdiv-a:0").dev.problems[:24]
    solver, tok = load_solver(tiny_teacher)
    want = [p.equation for p in predict(solver, tok, problems, beam=4)]
    onnx = OnnxSolver(out, threads=1, beam=4)
    got = [" ".join(to_prefix(t)) for t in onnx.decode([onnx.tok.encode(p.text) for p in problems])]
    assert got == want
    with pytest.raises(ValueError, match="--beam must be at least 1"):
        OnnxSolver(out, beam=0)
    with pytest.raises(ValueError, match="--beam must be at least 1"):  # no silent greedy in PyTorch either
        predict(solver, tok, problems, beam=0)
