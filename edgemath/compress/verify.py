"""The bake checks itself: the cut model against the masked one it came from (DESIGN.md section 6:
"predicts exactly what the masked model predicted"), every time, before anything is saved."""
from __future__ import annotations


def verify_bake(masked, masks: dict, units, baked, tok, dev, device, baked_tok=None) -> dict:
    """Encoder outputs and decoded equations of ``baked`` against ``masked`` run under ``masks``
    (gated by ``units``, the pruners they belong to; empty: the plain model). ``baked_tok``: the
    baked model's own tokenizer, when the vocabulary was pruned (texts must then encode to the same
    number of tokens to compare). Raises when the two disagree on a text both spell the same way."""
    import torch

    from edgemath.compress.pruner import gated
    from edgemath.evaluate import predict
    from edgemath.features import collate

    baked_tok = baked_tok or tok
    encs = []
    for p in dev:
        ea = tok.encode(p.text)
        encs.append((ea, ea if baked_tok is tok else baked_tok.encode(p.text)))
    # a word outside the kept vocabulary is spelled in smaller pieces: only same-length texts compare
    same_spelling = [len(ea.ids) == len(eb.ids) for ea, eb in encs]
    worst, compared = 0.0, 0
    with torch.no_grad(), gated(units, masked.encoder, masks) as kwargs:
        for (ea, eb), kept in zip(encs[:128], same_spelling):
            if not kept:
                continue
            a = masked.encode(collate([ea], tok.pad_id).to(device), **kwargs).last_hidden_state
            b = baked.encode(collate([eb], baked_tok.pad_id).to(device)).last_hidden_state
            worst, compared = max(worst, float((a - b).abs().max())), compared + 1
        pa = predict(masked, tok, dev, device=device, **kwargs)
    pb = predict(baked, baked_tok, dev, device=device)
    same = [x.equation == y.equation for x, y in zip(pa, pb)]
    check = {"max_abs_diff": worst, "texts_compared": compared, "identical_equations": sum(same), "problems": len(dev),
             "respelled": same_spelling.count(False),
             "identical_where_same_spelling": sum(s for s, k in zip(same, same_spelling) if k),
             "accuracy": sum(p.correct for p in pb) / max(1, len(pb))}
    if worst > 1e-4 or check["identical_where_same_spelling"] != len(dev) - check["respelled"]:
        raise RuntimeError(f"baked model disagrees with the masked model on texts both spell the same way: {check}")
    return check
