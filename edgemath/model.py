"""The solver: a pretrained BERT-family encoder + a deductive equation decoder.

The decoder builds the equation bottom-up, one operation per step (after Jie et al., 2022,
"Learning to Reason Deductively", ACL): every quantity (each number in the text, each learned
constant, each intermediate result) has a vector; a step scores every (op, left, right) triple
and the chosen triple's vector becomes a new quantity; a stop head decides when the newest
quantity is the answer. Every decoded sequence is a well-formed expression tree by
construction, and the tree is returned in prefix form over slots ``n0..`` and constants.

    text --encoder--> H [B, T, E] --span means--> numbers [B, N, D] ++ constants [C, D]
    step t:  Q [B, M, D] (--step layers-->) --pairs--> E [B, K, M, M, D] --score--> logits [B, K*M*M]
             chosen E -> Q[:, M]      stop = sigmoid(w . E_chosen)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from edgemath.runtime.beam import beam_decode, check_width
from edgemath.runtime.expression import Tree

COMMUTATIVE = ("+", "*")
UNUSED_BUCKETS = 4
"""``stop_unused``: the stop head tells apart 0, 1, 2 and 3 or more text numbers left unused."""


@dataclass
class DecoderConfig:
    """Shapes and vocabularies of the decoder; saved as solver.json beside the weights."""

    hidden: int = 256
    """Width of quantity vectors in the decoder."""
    ops: list[str] = field(default_factory=lambda: ["+", "-", "*", "/"])
    constants: list[str] = field(default_factory=list)
    """Constants the decoder may use, learned from the training equations."""
    max_steps: int = 8
    max_numbers: int = 24
    """Numbers one problem may hold; every step scores (numbers + constants + steps)^2 pairs."""
    encoder_hidden: int = 384
    dropout: float = 0.1
    quantity_layers: int = 1
    """Self-attention layers over the initial quantities, so each number sees the others."""
    stop_unused: bool = False
    """The stop head also sees how many of the text's numbers no step has used once the new
    quantity is made (the new quantity's vector alone does not say that a number is left).
    Greedy decoding in PyTorch only so far: export and beam search refuse such a model."""
    step_layers: int = 0
    """Self-attention layers over the current quantities, intermediate results included, before
    each step is scored (Jie et al.'s rationalizer). Without them a pair of earlier quantities
    scores the same at every step, so a greedy step can only use the newest result or repeat the
    step before: an equation with two computed operands, (a + b) * (c - d), is out of its reach."""
    percent_fraction: bool = False
    """Number slots hold a percent as its fraction ("20%" -> 0.2): the gold ``/ n 100`` step is
    gone (``equivalents.percent_as_fraction``); the tokenizer and both runtimes read numbers so."""


class PairScorer(nn.Module):
    """For each op: e_ij = LN(W2 gelu(A q_i + B q_j + C (q_i * q_j))), score = v . e_ij."""

    def __init__(self, d: int, n_ops: int, dropout: float):
        super().__init__()
        self.n_ops = n_ops
        self.a = nn.Linear(d, n_ops * d)
        self.b = nn.Linear(d, n_ops * d, bias=False)
        self.c = nn.Linear(d, n_ops * d, bias=False)
        self.out = nn.Parameter(torch.empty(n_ops, d, d))
        nn.init.xavier_uniform_(self.out)
        self.norm = nn.LayerNorm(d)
        self.score = nn.Linear(d, 1)
        # a shift of every candidate's score: the softmax cancels it, so its gradient is rounding
        # noise, which Adam would turn into lr-sized steps that differ from run to run
        self.score.bias.requires_grad_(False)
        self.drop = nn.Dropout(dropout)

    def forward(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, m, d = q.shape
        k = self.n_ops
        qa = self.a(q).view(b, m, k, d).permute(0, 2, 1, 3)  # [B, K, M, D]
        qb = self.b(q).view(b, m, k, d).permute(0, 2, 1, 3)
        prod = q[:, :, None, :] * q[:, None, :, :]  # [B, M, M, D]
        pc = self.c(prod).view(b, m, m, k, d).permute(0, 3, 1, 2, 4)  # [B, K, M, M, D]
        h = self.drop(F.gelu(qa[:, :, :, None, :] + qb[:, :, None, :, :] + pc))
        # one 2-D matmul per op (not one einsum): ONNX Runtime's int8 quantizer only takes
        # MatMuls with 2-D constant weights, and this weight was 1 MB of fp32 in the step graph
        e = self.norm(torch.stack([h[:, o] @ self.out[o] for o in range(k)], 1))  # [B, K, M, M, D]
        return e, self.score(e).squeeze(-1)  # [B, K, M, M]

    def pick(self, q: torch.Tensor, op: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        """e for one (op, i, j) per example [B, D]: ``forward(q)[0][range(B), op, i, j]``
        without scoring every pair."""
        b, _, d = q.shape
        ar = torch.arange(b, device=q.device)
        qi, qj = q[ar, i], q[ar, j]  # [B, D]
        k = self.n_ops

        def per_op(lin: nn.Linear, x: torch.Tensor) -> torch.Tensor:  # op's block of lin(x)
            return torch.einsum("bod,bd->bo", lin.weight.view(k, d, d)[op], x)

        h = per_op(self.a, qi) + self.a.bias.view(k, d)[op] + per_op(self.b, qj) + per_op(self.c, qi * qj)
        h = self.drop(F.gelu(h))
        return self.norm(torch.einsum("bd,bde->be", h, self.out[op]))


class _SelfAttention(nn.Module):
    """Multi-head self-attention with nn.MultiheadAttention's parameter names (so weights are
    interchangeable) but plain reshapes that export to ONNX with dynamic batch and length."""

    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d, d))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d))
        self.out_proj = nn.Linear(d, d)
        nn.init.xavier_uniform_(self.in_proj_weight)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        b, m, d = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        qkv = qkv.view(b, m, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # [3, B, h, M, dh]
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.heads)  # [B, h, M, M]
        att = att.masked_fill(pad[:, None, None, :], float("-inf")).softmax(-1)
        y = (self.drop(att) @ v).transpose(1, 2).reshape(b, m, d)
        return self.out_proj(y)


class MixLayer(nn.Module):
    """A pre-norm transformer layer over quantities (ReLU FFN of width 2d): the same
    parameters and maths as nn.TransformerEncoderLayer(norm_first=True)."""

    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        self.self_attn = _SelfAttention(d, heads, dropout)
        self.linear1, self.linear2 = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.self_attn(self.norm1(x), pad))
        return x + self.drop(self.linear2(self.drop(F.relu(self.linear1(self.norm2(x))))))


class DeductiveDecoder(nn.Module):
    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.hidden
        self.number_proj = nn.Sequential(nn.Linear(2 * cfg.encoder_hidden, d), nn.LayerNorm(d))
        self.constants = nn.Parameter(torch.randn(max(len(cfg.constants), 1), d) * 0.02)
        self.const_proj = nn.Linear(cfg.encoder_hidden, d)
        self.mix = nn.ModuleList(MixLayer(d, 4, cfg.dropout) for _ in range(cfg.quantity_layers))
        self.step_mix = nn.ModuleList(MixLayer(d, 4, cfg.dropout) for _ in range(cfg.step_layers))
        self.pairs = PairScorer(d, len(cfg.ops), cfg.dropout)
        self.stop = nn.Linear(d, 1)
        if cfg.stop_unused:
            self.unused = nn.Embedding(UNUSED_BUCKETS, d)
            self.unused_mlp = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, 1))
        mask = torch.ones(len(cfg.ops), 1, 1, dtype=torch.bool)
        for i, op in enumerate(cfg.ops):
            mask[i] = op not in COMMUTATIVE
        self.register_buffer("noncomm", mask, persistent=False)

    def quantities(self, hidden: torch.Tensor, pool: torch.Tensor, num_mask: torch.Tensor):
        """Initial quantities: pooled number spans (with the [CLS] context) and constants.

        hidden [B, T, E], pool [B, N, T] (row k averages number k's tokens), num_mask [B, N]."""
        cls = hidden[:, 0]
        nums = pool @ hidden  # [B, N, E]
        nums = self.number_proj(torch.cat([nums, cls[:, None].expand_as(nums)], -1))
        b = hidden.shape[0]
        c = len(self.cfg.constants)
        consts = (self.constants[:c][None] + self.const_proj(cls)[:, None]).expand(b, c, -1)
        q = torch.cat([nums, consts], 1)
        mask = torch.cat([num_mask, num_mask.new_ones(b, c)], 1)
        return self.attend(self.mix, q, mask), mask

    @staticmethod
    def attend(layers: nn.ModuleList, q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Quantities [B, M, D] after ``layers`` of self-attention over the valid ones."""
        # a problem with no usable quantity would attend to nothing: let it see the padding
        pad = ~mask & mask.any(1, keepdim=True)
        for layer in layers:
            q = layer(q, pad)
        return q

    def stop_logit(self, new: torch.Tensor, unused: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        """Stop logit [B] of the new quantity ``new`` [B, D] made from quantities ``i``, ``j`` [B];
        ``unused`` [B, M] marks the text numbers no earlier step used (read with ``stop_unused``)."""
        s = self.stop(new).squeeze(-1)
        if not self.cfg.stop_unused:
            return s
        left = self.numbers_left(unused, i, j)
        return s + self.unused_mlp(new + self.unused(left.clamp(max=UNUSED_BUCKETS - 1))).squeeze(-1)

    @staticmethod
    def numbers_left(unused: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        """Text numbers [B] still unused once quantities ``i``, ``j`` are used."""
        ar = torch.arange(unused.shape[0], device=unused.device)
        return unused.sum(1) - unused[ar, i].long() - (unused[ar, j] & (j != i)).long()

    @staticmethod
    def first_unused(num_mask: torch.Tensor, m: int) -> torch.Tensor:
        """Before any step every text number is unused: [B, M] over the quantity slots."""
        return torch.cat([num_mask, num_mask.new_zeros(num_mask.shape[0], m - num_mask.shape[1])], 1)

    @staticmethod
    def mark_used(unused: torch.Tensor, i: torch.Tensor, j: torch.Tensor, grow: bool = False) -> torch.Tensor:
        """``unused`` with quantities ``i``, ``j`` used; ``grow`` adds the slot of the new quantity
        (not a text number), for loops whose quantity set grows step by step."""
        ar = torch.arange(unused.shape[0], device=unused.device)
        unused = unused.clone()
        unused[ar, i] = False
        unused[ar, j] = False
        return torch.cat([unused, unused.new_zeros(unused.shape[0], 1)], 1) if grow else unused

    def step_logits(self, q: torch.Tensor, mask: torch.Tensor):
        """Scores of every (op, i, j) over the current quantities, invalid ones at -inf (with
        ``step_layers`` the quantities first attend to each other, the results so far included)."""
        e, s = self.pairs(self.attend(self.step_mix, q, mask))
        m = q.shape[1]
        valid = mask[:, None, :, None] & mask[:, None, None, :]
        upper = torch.ones(m, m, dtype=torch.bool, device=q.device).triu()
        valid = valid & (self.noncomm | upper)[None]
        return e, s.masked_fill(~valid, float("-inf"))


@dataclass
class Batch:
    input_ids: torch.Tensor  # [B, T]
    attention_mask: torch.Tensor  # [B, T]
    pool: torch.Tensor  # [B, N, T]
    num_mask: torch.Tensor  # [B, N]
    steps: torch.Tensor | None = None  # [B, S, 3] (op, i, j), -1 padded
    n_steps: torch.Tensor | None = None  # [B]

    def to(self, device) -> "Batch":
        return Batch(*(t.to(device) if t is not None else None for t in
                       (self.input_ids, self.attention_mask, self.pool, self.num_mask,
                        self.steps, self.n_steps)))


def tree_to_steps(tree: Tree, n_numbers: int, constants: list[str], ops: list[str]):
    """Gold operations in post-order; quantity index space = numbers ++ constants ++ steps.
    Returns None when the tree uses a constant or op outside the vocabulary."""
    steps: list[tuple[int, int, int]] = []

    def walk(t: Tree) -> int | None:
        if isinstance(t, str):
            if t.startswith("n") and t[1:].isdigit():
                i = int(t[1:])
                return i if i < n_numbers else None
            return n_numbers + constants.index(t) if t in constants else None
        op, a, b = t
        if op not in ops:
            return None
        i, j = walk(a), walk(b)
        if i is None or j is None:
            return None
        if op in COMMUTATIVE and i > j:
            i, j = j, i
        steps.append((ops.index(op), i, j))
        return n_numbers + len(constants) + len(steps) - 1

    return steps if walk(tree) is not None and steps else None


class Solver(nn.Module):
    """Encoder + deductive decoder. ``forward`` returns the training loss; ``decode`` trees."""

    def __init__(self, encoder: nn.Module, cfg: DecoderConfig):
        super().__init__()
        self.encoder = encoder
        self.decoder = DeductiveDecoder(cfg)
        self.cfg = cfg

    def encode(self, batch: Batch, head_mask: torch.Tensor | None = None, output_attentions=False):
        """Encoder states; ``head_mask`` (L, H) gates heads (1 = kept) while compressing."""
        if head_mask is not None:
            head_mask = head_mask.to(device=batch.input_ids.device, dtype=torch.float32)
        return self.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                            head_mask=head_mask, output_attentions=output_attentions)

    def forward(self, batch: Batch, hidden: torch.Tensor | None = None, continue_weight: float = 1.0,
                label_smoothing: float = 0.0):
        """Teacher-forced loss: step cross-entropy + stop BCE, averaged over gold steps.
        Also returns the step logits (over the final quantity set, later quantities at -inf)
        so distillation can match them. ``continue_weight`` weighs the stop loss where the gold
        equation goes on (most problems take one step, so the stop head learns to stop early).
        ``label_smoothing`` moves that share of each step's target evenly onto every valid
        (op, i, j) of the step (not onto the -inf ones, as ``F.cross_entropy``'s would)."""
        if hidden is None:
            hidden = self.encode(batch).last_hidden_state
        dec = self.decoder
        q, mask = dec.quantities(hidden, batch.pool, batch.num_mask)
        s_max = int(batch.n_steps.max())
        gold = batch.steps[:, :s_max].clamp(min=0)
        score = self._scores_per_step if dec.step_mix else self._scores_once
        logits_all, made = score(q, mask, gold, batch.n_steps)
        m = q.shape[1] + s_max
        step_loss, stop_loss = 0.0, 0.0
        count = batch.n_steps.clamp(min=1).sum()
        unused = dec.first_unused(batch.num_mask, m)
        for t in range(s_max):
            active = batch.n_steps > t
            op, i, j = gold[:, t].unbind(-1)
            target = (op * m + i) * m + j
            flat = logits_all[t].masked_fill(~active[:, None], 0.0)
            ce = F.cross_entropy(flat, target, reduction="none")
            if label_smoothing:
                valid = flat.isfinite()
                logp = flat.log_softmax(-1).masked_fill(~valid, 0.0)
                ce = (1 - label_smoothing) * ce - label_smoothing * logp.sum(-1) / valid.sum(-1)
            step_loss = step_loss + (ce * active).sum()
            stop_logit = dec.stop_logit(made[t], unused, i, j)
            unused = dec.mark_used(unused, i, j)
            last = batch.n_steps == t + 1
            weight = torch.where(last, 1.0, continue_weight) * active
            stop_loss = stop_loss + (F.binary_cross_entropy_with_logits(
                stop_logit, last.float(), reduction="none") * weight).sum()
        return (step_loss + stop_loss) / count, logits_all

    def _scores_once(self, q: torch.Tensor, mask: torch.Tensor, gold: torch.Tensor, n_steps: torch.Tensor):
        """Each step's flat scores [B, K*M*M] (over the final M = M0 + S, later quantities at -inf)
        and the gold results [B, D], scoring every pair once. A quantity's vector never changes
        once made, so step t's scores are the scores of the final quantity set restricted to the
        first M0 + t quantities: the gold intermediate results are built first (one pair each),
        then every pair is scored once instead of once per step (most of a step's cost on
        Math23k, where M0 is ~15 and S up to 10)."""
        dec, m0 = self.decoder, q.shape[1]
        for t in range(gold.shape[1]):
            new = dec.pairs.pick(q, *gold[:, t].unbind(-1))
            q = torch.cat([q, new[:, None]], 1)
            mask = torch.cat([mask, (n_steps > t)[:, None]], 1)
        _, scores = dec.step_logits(q, mask)  # [B, K, M, M]
        seen = torch.arange(q.shape[1], device=q.device)
        early = [seen < m0 + t for t in range(gold.shape[1])]
        return ([scores.masked_fill(~(e[:, None] & e[None, :]), float("-inf")).flatten(1) for e in early],
                [q[:, m0 + t] for t in range(gold.shape[1])])

    def _scores_per_step(self, q: torch.Tensor, mask: torch.Tensor, gold: torch.Tensor, n_steps: torch.Tensor):
        """``_scores_once``'s outputs where the step layers change every quantity as results are
        added: one scoring per step, of the problems whose gold equation has that step (the
        others' scores stay -inf: no loss reads them)."""
        dec, (b, m0, d) = self.decoder, q.shape
        m = m0 + gold.shape[1]
        logits_all, made = [], []
        for t in range(gold.shape[1]):
            rows = (n_steps > t).nonzero().squeeze(1)
            e, s = dec.step_logits(q[rows], mask[rows])  # over the M0 + t quantities so far
            op, i, j = gold[rows, t].unbind(-1)
            full = s.new_full((b, s.shape[1], m, m), float("-inf"))
            full[rows, :, : m0 + t, : m0 + t] = s
            logits_all.append(full.flatten(1))
            made.append(q.new_zeros(b, d).index_copy(0, rows, e[torch.arange(len(rows), device=q.device), op, i, j]))
            q = torch.cat([q, made[-1][:, None]], 1)
            mask = torch.cat([mask, (n_steps > t)[:, None]], 1)
        return logits_all, made

    @torch.no_grad()
    def decode(self, batch: Batch, hidden: torch.Tensor | None = None,
               head_mask: torch.Tensor | None = None, beam: int = 1, stop_threshold: float = 0.5,
               unused_stop_threshold: float | None = None) -> list[Tree]:
        """Greedy decoding (the best (op, i, j) each step, until the stop head's probability
        passes ``stop_threshold``; ``unused_stop_threshold``, when given, is the threshold instead
        while text numbers are left unused after the step), or with ``beam`` > 1 the beam search
        of the runtime, one problem at a time."""
        check_width(beam)
        if beam > 1 and self.cfg.stop_unused:
            raise ValueError("beam search does not track unused numbers yet: decode a --stop-unused model greedily")
        if hidden is None:
            hidden = self.encode(batch, head_mask).last_hidden_state
        dec, cfg = self.decoder, self.cfg
        n_num = batch.num_mask.shape[1]
        q, mask = dec.quantities(hidden, batch.pool, batch.num_mask)
        b = q.shape[0]
        leaves = [f"n{k}" for k in range(n_num)] + list(cfg.constants)
        if beam > 1:
            return self._beam_decode(q, mask, leaves, beam)
        ar = torch.arange(b, device=q.device)
        trees: list[list[Tree]] = [list(leaves) for _ in range(b)]
        done = torch.zeros(b, dtype=torch.bool, device=q.device)
        answer: list[Tree | None] = [None] * b
        unused = dec.first_unused(batch.num_mask, q.shape[1])
        for t in range(cfg.max_steps):
            e, logits = dec.step_logits(q, mask)
            m = q.shape[1]
            best = logits.flatten(1).argmax(1)
            op, rest = best // (m * m), best % (m * m)
            i, j = rest // m, rest % m
            new = e[ar, op, i, j]
            cut = (stop_threshold if unused_stop_threshold is None
                   else torch.where(dec.numbers_left(unused, i, j) > 0, unused_stop_threshold, stop_threshold))
            stop = torch.sigmoid(dec.stop_logit(new, unused, i, j)) > cut
            unused = dec.mark_used(unused, i, j, grow=True)
            for k in range(b):
                node = (cfg.ops[op[k]], trees[k][i[k]], trees[k][j[k]])
                trees[k].append(node)
                if not done[k] and (stop[k] or t == cfg.max_steps - 1):
                    answer[k] = node
            done |= stop
            if done.all():
                break
            q = torch.cat([q, new[:, None]], 1)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
        return answer

    def _beam_decode(self, q: torch.Tensor, mask: torch.Tensor, leaves: list[Tree], width: int) -> list[Tree]:
        dec, device = self.decoder, q.device

        def step(qn, mn):
            e, s = dec.step_logits(torch.from_numpy(qn).to(device), torch.from_numpy(mn).to(device))
            return s.float().cpu().numpy(), dec.stop(e).squeeze(-1).float().cpu().numpy(), _OnDevice(e)

        q, mask = q.float().cpu().numpy(), mask.cpu().numpy()
        return [beam_decode(step, q[k : k + 1], mask[k : k + 1], self.cfg.ops, leaves, self.cfg.max_steps, width)
                for k in range(q.shape[0])]


class _OnDevice:
    """Beam-search candidate vectors left on the device; the beam copies out only the rows it keeps."""

    def __init__(self, e: torch.Tensor):
        self.e = e

    def __getitem__(self, row):
        return self.e[row].float().cpu().numpy()


def stepwise_loss(solver: Solver, batch: Batch):
    """The training loss as first defined: every pair rescored at every step, each gold result
    taken from that step's scores. ``Solver.forward`` computes the same in one pass (the tests
    hold it to this); kept as its specification and for ``bench/train_step.py``."""
    dec = solver.decoder
    hidden = solver.encode(batch).last_hidden_state
    q, mask = dec.quantities(hidden, batch.pool, batch.num_mask)
    ar = torch.arange(q.shape[0], device=q.device)
    total, logits_all = 0.0, []
    unused = dec.first_unused(batch.num_mask, q.shape[1])
    for t in range(int(batch.n_steps.max())):
        active = batch.n_steps > t
        e, logits = dec.step_logits(q, mask)
        m = q.shape[1]
        op, i, j = batch.steps[:, t].clamp(min=0).unbind(-1)
        flat = logits.flatten(1)
        logits_all.append(flat)
        ce = F.cross_entropy(flat.masked_fill(~active[:, None], 0.0), (op * m + i) * m + j, reduction="none")
        new = e[ar, op, i, j]
        stop = F.binary_cross_entropy_with_logits(dec.stop_logit(new, unused, i, j), (batch.n_steps == t + 1).float(),
                                                  reduction="none")
        unused = dec.mark_used(unused, i, j, grow=True)
        total = total + ((ce + stop) * active).sum()
        q, mask = torch.cat([q, new[:, None]], 1), torch.cat([mask, active[:, None]], 1)
    return total / batch.n_steps.clamp(min=1).sum(), logits_all
