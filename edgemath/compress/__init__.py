"""Compression after arXiv 2511.17577: which structure (heads), which score (weight norm +
attention entropy), which schedule (cubic), kept apart so each can be swapped.

    structure.py  count, mask, cost (params, FLOPs) and bake (slice out) attention heads
    ffn.py        the same for FFN neurons: gate, score (|activation| x weight), bake, reload
    vocab.py      keep the tokens the solver needs; remap tokenizer and embeddings
    score.py      head importance S = alpha * weight_norm + (1 - alpha) * focus
    schedule.py   p_t = p_final + (p_init - p_final) * (1 - t/T)^n, and mask selection
    distill.py    lambda1 * (tau^2 KL + beta * attention MSE) + lambda2 * task loss
    run.py        the `edgemath compress` stage: recursive rounds, resume, bake, manifest
"""
