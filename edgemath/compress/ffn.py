"""FFN intermediate neurons as prunable units: gate, score, slice out, reload.

The feed-forward blocks hold two thirds of the encoder's layer FLOPs, so removing heads alone
barely moves latency. Masks are (L, F) bool tensors over the *original* neurons (True = kept).

- Gating: a forward hook multiplies each layer's GELU output by its mask row (``ffn_gates``).
- Score: the mean contribution of a neuron to the residual stream, ``E|a_i| * ||W_out[:, i]||``
  (activation on real tokens of training batches times the norm of its output column): weights
  and activations together, in units that compare across layers, so one global ranking works.
- Bake: slice the intermediate dense rows and output dense columns. Widths then differ per
  layer, which a BertConfig cannot say: ``config.intermediate_sizes`` records them and
  ``load_encoder`` rebuilds the layers at those widths before loading the weights.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn


def ffn_shape(encoder) -> tuple[int, int]:
    widths = {layer.intermediate.dense.out_features for layer in encoder.encoder.layer}
    if len(widths) != 1:
        raise ValueError(f"FFN pruning needs equal FFN widths per layer, this encoder has {sorted(widths)}: "
                         "prune the FFN of the original teacher instead")
    return len(encoder.encoder.layer), widths.pop()


@contextmanager
def ffn_gates(encoder, mask: torch.Tensor | None):
    """Inside the block, layer l's FFN activations are multiplied by ``mask[l]`` (None: no-op)."""
    if mask is None or bool(mask.all()):
        yield
        return
    hooks = []
    for l, layer in enumerate(encoder.encoder.layer):
        gate = mask[l].to(device=layer.intermediate.dense.weight.device, dtype=layer.intermediate.dense.weight.dtype)
        hooks.append(layer.intermediate.register_forward_hook(lambda m, i, out, g=gate: out * g))
    try:
        yield
    finally:
        for h in hooks:
            h.remove()


@torch.no_grad()
def ffn_scores(solver, batches, device) -> torch.Tensor:
    """(L, F) mean |activation| on real tokens x output-column norm, on the ungated model;
    activations summed over all processes under torch.distributed so every rank agrees."""
    layers = solver.encoder.encoder.layer
    sums = [torch.zeros(layer.intermediate.dense.out_features) for layer in layers]
    state = {"mask": None}

    def record(l):
        def hook(module, inputs, out):
            m = state["mask"].to(out.dtype)[..., None]
            sums[l] += (out.abs() * m).sum((0, 1)).float().cpu()
        return hook

    hooks = [layer.intermediate.register_forward_hook(record(l)) for l, layer in enumerate(layers)]
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
    norms = torch.stack([layer.output.dense.weight.float().norm(dim=0).cpu() for layer in layers])
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
    for l, layer in enumerate(encoder.encoder.layer):
        keep = mask[l].nonzero().flatten()
        layer.intermediate.dense = _slice_linear(layer.intermediate.dense, keep, 0)
        layer.output.dense = _slice_linear(layer.output.dense, keep, 1)
    widths = [int(x) for x in mask.sum(1)]
    encoder.config.intermediate_sizes = widths
    return widths


def load_encoder(path: Path):
    """A BERT-family encoder from a checkpoint directory, uneven FFN widths included."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(path)
    widths = getattr(config, "intermediate_sizes", None)
    if not widths:
        return AutoModel.from_pretrained(path, use_safetensors=True, add_pooling_layer=False,
                                         attn_implementation="eager")
    config._attn_implementation = "eager"
    encoder = AutoModel.from_config(config, add_pooling_layer=False)  # applies config.pruned_heads
    if len(widths) != len(encoder.encoder.layer):
        raise ValueError(f"{path}: intermediate_sizes has {len(widths)} entries for {len(encoder.encoder.layer)} layers")
    for layer, f in zip(encoder.encoder.layer, widths):
        layer.intermediate.dense = nn.Linear(config.hidden_size, f)
        layer.output.dense = nn.Linear(f, config.hidden_size)
    encoder.load_state_dict(load_file(str(Path(path) / "model.safetensors")), strict=True)
    return encoder.eval()
