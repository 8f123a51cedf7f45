"""Encoders whose layers differ in shape: what a pruned checkpoint records and needs to load.

A baked student keeps a different number of heads and FFN neurons in each layer. A plain
Hugging Face config says one ``num_attention_heads`` and one ``intermediate_size``, so:

- heads: transformers records ``config.pruned_heads`` ({layer: [heads]}) and ``from_pretrained``
  re-applies it (transformers 4.x);
- FFN widths: edgemath records ``config.intermediate_sizes`` ([width per layer]) and
  ``load_encoder`` rebuilds the layers at those widths before loading the weights.

Both records are keyed by layer index, so dropping layers re-keys them (``keep_layer_records``).
The compress stage writes these records and the checkpoint loader reads them; this module sits
below both, with the model.
"""
from __future__ import annotations

from pathlib import Path

from edgemath.layout import layout_of

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


def load_encoder(path: Path):
    """An encoder from a checkpoint directory, uneven heads and FFN widths included."""
    from safetensors.torch import load_file
    from torch import nn
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(path)
    widths = getattr(config, FFN_WIDTHS, None)
    if not widths:
        return AutoModel.from_pretrained(path, use_safetensors=True, add_pooling_layer=False,
                                         attn_implementation="eager")
    config._attn_implementation = "eager"
    encoder = AutoModel.from_config(config, add_pooling_layer=False)  # applies config.pruned_heads
    lay = layout_of(config)
    layers = lay.layer_list(encoder)
    if len(widths) != len(layers):
        raise ValueError(f"{path}: {FFN_WIDTHS} has {len(widths)} entries for {len(layers)} layers")
    for layer, f in zip(layers, widths):
        lay.set_ffn(layer, nn.Linear(config.hidden_size, f), nn.Linear(f, config.hidden_size))
    encoder.load_state_dict(load_file(str(Path(path) / "model.safetensors")), strict=True)
    return encoder.eval()
