"""Knowledge distillation from a teacher of another architecture (``edgemath train --teacher``).

A base-size teacher (MPNet, 768 wide) and an edge student (MiniLM, 384 wide) share no layers, so
what they can be matched on is what both decoders see: the step scores over every (op, left,
right) choice, teacher-forced on the same gold steps (KL at temperature tau), and the vectors the
decoder starts from, each text number's span mean and the first token's state, through a learned
projection from the student's width to the teacher's (dropped after training). Where the two
tokenizers cut a text into the same tokens (MPNet's and MiniLM's uncased WordPiece do on every
ASDiv-A text), every token can be matched too: the last layer's states through the same
projection, and its attention maps (KL per head and query token, as MiniLM was itself distilled).

The teacher runs once per dataset: its outputs are stored per example in the example's own index
space (numbers ++ constants ++ steps, no padding) and placed into each student batch's layout at
every step, so a distillation epoch costs no teacher forward pass. The cache is a file in the
student's run directory; a resumed run reads it back.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

TARGETS = "teacher_targets.pt"


def step_kl(student: list[torch.Tensor], teacher: list[torch.Tensor], n_steps: torch.Tensor, tau: float) -> torch.Tensor:
    """Mean over active (example, step) rows of tau^2 * KL(teacher || student) at temperature tau;
    candidates impossible in either model (-inf) are left out."""
    total, rows = 0.0, 0
    for t, (s, q) in enumerate(zip(student, teacher)):
        active = n_steps > t
        if not active.any():
            break
        s, q = s[active], q[active]
        finite = torch.isfinite(q) & torch.isfinite(s)
        s = s.masked_fill(~finite, -1e9) / tau
        q = q.masked_fill(~finite, -1e9) / tau
        p_t = F.softmax(q, -1)
        kl = (p_t * (F.log_softmax(q, -1) - F.log_softmax(s, -1))).masked_fill(~finite, 0.0).sum(-1)
        total = total + kl.sum()
        rows += int(active.sum())
    return tau**2 * total / max(rows, 1)


def local_index(n_example: int, m_example: int, n_batch: int) -> torch.Tensor:
    """Where an example's quantities sit in a batch padded to ``n_batch`` numbers: its numbers
    stay, its constants and results shift by the padding (as ``features.collate`` re-indexes)."""
    idx = torch.arange(m_example)
    return torch.where(idx < n_example, idx, idx + n_batch - n_example)


def number_states(hidden: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
    """[B, N + 1, E]: each number's span mean, then the first token's state (what the decoder's
    quantities are made of)."""
    return torch.cat([pool @ hidden, hidden[:, :1]], 1)


@dataclass
class Targets:
    """The teacher's outputs per training example (None: nothing to match, task loss only)."""

    steps: list[torch.Tensor | None]
    """Per example [S, K, M, M] step scores over its own quantities (-inf: impossible)."""
    states: list[torch.Tensor | None]
    """Per example [n + 1, E_teacher] number states (fp16)."""
    scale: float
    """RMS of the teacher's states: the alignment loss is measured in its units."""
    key: dict
    tokens: list[torch.Tensor | None] | None = None
    """Per example [T, E_teacher] last-layer states of every token (fp16), where both tokenizers
    give the same tokens; None: not computed."""
    attention: list[torch.Tensor | None] | None = None
    """Per example [H, T, T] last-layer attention maps (fp16), beside ``tokens``."""

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        torch.save({"steps": self.steps, "states": self.states, "scale": self.scale, "key": self.key,
                    "tokens": self.tokens, "attention": self.attention}, tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, key: dict) -> "Targets | None":
        """The cached targets when they were made for ``key`` (teacher, data, examples), else None."""
        if not path.is_file():
            return None
        saved = torch.load(path, map_location="cpu", weights_only=False)
        if saved["key"] != key:
            return None
        return cls(saved["steps"], saved["states"], saved["scale"], key, saved.get("tokens"), saved.get("attention"))

    def batch_tokens(self, rows: list[int], t_batch: int, heads: int | None):
        """Teacher token states [B, T, E], attention maps [B, H, T, T] (head-averaged and repeated
        when the teacher has another head count; None when ``heads`` is None) and a [B, T] mask of
        matched tokens, in a right-padded batch of length ``t_batch``."""
        e = next(s.shape[1] for s in self.tokens if s is not None)
        states, mask = torch.zeros(len(rows), t_batch, e), torch.zeros(len(rows), t_batch, dtype=torch.bool)
        maps = torch.zeros(len(rows), heads, t_batch, t_batch) if heads else None
        for b, r in enumerate(rows):
            s, a = self.tokens[r], self.attention[r]
            if s is None:
                continue
            t = s.shape[0]
            states[b, :t], mask[b, :t] = s.float(), True
            if maps is not None:
                a = a.float() if a.shape[0] == heads else a.float().mean(0, keepdim=True).expand(heads, -1, -1)
                maps[b, :, :t, :t] = a
        return states, maps, mask

    def batch_steps(self, rows: list[int], n_batch: int, m_batch: int, s_batch: int, k_ops: int) -> list[torch.Tensor]:
        """The cached scores placed into a batch's layout: per step [B, K*M*M], -inf elsewhere."""
        out = torch.full((s_batch, len(rows), k_ops, m_batch, m_batch), float("-inf"))
        for b, r in enumerate(rows):
            t = self.steps[r]
            if t is None:
                continue
            g = local_index(self.states[r].shape[0] - 1, t.shape[-1], n_batch)
            out[: t.shape[0], b][:, :, g[:, None], g[None, :]] = t.float()
        return list(out.flatten(2))

    def batch_states(self, rows: list[int], n_batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, N + 1, E] teacher states in the batch's layout and a [B, N + 1] mask of real ones."""
        e = next(s.shape[1] for s in self.states if s is not None)
        out = torch.zeros(len(rows), n_batch + 1, e)
        mask = torch.zeros(len(rows), n_batch + 1, dtype=torch.bool)
        for b, r in enumerate(rows):
            s = self.states[r]
            if s is None:
                continue
            n = s.shape[0] - 1
            out[b, :n], out[b, n_batch] = s[:n].float(), s[n].float()
            mask[b, :n], mask[b, n_batch] = True, True
        return out, mask


