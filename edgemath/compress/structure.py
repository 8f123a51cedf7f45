"""Attention heads as prunable units: count them, cost them, slice them out.

Masks are (L, H) bool tensors over the *original* heads (True = kept). Training gates heads
with the mask (BERT's ``head_mask``); ``bake_heads`` removes masked heads from the Q/K/V rows
and output-projection columns with transformers' ``prune_heads``, which records
``config.pruned_heads`` so the smaller checkpoint reloads with plain ``from_pretrained``.
"""
from __future__ import annotations

import torch


def head_shape(encoder) -> tuple[int, int]:
    cfg = encoder.config
    return cfg.num_hidden_layers, cfg.num_attention_heads


def param_counts(encoder, mask: torch.Tensor | None = None, ffn_mask: torch.Tensor | None = None) -> dict[str, int]:
    """Parameters of the encoder as it would be with masked heads and FFN neurons removed:
    embeddings, attention (Q/K/V/O + attention LayerNorm), FFN (+ its LayerNorm), total."""
    cfg = encoder.config
    d, dh = cfg.hidden_size, cfg.hidden_size // cfg.num_attention_heads
    emb = sum(p.numel() for p in encoder.embeddings.parameters())
    att = ffn = 0
    for l, layer in enumerate(encoder.encoder.layer):
        heads = layer.attention.self.num_attention_heads if mask is None else int(mask[l].sum())
        inner = heads * dh
        att += 3 * (d * inner + inner) + inner * d + d + 2 * d  # QKV, O, O bias, LayerNorm
        f = layer.intermediate.dense.out_features if ffn_mask is None else int(ffn_mask[l].sum())
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
    cfg = encoder.config
    d, dh, t = cfg.hidden_size, cfg.hidden_size // cfg.num_attention_heads, float(seq_len)
    total = 0.0
    for l, layer in enumerate(encoder.encoder.layer):
        heads = layer.attention.self.num_attention_heads if mask is None else int(mask[l].sum())
        f = layer.intermediate.dense.out_features if ffn_mask is None else int(ffn_mask[l].sum())
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
    return prune


def heads_per_layer(encoder) -> list[int]:
    return [layer.attention.self.num_attention_heads for layer in encoder.encoder.layer]


def kept_per_layer(mask: torch.Tensor) -> list[int]:
    return [int(x) for x in mask.sum(1)]
