"""Encoders whose layers differ in shape: what a pruned checkpoint records and needs to load.

A baked student keeps a different number of heads and FFN neurons in each layer. A plain
Hugging Face config says one ``num_attention_heads`` and one ``intermediate_size``, so:

- heads: transformers records ``config.pruned_heads`` ({layer: [heads]}) and ``from_pretrained``
  re-applies it (transformers 4.x);
- FFN widths: edgemath records ``config.intermediate_sizes`` ([width per layer]) and
  ``load_encoder`` rebuilds the layers at those widths before loading the weights.

Both records are keyed by layer index, so dropping layers re-keys them (``keep_layer_records``;
``drop_layers`` does both: it sits here so that ``train --encoder-layers`` needs no compress stage).
An architecture with one relative-position bias over the original heads (MPNet) also needs each
layer to take only its kept heads' rows of it (``align_position_bias``), after every
``prune_heads`` and every load.
The compress stage writes these records and the checkpoint loader reads them; this module sits
below both, with the model.
"""
from __future__ import annotations

from operator import attrgetter
from pathlib import Path

from edgemath.layout import LAYOUTS, layout_of

FFN_WIDTHS = "intermediate_sizes"
"""The config attribute holding the FFN width of each layer, when they differ."""


def n_layers(encoder) -> int:
    return len(layout_of(encoder).layer_list(encoder))


def heads_per_layer(encoder) -> list[int]:
    lay = layout_of(encoder)
    return [lay.heads(layer) for layer in lay.layer_list(encoder)]


def ffn_widths(encoder) -> list[int]:
    lay = layout_of(encoder)
    return [lay.ffn_width(layer) for layer in lay.layer_list(encoder)]


def record_ffn_widths(config, widths: list[int]) -> None:
    setattr(config, FFN_WIDTHS, list(widths))


def keep_layer_records(config, keep: list[int]) -> None:
    """The config after only layers ``keep`` (old indices, in order) remain: the layer count and
    the per-layer records follow each surviving layer to its new index."""
    config.num_hidden_layers = len(keep)
    if config.pruned_heads:
        config.pruned_heads = {new: config.pruned_heads[old] for new, old in enumerate(keep) if old in config.pruned_heads}
    widths = getattr(config, FFN_WIDTHS, None)
    if widths:
        record_ffn_widths(config, [widths[l] for l in keep])


def drop_layers(encoder, keep: list[int]) -> None:
    """Keep only layers ``keep`` of an encoder, in place. The config follows (layer count, and the
    per-layer records edgemath and transformers key by index: ``pruned_heads``,
    ``intermediate_sizes``), so the result saves and reloads like any checkpoint."""
    from torch import nn

    lay = layout_of(encoder)
    layers = lay.layer_list(encoder)
    lay.set_layers(encoder, nn.ModuleList(layers[l] for l in keep))
    for new, layer in enumerate(lay.layer_list(encoder)):
        attention = lay.attention_of(layer)
        if hasattr(attention, "layer_idx"):
            attention.layer_idx = new  # read only by generation caches; kept consistent
    keep_layer_records(encoder.config, keep)


def _kept_heads_bias(module, args, kwargs):
    """Forward pre-hook: the shared position bias [B, H, T, T] cut to this layer's kept heads."""
    bias = kwargs.get("position_bias")
    if bias is not None:
        kwargs["position_bias"] = bias.index_select(1, module.kept_heads)
    return args, kwargs


def align_position_bias(encoder) -> list[int]:
    """Hand each layer's attention only the rows of the shared relative-position bias that belong
    to the heads it kept (MPNet; a no-op for architectures without a shared bias). Idempotent; call
    it after ``prune_heads`` and after loading a pruned checkpoint. The kept-head indices are a
    non-persistent buffer, so checkpoints stay plain Hugging Face ones, and the hook is a
    module-level function, so ``deepcopy`` and ONNX tracing (a Gather) carry it. Returns the
    heads kept per layer."""
    import torch

    if getattr(encoder.config, "model_type", None) not in LAYOUTS:
        return []  # loads as before; pruning it fails in layout_of with the message that says why
    lay = layout_of(encoder)
    kept_per_layer = heads_per_layer(encoder)
    if lay.position_bias is None:
        return kept_per_layer
    total = encoder.config.num_attention_heads
    for layer in lay.layer_list(encoder):
        mod = attrgetter(lay.position_bias)(layer)
        kept = [h for h in range(total) if h not in mod.pruned_heads]
        if len(kept) != lay.heads(layer):
            raise ValueError(f"a layer keeps {lay.heads(layer)} heads but records {sorted(mod.pruned_heads)} "
                             f"of {total} as pruned")
        if len(kept) == total:
            continue
        device = next(layer.parameters()).device
        mod.register_buffer("kept_heads", torch.tensor(kept, dtype=torch.long, device=device), persistent=False)
        if _kept_heads_bias not in mod._forward_pre_hooks.values():  # heads only ever go: never removed
            mod.register_forward_pre_hook(_kept_heads_bias, with_kwargs=True)
    return kept_per_layer


def load_encoder(path: Path):
    """An encoder from a checkpoint directory, uneven heads and FFN widths included."""
    from safetensors.torch import load_file
    from torch import nn
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(path)
    widths = getattr(config, FFN_WIDTHS, None)
    if not widths:
        encoder = AutoModel.from_pretrained(path, use_safetensors=True, add_pooling_layer=False,
                                            attn_implementation="eager")
        align_position_bias(encoder)
        return encoder
    config._attn_implementation = "eager"
    encoder = AutoModel.from_config(config, add_pooling_layer=False)  # applies config.pruned_heads
    lay = layout_of(config)
    layers = lay.layer_list(encoder)
    if len(widths) != len(layers):
        raise ValueError(f"{path}: {FFN_WIDTHS} has {len(widths)} entries for {len(layers)} layers")
    for layer, f in zip(layers, widths):
        lay.set_ffn(layer, nn.Linear(config.hidden_size, f), nn.Linear(f, config.hidden_size))
    encoder.load_state_dict(load_file(str(Path(path) / "model.safetensors")), strict=True)
    align_position_bias(encoder)
    return encoder.eval()