def quantity_map(n: int, t_constants: list[str], s_constants: list[str], n_steps: int) -> torch.Tensor:
    """Each of the teacher's quantities (numbers ++ its constants ++ step results) as an index among
    the student's, -1 for a constant the student does not have: the two may have other constant
    sets (a student started from a GSM8K-pretrained run, a teacher trained on the benchmark only)."""
    c_s = len(s_constants)
    consts = [n + s_constants.index(c) if c in s_constants else -1 for c in t_constants]
    return torch.tensor([*range(n), *consts, *range(n + c_s, n + c_s + n_steps)])


def student_steps(steps: list[tuple[int, int, int]], qmap: torch.Tensor, commutative: list[bool]):
    """The teacher's gold steps in the student's index space (None if one uses a constant it lacks)."""
    out = []
    for op, i, j in steps:
        a, b = int(qmap[i]), int(qmap[j])
        if a < 0 or b < 0:
            return None
        out.append((op, *sorted((a, b))) if commutative[op] else (op, a, b))
    return out


def student_scores(scores: torch.Tensor, qmap: torch.Tensor, m_student: int, commutative: list[bool]) -> torch.Tensor:
    """[S, K, M_t, M_t] teacher scores over its own quantities -> [S, K, M_s, M_s] over the student's
    (-inf where the teacher has no score). A commutative op scores each pair once, in the upper
    triangle, and a pair may land the other way round: both halves fold into the student's."""
    src = (qmap >= 0).nonzero().squeeze(1)
    dst = qmap[src]
    out = scores.new_full((*scores.shape[:2], m_student, m_student), float("-inf"))
    di, dj = dst[:, None].expand(-1, len(dst)), dst[None, :].expand(len(dst), -1)
    for k, comm in enumerate(commutative):
        block = scores[:, k][:, src[:, None], src[None, :]]
        if comm:
            out[:, k, torch.minimum(di, dj), torch.maximum(di, dj)] = torch.maximum(block, block.transpose(1, 2))
        else:
            out[:, k, di, dj] = block
    return out


