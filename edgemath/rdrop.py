"""R-drop (Liang et al., 2021): each batch runs twice through the solver with dropout on, and the
two passes' step distributions are pulled together by a symmetric KL beside the task loss. A
regulariser that needs no teacher and no extra data; each step costs two forward passes."""
from __future__ import annotations

from edgemath.kd import step_kl


def rdrop_loss_fn(solver, weight: float, continue_weight: float = 1.0, label_smoothing: float = 0.0):
    """``loss(batch)`` for the training loop: the mean task loss of two dropout passes + ``weight``
    times the mean of KL(a || b) and KL(b || a) over their step scores, with its terms (logged)."""

    def loss_fn(batch):
        task_a, logits_a = solver(batch, continue_weight=continue_weight, label_smoothing=label_smoothing)
        task_b, logits_b = solver(batch, continue_weight=continue_weight, label_smoothing=label_smoothing)
        task = (task_a + task_b) / 2
        kl = (step_kl(logits_a, logits_b, batch.n_steps, 1.0) + step_kl(logits_b, logits_a, batch.n_steps, 1.0)) / 2
        return task + weight * kl, {"task": task.detach(), "rdrop": kl.detach()}

    return loss_fn
