"""Beam search over deductive steps, for one problem; numpy only, shared by the ONNX runtime and
the PyTorch solver.

Greedy decoding commits to the best (op, i, j) at every step. A solution's probability is the
product of its steps' softmax probabilities over all (op, i, j), times the stop head's
probability at its last step and one minus it at the others, so a beam keeps the ``width`` most
probable partial solutions instead. Every partial solution at step t has t new quantities, so
the beams of one problem are scored as one batch.

Problems are beamed one at a time on purpose: stepping every problem's beams together (one call
per step for a batch of 32) was measured 20% slower with ONNX Runtime on CPU (models/default,
ASDiv-A fold-0 dev, width 5: 3.7-4.4 s against 3.0-3.2 s), as the candidate tensor
[beams, ops, m, m, d] outgrows the cache.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .expression import Tree

Step = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, object]]
"""(q [n, m, d], q_mask [n, m]) -> (scores [n, K, m, m] with invalid at -inf,
stop logits [n, K, m, m], new quantity vectors: [n, K, m, m, d] or anything that
``[beam, op, i, j]`` indexes to a [d] array)."""


def check_width(width: int) -> int:
    """``width``, or ValueError when it is no beam at all: 1 is greedy decoding."""
    if width < 1:
        raise ValueError(f"--beam must be at least 1 (1: greedy decoding), got {width}")
    return width


def _log_softmax(x: np.ndarray) -> np.ndarray:
    top = x.max(axis=1, keepdims=True)
    return x - top - np.log(np.exp(x - top).sum(axis=1, keepdims=True))


def beam_decode(step: Step, q: np.ndarray, q_mask: np.ndarray, ops: Sequence[str], leaves: list[Tree],
                max_steps: int, width: int) -> Tree:
    """The most probable finished expression of one problem (``q`` [1, m, d], ``q_mask`` [1, m])
    among those a beam of ``width`` reaches; ``leaves`` name the initial quantities."""
    scores_b = np.zeros(1)  # log-probability of each alive beam
    trees_b = [list(leaves)]
    best: tuple[float, Tree] | None = None
    for t in range(max_steps):
        scores, stop, cand = step(q, q_mask)
        n, m = q.shape[0], q.shape[1]
        total = scores_b[:, None] + _log_softmax(scores.reshape(n, -1))
        flat = total.ravel()
        top = np.argsort(-flat, kind="stable")[: 2 * width]
        top = top[np.isfinite(flat[top])]
        alive = []
        for f in top:
            b, k = divmod(int(f), total.shape[1])
            op, rest = divmod(k, m * m)
            i, j = divmod(rest, m)
            node = (ops[op], trees_b[b][i], trees_b[b][j])
            s = float(stop[b, op, i, j])
            end = flat[f] if t == max_steps - 1 else flat[f] - np.logaddexp(0.0, -s)  # + log sigmoid(s)
            if best is None or end > best[0]:
                best = (float(end), node)
            if t < max_steps - 1:
                alive.append((flat[f] - np.logaddexp(0.0, s), b, op, i, j, node))  # + log(1 - sigmoid(s))
        alive = sorted(alive, key=lambda a: -a[0])[:width]
        if not alive or alive[0][0] <= best[0]:  # a longer expression only loses probability
            break
        rows = [(b, op, i, j) for _, b, op, i, j, _ in alive]
        new = np.stack([cand[r] for r in rows])[:, None]
        q = np.concatenate([q[[r[0] for r in rows]], new], 1)
        q_mask = np.concatenate([q_mask[[r[0] for r in rows]], np.ones((len(rows), 1), dtype=bool)], 1)
        scores_b = np.array([a[0] for a in alive])
        trees_b = [trees_b[a[1]] + [a[5]] for a in alive]
    return best[1] if best else leaves[0]
