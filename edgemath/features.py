"""Problems -> padded tensors (token ids, number pooling matrix, gold steps)."""
from __future__ import annotations

from collections import Counter

import torch

from edgemath.data import Problem
from edgemath.equivalents import Alternatives, equivalent_trees, percent_as_fraction
from edgemath.model import Batch, DecoderConfig, tree_to_steps
from edgemath.runtime.expression import is_slot, parse_prefix, slot_index
from edgemath.runtime.solver import collate_np
from edgemath.runtime.tokenize import Encoded, ProblemTokenizer


def encode_all(problems: list[Problem], tok: ProblemTokenizer) -> list[Encoded]:
    return [tok.encode(p.text) for p in problems]


def gold_tree(p: Problem, enc: Encoded, cfg: DecoderConfig):
    """The gold equation over the numbers as the model reads them (a percent as its fraction or not)."""
    tree = parse_prefix(p.equation)
    return percent_as_fraction(tree, [n.percent for n in enc.numbers]) if cfg.percent_fraction else tree


def gold_steps(p: Problem, enc: Encoded, cfg: DecoderConfig):
    if not p.equation or not p.trainable:
        return None
    steps = tree_to_steps(gold_tree(p, enc, cfg), len(enc.numbers), cfg.constants, cfg.ops)
    if steps is None or len(steps) > cfg.max_steps:
        return None
    # a number cut off by truncation cannot be pointed at
    if any(enc.spans[x][1] == 0 for _, i, j in steps for x in (i, j) if x < len(enc.numbers)):
        return None
    return steps


def untrainable_reason(p: Problem, enc: Encoded, cfg: DecoderConfig) -> str:
    """Why ``gold_steps`` gives None for ``p``, in words (the skip counts of `train` and `data`)."""
    if not p.equation or not p.trainable:
        return "no equation that reproduces the answer (kept for scoring only)"
    tree = gold_tree(p, enc, cfg)
    stack = [tree]
    while stack:
        t = stack.pop()
        if isinstance(t, tuple):
            if t[0] not in cfg.ops:
                return f"operator {t[0]} outside the decoder's ops"
            stack += [t[1], t[2]]
        elif is_slot(t):
            if slot_index(t) >= len(enc.numbers):
                return "a number slot beyond the numbers read from the text"
        elif t not in cfg.constants:
            return f"constant {t} outside the decoder's set"
    steps = tree_to_steps(tree, len(enc.numbers), cfg.constants, cfg.ops)
    if not steps:
        return "the equation is a single number (no operation to learn)"
    if len(steps) > cfg.max_steps:
        return f"more than {cfg.max_steps} operations (max_steps)"
    return "a number it uses lies beyond the tokenizer's length limit"


def gold_alternatives(p: Problem, enc: Encoded, cfg: DecoderConfig, limit: int):
    """``gold_steps`` and, with ``limit`` > 1, the step sequences of up to ``limit`` - 1 equivalent
    trees, as :class:`Alternatives`; a problem with one form keeps its plain list, so training
    without equivalents is unchanged."""
    first = gold_steps(p, enc, cfg)
    if first is None or limit <= 1:
        return first
    forms = [first]
    values = [n.value for n in enc.numbers] if cfg.percent_fraction else p.numbers
    for tree in equivalent_trees(gold_tree(p, enc, cfg), values)[1:]:
        steps = tree_to_steps(tree, len(enc.numbers), cfg.constants, cfg.ops)
        if steps and len(steps) <= cfg.max_steps and steps not in forms:
            forms.append(steps)
            if len(forms) == limit:
                break
    return Alternatives(forms) if len(forms) > 1 else first


def make_examples(problems: list[Problem], tok: ProblemTokenizer, dcfg: DecoderConfig, equivalents: int = 1):
    """(encoding, gold steps) per problem the decoder can express; the rest counted by reason.
    With ``equivalents`` > 1 the steps of a problem with several equivalent forms are
    ``equivalents.Alternatives``, one drawn per visit by ``loop.fit``."""
    _, examples, skipped = expressible(problems, tok, dcfg, equivalents)
    return examples, skipped


def expressible(problems: list[Problem], tok: ProblemTokenizer, dcfg: DecoderConfig, equivalents: int = 1):
    """``make_examples`` with the problem of each example beside it: (problems, examples, skipped),
    the first two aligned (a distillation teacher reads the problems' texts with its own tokenizer)."""
    kept, out, skipped = [], [], Counter()
    for p in problems:
        enc = tok.encode(p.text)
        steps = gold_alternatives(p, enc, dcfg, equivalents)
        if steps is None:
            skipped[untrainable_reason(p, enc, dcfg)] += 1
        else:
            kept.append(p)
            out.append((enc, steps))
    return kept, out, skipped


def collate(encs: list[Encoded], pad_id: int, steps: list | None = None) -> Batch:
    """The runtime's padding (``collate_np``) as tensors, plus gold steps re-indexed for it."""
    ids, att, pool, num_mask = collate_np(encs, pad_id)
    batch = Batch(*(torch.from_numpy(a) for a in (ids, att, pool, num_mask)))
    if steps is not None:
        n = num_mask.shape[1]
        s_max = max(1, max(len(s) for s in steps))
        st = torch.full((len(encs), s_max, 3), -1, dtype=torch.long)
        for k, (e, ss) in enumerate(zip(encs, steps)):
            n_k = len(e.numbers)
            for x, (op, i, j) in enumerate(ss):
                # re-index: numbers stay, constants/intermediates shift by the padding (n - n_k)
                st[k, x] = torch.tensor([op, i if i < n_k else i + n - n_k, j if j < n_k else j + n - n_k])
        batch.steps = st
        batch.n_steps = torch.tensor([len(s) for s in steps])
    return batch
