"""The distillation loss of arXiv 2511.17577 (section 3.3), on the solver's decoder steps.

    L = lambda1 * (tau^2 * KL(softmax(t/tau) || softmax(s/tau)) + beta * MSE(att_s, att_t))
        + lambda2 * task

``t``/``s`` are the teacher's and student's step logits over every (op, left, right) choice,
teacher-forced on the same gold steps, so the two distributions range over the same
candidates; impossible candidates (-inf in both) are left out. The attention MSE is over the
heads that survive in both models, on real tokens only. The KL term is ``edgemath.kd.step_kl``,
shared with distillation from a teacher of another encoder (``edgemath train --teacher``).
"""
from __future__ import annotations

import torch


def attention_mse(student_att, teacher_att, keep: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """MSE between attention maps of heads kept in both models (keep: (L, H) bool, None: all
    heads), real tokens."""
    m = attention_mask.float()
    pair = m[:, None, :, None] * m[:, None, None, :]  # [B, 1, T, T]
    total, count = 0.0, 0.0
    for l, (a, b) in enumerate(zip(student_att, teacher_att)):
        heads = torch.arange(a.shape[1], device=a.device) if keep is None else keep[l].nonzero().flatten().to(a.device)
        if heads.numel() == 0:
            continue
        diff = (a[:, heads] - b[:, heads].detach()).pow(2) * pair
        total = total + diff.sum()
        count += float(pair.sum()) * heads.numel()
    return total / max(count, 1.0)


def distill_loss(task: torch.Tensor, kl: torch.Tensor, att: torch.Tensor, lambda1: float, lambda2: float,
                 beta: float) -> torch.Tensor:
    return lambda1 * (kl + beta * att) + lambda2 * task