def same_tokens(t_tok, s_tok, t_ids: list[int], s_ids: list[int]) -> bool:
    """Both tokenizers cut the text into the same tokens (their special tokens aside)."""
    if len(t_ids) != len(s_ids):
        return False
    return all(t_tok.tok.id_to_token(a) == s_tok.tok.id_to_token(b) for a, b in zip(t_ids[1:-1], s_ids[1:-1]))


@torch.no_grad()
def compute_targets(teacher, t_tok, problems, examples, device: str, key: dict, constants: list[str] | None = None,
                    batch_size: int = 32, s_tok=None) -> Targets:
    """Run ``teacher`` once over ``problems`` teacher-forced on the student's gold steps
    (``examples``: the student's (encoding, steps), one per problem; ``constants``: the student's,
    by default the teacher's). A problem the teacher's tokenizer reads with other numbers, or cuts
    off, or whose gold steps use a constant only one of them has, gets no target. With the
    student's tokenizer ``s_tok`` the last layer's token states and attention maps are kept too,
    for the problems both tokenizers cut into the same tokens."""
    from edgemath.features import collate, gold_steps
    from edgemath.model import COMMUTATIVE

    teacher.eval()
    t_consts = teacher.cfg.constants
    s_consts = t_consts if constants is None else constants
    commutative = [op in COMMUTATIVE for op in teacher.cfg.ops]
    encs = [t_tok.encode(p.text) for p in problems]
    steps = [(gold_steps(p, e, teacher.cfg) if len(e.numbers) == len(se.numbers) else None)
             for p, e, (se, _) in zip(problems, encs, examples)]
    qmaps = [quantity_map(len(e.numbers), t_consts, s_consts, len(t)) if t else None for e, t in zip(encs, steps)]
    ok = [t is not None and student_steps(t, q, commutative) == list(s)
          for t, q, (_, s) in zip(steps, qmaps, examples)]
    targets_steps: list[torch.Tensor | None] = [None] * len(problems)
    targets_states: list[torch.Tensor | None] = [None] * len(problems)
    tokens: list[torch.Tensor | None] | None = [None] * len(problems) if s_tok is not None else None
    attention: list[torch.Tensor | None] | None = [None] * len(problems) if s_tok is not None else None
    order = sorted((i for i in range(len(problems)) if ok[i]), key=lambda i: len(encs[i].ids))
    c_t, c_s = len(t_consts), len(s_consts)
    k_ops = len(teacher.cfg.ops)
    sq = 0.0
    count = 0
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        batch = collate([encs[i] for i in rows], t_tok.pad_id, [steps[i] for i in rows]).to(device)
        out = teacher.encode(batch, output_attentions=s_tok is not None)
        hidden = out.last_hidden_state
        _, logits = teacher(batch, hidden=hidden)
        states = number_states(hidden, batch.pool).float().cpu()
        n_b = batch.num_mask.shape[1]
        m_b = n_b + c_t + int(batch.n_steps.max())
        scores = torch.stack(logits, 1).float().cpu().view(len(rows), -1, k_ops, m_b, m_b)  # [B, S, K, M, M]
        for b, i in enumerate(rows):
            n, s = len(encs[i].numbers), len(steps[i])
            g = local_index(n, n + c_t + s, n_b)
            own = scores[b, :s][:, :, g[:, None], g[None, :]]
            targets_steps[i] = student_scores(own, qmaps[i], n + c_s + s, commutative)
            kept = torch.cat([states[b, :n], states[b, n_b:]], 0)
            targets_states[i] = kept.half()
            if s_tok is not None and same_tokens(t_tok, s_tok, encs[i].ids, examples[i][0].ids):
                t = len(encs[i].ids)
                tokens[i] = hidden[b, :t].float().cpu().half()
                attention[i] = out.attentions[-1][b, :, :t, :t].float().cpu().half()
            sq += float(kept.pow(2).mean(1).sum())
            count += kept.shape[0]
    return Targets(targets_steps, targets_states, (sq / max(count, 1)) ** 0.5, key, tokens, attention)


