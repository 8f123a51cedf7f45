"""Vocabulary pruning at import (``edgemath import-e5 --vocab-from SPEC``): keep the pieces a
dataset needs and only their word-embedding rows.

XLM-R's 250,002 unigram pieces make 96M of e5-small's 117.5M parameters, and every training step
pays a dense gradient and AdamW update over all of them. Kept (ids stay in their old order, so
<s> <pad> </s> <unk> keep ids 0-3):

- the special tokens, ``▁`` and the lowest-scoring piece: ``tokenizers`` scores <unk> as the
  vocabulary's minimum score - 10, so keeping that piece keeps the <unk> penalty unchanged;
- every piece of the spec's train and dev texts (never its test split); train alone with
  ``with_dev=False``, for a cross-validation fold, whose dev split is the one it is scored on;
- the single-character pieces, bare and ``▁``-prefixed, of every character of those texts and of
  :data:`FALLBACK`, so unseen text still splits into known pieces instead of <unk>.

Unigram segmentation is a Viterbi search for the best-scoring split. A text whose best split under
the full vocabulary uses only kept pieces gets that same split from the pruned one (every split
left was a candidate before), so those texts encode to the same pieces and the same vectors.
Measured on Math23k test (1,000 problems; pieces from train+dev only): without the CJK ideographs
in the fallback 7,264 pieces, <unk> 0.09% of tokens, 6.1% of problems split differently; with them
12,605 pieces, <unk> 0.003% (as unpruned), 4.7%; adding all 6,400 multi-ideograph pieces: 19,049,
1.4%. Texts split differently only where a dropped multi-character piece would have won.
"""
from __future__ import annotations

import json

import numpy as np

from edgemath.data import DataError

META = "\u2581"
"""SentencePiece's word-start marker (edgemath.e5 builds the tokenizer with it); defined here, the
lower of the two modules, so the import stage uses its vocabulary helper and not the reverse."""

FALLBACK = "".join(map(chr, [*range(0x20, 0x7F), *range(0xA0, 0x250), *range(0x2010, 0x2028),
                             *range(0x3000, 0x3040), *range(0xFF01, 0xFF5F), *range(0x3400, 0x4DC0),
                             *range(0x4E00, 0xA000)]))
"""ASCII printable, Latin-1 and Latin Extended-A/B (names such as Zoë), general punctuation, CJK
symbols and punctuation, fullwidth forms, and the CJK ideographs (~7,700 single-ideograph pieces,
3M parameters: they bring Math23k test <unk> down to the unpruned rate)."""

KEPT_RULE = ("special tokens, '▁', the lowest-scoring piece (keeps the <unk> score); every piece of the "
             "{splits} texts; bare and '▁'-prefixed single-character pieces of every character of those "
             "texts and of ASCII printable, U+00A0-024F, U+2010-2027, U+3000-303F, U+FF01-FF5E, "
             "CJK U+3400-4DBF, U+4E00-9FFF")
MIN_SAME = 0.999
"""Share of training texts that must keep their exact pieces; below it the pruning has a bug."""


