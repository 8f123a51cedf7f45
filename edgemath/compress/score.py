"""Head importance scores, one (L, H) tensor per scorer.

Paper (arXiv 2511.17577, section 3): ``S = alpha * norm_w + (1 - alpha) * focus``, both terms
min-max normalised to [0, 1] over all heads.

- ``norm_w``: L2 norm of the head's slice of the Q, K, V weights (its rows) and of the output
  projection (its columns).
- ``focus``: from the mean attention entropy of the head over real (unpadded) tokens of
  training batches. Sign convention, ``entropy_sign``:
  ``"low"`` (default) -- a low-entropy, focused head is important: focus = 1 - entropy01;
  ``"high"`` -- a high-entropy, broad head is important: focus = entropy01.
"""
from __future__ import annotations

import torch

from edgemath.layout import layout_of


def normalise(x: torch.Tensor) -> torch.Tensor:
    lo, hi = x.min(), x.max()
    return torch.zeros_like(x) if hi - lo < 1e-12 else (x - lo) / (hi - lo)


def weight_norm_scores(encoder) -> torch.Tensor:
    """(L, H) norms of each head's Q/K/V rows and output-projection columns."""
    cfg, lay = encoder.config, layout_of(encoder)
    layers = lay.layer_list(encoder)
    h, dh = cfg.num_attention_heads, cfg.hidden_size // cfg.num_attention_heads
    out = torch.zeros(len(layers), h)
    for l, layer in enumerate(layers):
        qkv, o = lay.qkv_of(layer), lay.attn_out_of(layer)
        for k in range(h):
            rows = slice(k * dh, (k + 1) * dh)
            sq = sum(w.weight[rows].float().pow(2).sum() for w in qkv)
            sq = sq + o.weight[:, rows].float().pow(2).sum()
            out[l, k] = sq.sqrt().detach().cpu()
    return out


def attention_entropy(attentions, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed entropy (L, H) over real query tokens, and how many query tokens were summed.

    attentions: per layer [B, H, T, T] probabilities; attention_mask [B, T]."""
    m = attention_mask.float()
    total = []
    for a in attentions:
        ent = -(a.float() * a.float().clamp_min(1e-12).log()).sum(-1)  # [B, H, T]
        total.append((ent * m[:, None, :]).sum((0, 2)))
    return torch.stack(total).detach().cpu(), m.sum().detach().cpu()


@torch.no_grad()
def entropy_scores(solver, batches, device) -> torch.Tensor:
    """(L, H) mean attention entropy of the unmasked encoder on ``batches``; averaged over all
    processes when torch.distributed is running, so every rank picks the same heads."""
    was = solver.training
    solver.eval()
    tot, count = None, torch.zeros(())
    for batch in batches:
        b = batch.to(device)
        att = solver.encode(b, output_attentions=True).attentions
        s, c = attention_entropy(att, b.attention_mask)
        tot = s if tot is None else tot + s
        count = count + c
    solver.train(was)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        both = torch.cat([tot.flatten(), count.view(1)])
        torch.distributed.all_reduce(both)
        tot, count = both[:-1].view_as(tot), both[-1]
    return tot / count.clamp_min(1.0)


def head_importance(norm: torch.Tensor, entropy: torch.Tensor, alpha: float, entropy_sign: str = "low") -> torch.Tensor:
    """S = alpha * normalise(norm) + (1 - alpha) * focus (see the module docstring)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"--alpha must be in [0, 1], got {alpha}")
    if entropy_sign not in ("low", "high"):
        raise ValueError(f"--entropy-sign must be 'low' or 'high', got {entropy_sign!r}")
    e = normalise(entropy)
    focus = 1.0 - e if entropy_sign == "low" else e
    return alpha * normalise(norm) + (1.0 - alpha) * focus


def random_scores(shape, seed: int) -> torch.Tensor:
    """The baseline scorer: uniform random, fixed by seed."""
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))
