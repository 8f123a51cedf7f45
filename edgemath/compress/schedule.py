"""The progressive pruning schedule and the choice of heads to mask. Pure functions."""
from __future__ import annotations

import math

import torch


def cubic_schedule(t: int, total: int, p_init: float, p_final: float, n: float = 3.0) -> float:
    """Pruned fraction at step t of T: ``p_final + (p_init - p_final) * (1 - t/T)^n``.

    Starts at p_init, reaches p_final at t = T, moving fast early and slowly late (n = 3 in the
    paper, after Zhu & Gupta 2017). Clamped outside [0, T]."""
    if total <= 0:
        return p_final
    frac = min(max(t / total, 0.0), 1.0)
    return p_final + (p_init - p_final) * (1.0 - frac) ** n


def select_heads(scores: torch.Tensor, ratio: float, min_per_layer: int = 1) -> torch.Tensor:
    """Mask (L, H) of heads kept: the ``floor(ratio * L * H)`` lowest scores are pruned, but
    every layer keeps at least ``min_per_layer`` heads (a layer with none breaks the forward).
    Ties break by position so every process picks the same heads."""
    layers, heads = scores.shape
    n_prune = min(math.floor(ratio * layers * heads + 1e-9), layers * (heads - min_per_layer))
    keep = torch.ones(layers, heads, dtype=torch.bool)
    if n_prune <= 0:
        return keep
    order = sorted(range(layers * heads), key=lambda k: (float(scores.view(-1)[k]), k))
    left = [heads] * layers
    pruned = 0
    for k in order:
        if pruned == n_prune:
            break
        layer, head = divmod(k, heads)
        if left[layer] > min_per_layer:
            keep[layer, head] = False
            left[layer] -= 1
            pruned += 1
    return keep
