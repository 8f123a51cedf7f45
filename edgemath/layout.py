"""Where an encoder architecture keeps the parts that pruning counts, gates and slices.

Pruning and reloading touch a few submodules of each layer; their attribute paths differ between
architectures, so they are named here, once per architecture::

    model.encoder.layer[i]                      BERT                     MPNet
      attention    holds the head count         attention.self           attention.attn
      Q, K, V      rows per head                attention.self.query...  attention.attn.q, .k, .v
      O            columns per head             attention.output.dense   attention.attn.o
      FFN in       Linear, then activation      intermediate(.dense)     intermediate(.dense)
      FFN out      columns per neuron           output.dense             output.dense
      position bias  one per original head      (none)                   encoder.relative_attention_bias,
                                                                         handed to each layer's attention
      first position row                        0                        2 (padding_idx + 1)

MPNet computes its relative-position bias once, [B, H, T, T] over the *original* heads, and adds
it to every layer's scores: after ``prune_heads`` a layer keeps fewer heads and the bias no longer
fits it (transformers raises a shape error). ``edgemath.encoder_shapes.align_position_bias``
hands each layer only its kept heads' rows.

Everything that prunes, bakes or reloads an encoder asks ``layout_of(encoder)`` for these parts
instead of spelling the paths itself, so another architecture is one more entry in ``LAYOUTS``.
Torch-free at import: the checkpoint loader and the pruners import it; it imports nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter


@dataclass(frozen=True)
class Layout:
    """Dotted attribute paths of one architecture: ``layers`` from the model, the rest from a layer."""

    layers: str = "encoder.layer"
    attention: str = "attention.self"
    """The self-attention module: ``num_attention_heads`` (per layer, after pruning) lives on it."""
    qkv: tuple[str, str, str] = ("attention.self.query", "attention.self.key", "attention.self.value")
    attn_out: str = "attention.output.dense"
    ffn_act: str = "intermediate"
    """The module whose output is the FFN activation [B, T, F] (FFN in + nonlinearity)."""
    ffn_in: str = "intermediate.dense"
    ffn_out: str = "output.dense"
    position_bias: str | None = None
    """The per-layer module that receives the encoder's shared relative-position bias (keyword
    ``position_bias``, [B, H, T, T] over the original heads) and records ``pruned_heads``; None:
    the architecture has no shared bias."""
    position_offset: int = 0
    """The position-embedding row of a text's first token (MPNet counts from padding_idx + 1)."""
    int8_fp32: str | None = None
    """Regex over the int8 encoder graph's MatMulInteger names whose activations stay fp32 (weights
    int8) in ``edgemath export --int8``: where rounding them costs accuracy; None: none."""

    def layer_list(self, encoder):
        return attrgetter(self.layers)(encoder)

    def set_layers(self, encoder, layers) -> None:
        """Replace the layer stack (a ``nn.ModuleList``)."""
        _put(encoder, self.layers, layers)

    def attention_of(self, layer):
        return attrgetter(self.attention)(layer)

    def heads(self, layer) -> int:
        return self.attention_of(layer).num_attention_heads

    def qkv_of(self, layer) -> tuple:
        return tuple(attrgetter(p)(layer) for p in self.qkv)

    def attn_out_of(self, layer):
        return attrgetter(self.attn_out)(layer)

    def ffn_act_of(self, layer):
        return attrgetter(self.ffn_act)(layer)

    def ffn_in_of(self, layer):
        return attrgetter(self.ffn_in)(layer)

    def ffn_out_of(self, layer):
        return attrgetter(self.ffn_out)(layer)

    def ffn_width(self, layer) -> int:
        return self.ffn_in_of(layer).out_features

    def set_ffn(self, layer, ffn_in, ffn_out) -> None:
        """Swap in FFN projections of another width (bake, reload at recorded widths)."""
        _put(layer, self.ffn_in, ffn_in)
        _put(layer, self.ffn_out, ffn_out)


def _put(root, path: str, value) -> None:
    owner, _, name = path.rpartition(".")
    setattr(attrgetter(owner)(root) if owner else root, name, value)


LAYOUTS: dict[str, Layout] = {
    "bert": Layout(),  # BERT, MiniLM, multilingual-e5-small (imported as BERT), edgemath's scratch encoder
    "mpnet": Layout(attention="attention.attn", qkv=("attention.attn.q", "attention.attn.k", "attention.attn.v"),
                    attn_out="attention.attn.o", position_bias="attention", position_offset=2,
                    # the FFN output projection: rounded, its activations cost the fold-0 teacher 5 points
                    # (89.50 -> 84.45); fed fp32, none, at 0.79x the fp32 encoder time (docs/mpnet.md)
                    int8_fp32=r"/output/dense/"),  # all-mpnet-base-v2
}
"""Layouts by ``config.model_type``."""


def layout_of(model_or_config) -> Layout:
    """The layout of an encoder (or of its config); a clear error for an architecture not listed."""
    config = getattr(model_or_config, "config", model_or_config)
    kind = getattr(config, "model_type", None)
    if kind not in LAYOUTS:
        raise ValueError(f"edgemath prunes and reloads {', '.join(sorted(LAYOUTS))} encoders, not {kind!r}: "
                         "add its layout to edgemath/layout.py")
    return LAYOUTS[kind]
