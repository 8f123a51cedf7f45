"""Compression after arXiv 2511.17577: which structure, which score, which schedule, kept apart
so each can be swapped; every kind of unit is one pruner behind one protocol (pruner.py).

    pruner.py     the protocol (score -> select -> gate -> bake, and when it acts), the registry
    structure.py  attention heads: count, cost (params, FLOPs), bake; HeadPruner
    score.py      head importance S = alpha * weight_norm + (1 - alpha) * focus; the random baseline
    ffn.py        FFN neurons: gate, score (|activation| x weight), bake; FFNPruner
    layers.py     whole layers: Block Influence, drop; LayerPruner
    vocab.py      keep the tokens the solver needs; remap tokenizer and embeddings; VocabPruner
    schedule.py   p_t = p_final + (p_init - p_final) * (1 - t/T)^n, and mask selection
    distill.py    lambda1 * (tau^2 KL + beta * attention MSE) + lambda2 * task loss
    verify.py     the baked model against the masked one, every time
    records.py    finished rounds (resume), round summaries, the table, the manifest's metrics
    run.py        the `edgemath compress` stage: recursive rounds, bake, after the bake

Architecture-specific attribute paths live below this package, in edgemath/layout.py; what a
pruned checkpoint needs to load, in edgemath/encoder_shapes.py.
"""
