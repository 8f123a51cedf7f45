"""Whole encoder layers as prunable units: score them, drop them.

Heads and FFN neurons shrink a layer; dropping the layer removes its fixed costs too (the
LayerNorms, the residual adds, one kernel launch per op: at batch 1 a small layer's time is
mostly those). A layer's importance is its Block Influence (Men et al. 2024, "ShortGPT"): the mean
over real tokens of ``1 - cos(h_in, h_out)``, how much the layer turns the residual stream. A
layer that barely turns it is the cheapest to lose; distillation then recovers the rest.
"""
from __future__ import annotations

import torch
from torch import nn


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


def drop_layers(encoder, keep: list[int]) -> None:
    """Keep only layers ``keep`` of a BERT-family encoder, in place. The config follows (layer
    count, and the per-layer records edgemath and transformers key by index: ``pruned_heads``,
    ``intermediate_sizes``), so the result saves and reloads like any checkpoint."""
    cfg = encoder.config
    layers = encoder.encoder.layer
    encoder.encoder.layer = nn.ModuleList(layers[l] for l in keep)
    for new, layer in enumerate(encoder.encoder.layer):
        layer.attention.self.layer_idx = new  # read only by generation caches; kept consistent
    cfg.num_hidden_layers = len(keep)
    if cfg.pruned_heads:
        cfg.pruned_heads = {new: cfg.pruned_heads[old] for new, old in enumerate(keep) if old in cfg.pruned_heads}
    widths = getattr(cfg, "intermediate_sizes", None)
    if widths:
        cfg.intermediate_sizes = [widths[l] for l in keep]
