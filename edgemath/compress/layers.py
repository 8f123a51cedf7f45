"""Whole encoder layers as prunable units: score them, drop them.

Heads and FFN neurons shrink a layer; dropping the layer removes its fixed costs too (the
LayerNorms, the residual adds, one kernel launch per op: at batch 1 a small layer's time is
mostly those). A layer's importance is its Block Influence (Men et al. 2024, "ShortGPT"): the mean
over real tokens of ``1 - cos(h_in, h_out)``, how much the layer turns the residual stream. A
layer that barely turns it is the cheapest to lose; distillation then recovers the rest.
``LayerPruner`` puts these behind the pruner protocol (edgemath/compress/pruner.py): it cuts at the
start of each round, its share of ``--drop-layers``, and the other masks follow the kept rows.
"""
from __future__ import annotations

import torch

from edgemath.encoder_shapes import drop_layers
from edgemath.layout import layout_of


@torch.no_grad()
def layer_scores(solver, batches, device, head_mask=None) -> torch.Tensor:
    """(L,) Block Influence of each encoder layer on ``batches`` (higher = more important);
    averaged over all processes under torch.distributed, so every rank drops the same layers."""
    was = solver.training
    solver.eval()
    total, count = None, torch.zeros(())
    for batch in batches:
        b = batch.to(device)
        mask = None if head_mask is None else head_mask.to(device=device, dtype=torch.float32)
        states = solver.encoder(input_ids=b.input_ids, attention_mask=b.attention_mask, head_mask=mask,
                                output_hidden_states=True).hidden_states
        real = b.attention_mask.bool()
        turn = torch.stack([(1 - torch.cosine_similarity(h_in[real].float(), h_out[real].float(), dim=-1)).sum()
                            for h_in, h_out in zip(states[:-1], states[1:])]).cpu()
        total = turn if total is None else total + turn
        count = count + real.sum().cpu()
    solver.train(was)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        both = torch.cat([total, count.view(1).float()])
        torch.distributed.all_reduce(both)
        total, count = both[:-1], both[-1]
    return total / count.clamp_min(1.0)


def layers_to_keep(scores: torch.Tensor, n_drop: int) -> list[int]:
    """Indices of the layers that survive when the ``n_drop`` lowest-scoring ones go (in order)."""
    if not 0 <= n_drop < len(scores):
        raise ValueError(f"cannot drop {n_drop} of {len(scores)} layers: at least one must stay")
    gone = set(torch.argsort(scores)[:n_drop].tolist())
    return [l for l in range(len(scores)) if l not in gone]


def layers_in_round(n_layers: int, k: int, rounds: int) -> int:
    """Layers dropped in round k: the way to ``n_layers`` split evenly over the rounds."""
    return round(n_layers * k / rounds) - round(n_layers * (k - 1) / rounds)


class LayerPruner:
    """Whole layers, scored by Block Influence under the masks in force, the lowest dropped at
    the start of each round (``amount``: how many), cut at once: nothing to gate."""

    name, when, seed = "layers", "round", 2000

    def __init__(self, cfg):
        self.total, self.rounds = cfg.drop_layers, cfg.rounds
        self.active = self.total > 0

    def start(self, encoder, where) -> None:
        n = len(layout_of(encoder).layer_list(encoder))
        if self.total >= n:
            raise ValueError(f"--drop-layers {self.total}: the teacher has {n} layers and at least one must stay")

    def amount(self, k: int) -> int:
        return layers_in_round(self.total, k, self.rounds)

    def shape(self, encoder) -> tuple[int]:
        return (len(layout_of(encoder).layer_list(encoder)),)

    def score(self, ev) -> torch.Tensor:
        with ev.masked() as kwargs:
            return layer_scores(ev.solver, ev.batches, ev.device, kwargs.get("head_mask"))

    def select(self, scores: torch.Tensor, n_drop: int) -> list[int]:
        return layers_to_keep(scores, n_drop)

    def gate(self, encoder, keep):
        raise TypeError("layers are cut at the start of a round, never gated")

    def bake(self, target, keep: list[int]) -> list[int]:
        drop_layers(target.encoder, keep)
        return keep
