"""Problems -> padded tensors (token ids, number pooling matrix, gold steps)."""
from __future__ import annotations

import torch

from edgemath.data import Problem
from edgemath.model import Batch, DecoderConfig, tree_to_steps
from edgemath.runtime.expression import parse_prefix
from edgemath.runtime.tokenize import Encoded, ProblemTokenizer


def encode_all(problems: list[Problem], tok: ProblemTokenizer) -> list[Encoded]:
    return [tok.encode(p.text) for p in problems]


def gold_steps(p: Problem, enc: Encoded, cfg: DecoderConfig):
    if not p.equation or not p.trainable:
        return None
    steps = tree_to_steps(parse_prefix(p.equation), len(enc.numbers), cfg.constants, cfg.ops)
    if steps is None or len(steps) > cfg.max_steps:
        return None
    # a number cut off by truncation cannot be pointed at
    if any(enc.spans[x][1] == 0 for _, i, j in steps for x in (i, j) if x < len(enc.numbers)):
        return None
    return steps


def collate(encs: list[Encoded], pad_id: int, steps: list | None = None) -> Batch:
    b = len(encs)
    t = max(len(e.ids) for e in encs)
    n = max(1, max(len(e.numbers) for e in encs))
    ids = torch.full((b, t), pad_id, dtype=torch.long)
    att = torch.zeros(b, t, dtype=torch.long)
    pool = torch.zeros(b, n, t)
    num_mask = torch.zeros(b, n, dtype=torch.bool)
    for k, e in enumerate(encs):
        ids[k, : len(e.ids)] = torch.tensor(e.ids)
        att[k, : len(e.ids)] = 1
        for x, (s, end) in enumerate(e.spans):
            if end > s:
                pool[k, x, s:end] = 1.0 / (end - s)
                num_mask[k, x] = True
    batch = Batch(ids, att, pool, num_mask)
    if steps is not None:
        s_max = max(1, max(len(s) for s in steps))
        st = torch.full((b, s_max, 3), -1, dtype=torch.long)
        for k, (e, ss) in enumerate(zip(encs, steps)):
            n_k = len(e.numbers)
            for x, (op, i, j) in enumerate(ss):
                # re-index: numbers stay, constants/intermediates shift by the padding (n - n_k)
                st[k, x] = torch.tensor([op, i if i < n_k else i + n - n_k, j if j < n_k else j + n - n_k])
        batch.steps = st
        batch.n_steps = torch.tensor([len(s) for s in steps])
    return batch
