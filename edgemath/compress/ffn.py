"""FFN intermediate neurons as prunable units: gate, score, slice out, reload.

The feed-forward blocks hold two thirds of the encoder's layer FLOPs, so removing heads alone
barely moves latency. Masks are (L, F) bool tensors over the *original* neurons (True = kept).

- Gating: a forward hook multiplies each layer's GELU output by its mask row (``ffn_gates``).
- Score: the mean contribution of a neuron to the residual stream, ``E|a_i| * ||W_out[:, i]||``
  (activation on real tokens of training batches times the norm of its output column): weights
  and activations together, in units that compare across layers, so one global ranking works.
- Bake: slice the intermediate dense rows and output dense columns. Widths then differ per
  layer, which a BertConfig cannot say: they are recorded in the config and reloaded by
  ``edgemath.encoder_shapes.load_encoder`` (the model layer: checkpoints load without compress).

``FFNPruner`` puts these behind the pruner protocol (edgemath/compress/pruner.py).
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from edgemath.encoder_shapes import record_ffn_widths
from edgemath.layout import layout_of


def ffn_shape(encoder) -> tuple[int, int]:
    lay = layout_of(encoder)
    layers = lay.layer_list(encoder)
    widths = {lay.ffn_width(layer) for layer in layers}
    if len(widths) != 1:
        raise ValueError(f"FFN pruning needs equal FFN widths per layer, this encoder has {sorted(widths)}: "
                         "prune the FFN of the original teacher instead")
    return len(layers), widths.pop()


@contextmanager
def ffn_gates(encoder, mask: torch.Tensor | None):
    """Inside the block, layer l's FFN activations are multiplied by ``mask[l]`` (None: no-op)."""
    if mask is None or bool(mask.all()):
        yield
        return
    hooks, lay = [], layout_of(encoder)
    for l, layer in enumerate(lay.layer_list(encoder)):
        w = lay.ffn_in_of(layer).weight
        gate = mask[l].to(device=w.device, dtype=w.dtype)
        hooks.append(lay.ffn_act_of(layer).register_forward_hook(lambda m, i, out, g=gate: out * g))
    try:
        yield
    finally:
        for h in hooks:
            h.remove()


@torch.no_grad()
def ffn_scores(solver, batches, device) -> torch.Tensor:
    """(L, F) mean |activation| on real tokens x output-column norm, on the ungated model;
    activations summed over all processes under torch.distributed so every rank agrees."""
    lay = layout_of(solver.encoder)
    layers = lay.layer_list(solver.encoder)
    sums = [torch.zeros(lay.ffn_width(layer)) for layer in layers]
    state = {"mask": None}

    def record(l):
        def hook(module, inputs, out):
            m = state["mask"].to(out.dtype)[..., None]
            sums[l] += (out.abs() * m).sum((0, 1)).float().cpu()
        return hook

    hooks = [lay.ffn_act_of(layer).register_forward_hook(record(l)) for l, layer in enumerate(layers)]
    was, count = solver.training, torch.zeros(())
    solver.eval()
    try:
        for batch in batches:
            b = batch.to(device)
            state["mask"] = b.attention_mask
            solver.encode(b)
            count += b.attention_mask.sum().cpu()
    finally:
        for h in hooks:
            h.remove()
        solver.train(was)
    act = torch.stack(sums)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        both = torch.cat([act.flatten(), count.view(1)])
        torch.distributed.all_reduce(both)
        act, count = both[:-1].view_as(act), both[-1]
    norms = torch.stack([lay.ffn_out_of(layer).weight.float().norm(dim=0).cpu() for layer in layers])
    return act / count.clamp_min(1.0) * norms


def _slice_linear(linear: nn.Linear, index: torch.Tensor, dim: int) -> nn.Linear:
    """A new Linear keeping ``index`` along its output (dim 0) or input (dim 1) features."""
    w = linear.weight.index_select(dim, index.to(linear.weight.device)).clone()
    out_f, in_f = w.shape
    new = nn.Linear(in_f, out_f, bias=linear.bias is not None).to(w.device, w.dtype)
    new.weight.data.copy_(w)
    if linear.bias is not None:
        new.bias.data.copy_(linear.bias[index.to(linear.bias.device)] if dim == 0 else linear.bias)
    return new


def bake_ffn(encoder, mask: torch.Tensor) -> list[int]:
    """Slice the masked neurons out in place; returns the new width of each layer."""
    layers, width = ffn_shape(encoder)
    if mask.shape != (layers, width):
        raise ValueError(f"FFN mask shape {tuple(mask.shape)} does not match the encoder's ({layers}, {width})")
    if (mask.sum(1) == 0).any():
        raise ValueError("every layer must keep at least one FFN neuron")
    lay = layout_of(encoder)
    for l, layer in enumerate(lay.layer_list(encoder)):
        keep = mask[l].nonzero().flatten()
        lay.set_ffn(layer, _slice_linear(lay.ffn_in_of(layer), keep, 0), _slice_linear(lay.ffn_out_of(layer), keep, 1))
    widths = [int(x) for x in mask.sum(1)]
    record_ffn_widths(encoder.config, widths)
    return widths


class FFNPruner:
    """FFN neurons, scored by their contribution to the residual stream, ranked globally with at
    least one per layer, gated by forward hooks, baked by slicing the two projections."""

    name, when, seed = "ffn", "train", 1000

    def __init__(self, cfg):
        self.ratio = cfg.prune_ffn
        self.active = self.ratio > 0

    def start(self, encoder, where) -> torch.Tensor:
        return torch.ones(ffn_shape(encoder), dtype=torch.bool)  # raises on uneven widths

    def shape(self, encoder) -> tuple[int, int]:
        return ffn_shape(encoder)

    def score(self, ev) -> torch.Tensor:
        return ffn_scores(ev.solver, ev.batches, ev.device)

    def select(self, scores: torch.Tensor, ratio: float) -> torch.Tensor:
        from edgemath.compress.schedule import select_heads

        return select_heads(scores, ratio, min_per_layer=1)

    @contextmanager
    def gate(self, encoder, mask: torch.Tensor):
        with ffn_gates(encoder, mask):
            yield {}

    def bake(self, target, mask: torch.Tensor) -> list[int]:
        return bake_ffn(target.encoder, mask.cpu())

    def save(self, mask) -> dict:
        return {"ffn_kept": None if mask is None else [m.nonzero().flatten().tolist() for m in mask]}

    def load(self, info: dict, encoder):
        if info.get("ffn_kept") is None:
            return None
        mask = torch.zeros(ffn_shape(encoder), dtype=torch.bool)
        for l, kept in enumerate(info["ffn_kept"]):
            mask[l, kept] = True
        return mask
