"""Attention heads as prunable units: count them, cost them, slice them out.

Masks are (L, H) bool tensors over the *original* heads (True = kept). Training gates heads
with the mask (BERT's ``head_mask``); ``bake_heads`` removes masked heads from the Q/K/V rows
and output-projection columns with transformers' ``prune_heads``, which records
``config.pruned_heads`` so the smaller checkpoint reloads with plain ``from_pretrained``.
``HeadPruner`` puts these behind the pruner protocol (edgemath/compress/pruner.py).
"""
from __future__ import annotations

import contextlib

import torch

from edgemath.encoder_shapes import align_position_bias, heads_per_layer  # noqa: F401  (re-exported: report, bench)
from edgemath.layout import layout_of


def head_shape(encoder) -> tuple[int, int]:
    cfg = encoder.config
    return cfg.num_hidden_layers, cfg.num_attention_heads


def param_counts(encoder, mask: torch.Tensor | None = None, ffn_mask: torch.Tensor | None = None) -> dict[str, int]:
    """Parameters of the encoder as it would be with masked heads and FFN neurons removed:
    embeddings, attention (Q/K/V/O + attention LayerNorm), FFN (+ its LayerNorm), total."""
    cfg, lay = encoder.config, layout_of(encoder)
    d, dh = cfg.hidden_size, cfg.hidden_size // cfg.num_attention_heads
    emb = sum(p.numel() for p in encoder.embeddings.parameters())
    att = ffn = 0
    for l, layer in enumerate(lay.layer_list(encoder)):
        heads = lay.heads(layer) if mask is None else int(mask[l].sum())
        inner = heads * dh
        att += 3 * (d * inner + inner) + inner * d + d + 2 * d  # QKV, O, O bias, LayerNorm
        f = lay.ffn_width(layer) if ffn_mask is None else int(ffn_mask[l].sum())
        ffn += 2 * d * f + f + d + 2 * d  # in (with bias), out (with bias), LayerNorm
    other = sum(p.numel() for n, p in encoder.named_parameters() if n.startswith("pooler"))
    return {"embeddings": emb, "attention": att, "ffn": ffn, "total": emb + att + ffn + other}


def encoder_flops(encoder, seq_len: float, mask: torch.Tensor | None = None,
                  ffn_mask: torch.Tensor | None = None) -> float:
    """Multiply-adds x 2 for one problem of ``seq_len`` tokens through the encoder layers
    (embedding lookups, LayerNorms, softmax and GELU are left out, < 1%). Per layer with h kept
    heads of width dh, model width d, FFN width f, T tokens:
        QKV 2*T*d*3*h*dh + scores 2*T*T*h*dh + context 2*T*T*h*dh + out 2*T*h*dh*d + FFN 4*T*d*f
    (the convention of Kaplan et al. 2020 / nanoGPT's estimate_mfu)."""
    cfg, lay = encoder.config, layout_of(encoder)
    d, dh, t = cfg.hidden_size, cfg.hidden_size // cfg.num_attention_heads, float(seq_len)
    total = 0.0
    for l, layer in enumerate(lay.layer_list(encoder)):
        heads = lay.heads(layer) if mask is None else int(mask[l].sum())
        f = lay.ffn_width(layer) if ffn_mask is None else int(ffn_mask[l].sum())
        inner = heads * dh
        total += 2 * t * d * 3 * inner + 4 * t * t * inner + 2 * t * inner * d + 4 * t * d * f
    return total


def bake_heads(encoder, mask: torch.Tensor) -> dict[int, list[int]]:
    """Slice the masked heads out of the weights in place; returns {layer: pruned heads}."""
    layers, heads = head_shape(encoder)
    if mask.shape != (layers, heads):
        raise ValueError(f"mask shape {tuple(mask.shape)} does not match the encoder's ({layers}, {heads})")
    if (mask.sum(1) == 0).any():
        raise ValueError("every layer must keep at least one head")
    prune = {l: [h for h in range(heads) if not mask[l, h]] for l in range(layers)}
    prune = {l: hs for l, hs in prune.items() if hs}
    encoder.prune_heads(prune)
    align_position_bias(encoder)  # MPNet: each layer takes its kept heads' rows of the shared bias
    return prune


def kept_per_layer(mask: torch.Tensor) -> list[int]:
    return [int(x) for x in mask.sum(1)]


class HeadPruner:
    """Heads, scored by the paper's mix (edgemath/compress/score.py), selected globally with at
    least ``min_heads`` per layer, gated by ``head_mask``, baked with ``prune_heads``."""

    name, when, seed = "heads", "train", 0

    def __init__(self, cfg):
        self.ratio, self.alpha, self.entropy_sign, self.min_heads = cfg.prune_heads, cfg.alpha, cfg.entropy_sign, cfg.min_heads
        self.active = self.ratio > 0

    def start(self, encoder, where) -> torch.Tensor:
        if encoder.config.pruned_heads:
            raise ValueError(f"{where}: its heads were already pruned and baked; prune heads from the unpruned "
                             "teacher (FFN and vocabulary pruning still work here with --prune-heads 0)")
        return torch.ones(self.shape(encoder), dtype=torch.bool)

    def shape(self, encoder) -> tuple[int, int]:
        return head_shape(encoder)

    def score(self, ev) -> torch.Tensor:
        from edgemath.compress.score import entropy_scores, head_importance, weight_norm_scores

        ent = entropy_scores(ev.solver, ev.batches, ev.device)
        return head_importance(weight_norm_scores(ev.solver.encoder), ent, self.alpha, self.entropy_sign)

    def select(self, scores: torch.Tensor, ratio: float) -> torch.Tensor:
        from edgemath.compress.schedule import select_heads

        return select_heads(scores, ratio, min_per_layer=self.min_heads)

    @contextlib.contextmanager
    def gate(self, encoder, mask: torch.Tensor):
        yield {"head_mask": mask}  # the encoder takes it as an argument: no hook needed

    def bake(self, target, mask: torch.Tensor) -> dict[int, list[int]]:
        return {} if mask.all() else bake_heads(target.encoder, mask.cpu())

    def save(self, mask) -> dict:
        return {"mask": None if mask is None else mask.int().tolist()}

    def load(self, info: dict, encoder):
        return None if info["mask"] is None else torch.tensor(info["mask"], dtype=torch.bool)