def prune_for(tok, splits, console=None, with_dev: bool = True):
    """Pieces to keep for ``splits`` (edgemath.data.Splits), the pruned tokenizer, and metrics: the
    kept rule and size, parity on the training texts, <unk> and changed splits on the test split.
    ``with_dev=False`` reads the train texts alone (a CV fold's dev split is its evaluation split).

    Returns ``(keep, pruned, metrics)``; ``keep`` holds ``tok``'s ids, sorted."""
    train = [p.text for p in splits.train.problems]
    # a file spec's dev split is its train split: count its texts once
    dev = [] if splits.dev is splits.train or not with_dev else [p.text for p in splits.dev.problems]
    texts, read = train + dev, "train+dev" if with_dev else "train"
    if not texts:
        raise DataError(f"--vocab-from {splits.spec}: no problems in its {read} split(s)")
    keep = needed_ids(tok, texts)
    pruned = prune_tokenizer(tok, keep)
    fit = compare(tok, pruned, keep, train)
    if 1 - fit["changed"] < MIN_SAME:
        raise RuntimeError(f"pruned tokenizer splits {fit['changed']:.2%} of the training texts differently "
                           f"from the full one (at most {1 - MIN_SAME:.1%} allowed): a pruning bug")
    metrics = {"vocab_from": splits.spec, "vocab_full": tok.get_vocab_size(), "vocab_kept": len(keep),
               "kept_rule": KEPT_RULE.format(splits=read), "texts_for_vocab": len(texts),
               "train_same_pieces": 1 - fit["changed"], "train_problems": fit["problems"],
               "test": compare(tok, pruned, keep, [p.text for p in splits.test.problems]) if splits.test else None}
    if console:
        t, same = metrics["test"], fit["problems"] - round(fit["changed"] * fit["problems"])
        console.print(f"vocabulary from {splits.spec} ({read}, {len(texts)} texts): {len(keep)} of "
                      f"{metrics['vocab_full']} pieces; same pieces on {same}/{fit['problems']} train texts")
        console.print(f"test ({t['problems']} problems): <unk> {t['unk_rate']:.4%} of tokens (unpruned "
                      f"{t['unk_rate_full']:.4%}), split differently {t['changed']:.2%}, tokens/problem "
                      f"{t['tokens_per_problem']:.2f} (unpruned {t['tokens_per_problem_full']:.2f})"
                      if t else "no test split: <unk> and changed-split rates not measured")
    return keep, pruned, metrics


def needed_ids(tok, texts: list[str], fallback: str = FALLBACK) -> list[int]:
    """Sorted ids of ``tok`` (the full tokenizer) to keep for ``texts``; see the module docstring."""
    ids = tok.get_vocab(with_added_tokens=True)
    scores = [s for _, s in json.loads(tok.to_str())["model"]["vocab"]]
    keep = set(tok.get_added_tokens_decoder()) | {ids[META], int(np.argmin(scores))}
    for enc in tok.encode_batch(texts):
        keep.update(enc.ids)
    chars = set(fallback).union(*(tok.normalizer.normalize_str(t) for t in texts))
    for c in chars:
        keep.update(ids[p] for p in (c, META + c) if p in ids)
    return sorted(keep)


def prune_tokenizer(tok, keep: list[int]):
    """``tok`` rebuilt as a Unigram model over the pieces ``keep`` (old ids) with their scores,
    renumbered 0..len(keep)-1 in old order; normaliser, pre-tokenizer and post-processor as before."""
    from tokenizers import Tokenizer

    spec = json.loads(tok.to_str())
    model, new_id = spec["model"], {old: new for new, old in enumerate(keep)}
    if model["unk_id"] not in new_id:
        raise ValueError("the kept ids must include <unk>")
    model["vocab"] = [model["vocab"][i] for i in keep]
    model["unk_id"] = new_id[model["unk_id"]]
    spec["added_tokens"] = [dict(t, id=new_id[t["id"]]) for t in spec["added_tokens"] if t["id"] in new_id]
    for special in (spec.get("post_processor") or {}).get("special_tokens", {}).values():
        special["ids"] = [new_id[i] for i in special["ids"]]
    return Tokenizer.from_str(json.dumps(spec))


def compare(full, pruned, keep: list[int], texts: list[str]) -> dict:
    """``pruned`` against ``full`` on ``texts``: the share of texts whose ids (mapped back) differ,
    <unk> per token and tokens per text, <s> and </s> included."""
    old_of, n = np.asarray(keep), max(len(texts), 1)
    a, b = full.encode_batch(texts), pruned.encode_batch(texts)
    tokens_full, tokens = sum(len(e.ids) for e in a), sum(len(e.ids) for e in b)
    unk_full, unk = full.token_to_id("<unk>"), pruned.token_to_id("<unk>")
    return {"problems": len(texts),
            "changed": sum(x.ids != old_of[y.ids].tolist() for x, y in zip(a, b)) / n,
            "unk_rate": sum(e.ids.count(unk) for e in b) / max(tokens, 1),
            "unk_rate_full": sum(e.ids.count(unk_full) for e in a) / max(tokens_full, 1),
            "tokens_per_problem": tokens / n, "tokens_per_problem_full": tokens_full / n}