class Aligned(nn.Module):
    """The student's encoder and decoder beside the projection to the teacher's width, under the
    names the training loop splits learning rates by (``encoder.*`` / the rest)."""

    def __init__(self, solver, teacher_width: int):
        super().__init__()
        self.encoder, self.decoder = solver.encoder, solver.decoder
        self.align = nn.Linear(solver.cfg.encoder_hidden, teacher_width)


def attention_kl(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over heads and matched query tokens of KL(teacher row || student row), [B, H, T, T] maps."""
    rows = mask[:, None, :].expand(-1, student.shape[1], -1)  # [B, H, T]
    kl = (teacher * (teacher.clamp(min=1e-8).log() - student.clamp(min=1e-8).log())).sum(-1)
    return kl[rows].mean()


def distill_loss_fn(solver, aligned: Aligned, targets: Targets, tau: float, lambda1: float, lambda2: float,
                    gamma: float, continue_weight: float = 1.0, label_smoothing: float = 0.0,
                    token_gamma: float = 0.0, attention_weight: float = 0.0):
    """``loss(batch)`` for the training loop: lambda1 * (step KL + gamma * state MSE + token_gamma *
    token-state MSE + attention_weight * attention KL) + lambda2 * task, returned with its unweighted
    terms (the loop logs their epoch means: which one the student fits badly). The batch carries
    ``rows``, its examples' indices into the cached targets."""
    if (token_gamma or attention_weight) and targets.tokens is None:
        raise ValueError("token and attention alignment need targets computed with the student's tokenizer")

    def loss_fn(batch):
        out = solver.encode(batch, output_attentions=attention_weight > 0)
        hidden = out.last_hidden_state
        task, s_logits = solver(batch, hidden=hidden, continue_weight=continue_weight, label_smoothing=label_smoothing)
        n_b = batch.num_mask.shape[1]
        k_ops = len(solver.cfg.ops)
        m_b = round((s_logits[0].shape[1] / k_ops) ** 0.5)  # logits are [B, K*M*M]
        device = hidden.device
        t_logits = [t.to(device) for t in targets.batch_steps(batch.rows, n_b, m_b, len(s_logits), k_ops)]
        has = torch.tensor([targets.steps[r] is not None for r in batch.rows], device=device)
        kl = step_kl(s_logits, t_logits, batch.n_steps * has, tau)
        loss = lambda2 * task + lambda1 * kl
        terms = {"task": task.detach(), "kl": kl.detach()}
        if gamma > 0:
            t_states, mask = targets.batch_states(batch.rows, n_b)
            s_states = aligned.align(number_states(hidden, batch.pool))
            mask = mask.to(device)
            diff = (s_states - t_states.to(device)) / targets.scale
            if mask.any():
                mse = diff[mask].pow(2).mean()
                loss, terms["state"] = loss + lambda1 * gamma * mse, mse.detach()
        if token_gamma or attention_weight:
            heads = out.attentions[-1].shape[1] if attention_weight else None
            t_states, t_maps, mask = targets.batch_tokens(batch.rows, hidden.shape[1], heads)
            t_states, mask = t_states.to(device), mask.to(device)
            if mask.any():
                if token_gamma:
                    mse = ((aligned.align(hidden) - t_states) / targets.scale)[mask].pow(2).mean()
                    loss, terms["tokens"] = loss + lambda1 * token_gamma * mse, mse.detach()
                if attention_weight:
                    akl = attention_kl(out.attentions[-1], t_maps.to(device), mask)
                    loss, terms["attention"] = loss + lambda1 * attention_weight * akl, akl.detach()
        return loss, terms

    return loss_fn
