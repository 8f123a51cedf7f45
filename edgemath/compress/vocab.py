"""Vocabulary pruning: keep the WordPiece tokens the solver needs, drop the other embedding rows.

MiniLM's 30,522 x 384 word embeddings are half the encoder's parameters and two thirds of its
int8 file, yet math word problems use a few thousand tokens. Kept:

- every token of the training texts, and the tokens of a wider English sample (GSM8K train
  questions and answers) seen at least twice;
- the special tokens, and the Latin single-character pieces (``a`` and ``##a``): WordPiece falls
  back to them, so a word whose pieces were dropped is spelled in smaller pieces instead of [UNK].

A word whose original pieces all survive keeps its exact segmentation (greedy longest match finds
the same pieces), so texts of the corpus encode to the same vectors as before. Ids are remapped
in their old order, so [PAD] stays 0. ``unk_rate`` measures what unseen text loses.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

import torch
from tokenizers import Tokenizer

from edgemath.runtime.tokenize import ProblemTokenizer


SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
FALLBACK_BELOW = 0x250
"""Single characters kept as fallback pieces: Basic Latin to Latin Extended-B (the uncased
BERT vocabulary also holds ~5,000 CJK and other single characters, 40% of a pruned table)."""


def _vocab(tok: Tokenizer) -> dict[str, int]:
    return tok.get_vocab(with_added_tokens=True)


def needed_ids(tok: ProblemTokenizer, texts: Iterable[str], wider: Iterable[str] = (), min_count: int = 2) -> list[int]:
    """Sorted ids to keep: every token of ``texts``, tokens seen at least ``min_count`` times in
    the ``wider`` sample, the specials, and Latin single-character pieces."""
    keep: set[int] = set()
    for enc in tok.tok.encode_batch(list(texts)):
        keep.update(enc.ids)
    seen = Counter(i for enc in tok.tok.encode_batch(list(wider)) for i in enc.ids)
    keep.update(i for i, n in seen.items() if n >= min_count)
    for piece, i in _vocab(tok.tok).items():
        bare = piece[2:] if piece.startswith("##") else piece
        if (len(bare) == 1 and ord(bare) < FALLBACK_BELOW) or piece in SPECIALS:
            keep.add(i)
    return sorted(keep)


def remap_tokenizer(tok: ProblemTokenizer, keep: list[int]) -> ProblemTokenizer:
    """The same tokenizer over only ``keep`` (old ids), renumbered 0..len(keep)-1 in old order."""
    new_id = {old: new for new, old in enumerate(keep)}
    spec = json.loads(tok.tok.to_str())
    vocab = spec["model"]["vocab"]
    spec["model"]["vocab"] = {p: new_id[i] for p, i in sorted(vocab.items(), key=lambda kv: kv[1]) if i in new_id}
    unk = spec["model"].get("unk_token")
    if unk and unk not in spec["model"]["vocab"]:
        raise ValueError(f"the kept ids must include the unknown token {unk!r}")
    spec["added_tokens"] = [dict(t, id=new_id[t["id"]]) for t in spec.get("added_tokens", []) if t["id"] in new_id]
    post = spec.get("post_processor") or {}
    for special in post.get("special_tokens", {}).values():
        special["ids"] = [new_id[i] for i in special["ids"]]
    if spec.get("padding"):
        spec["padding"]["pad_id"] = new_id.get(spec["padding"]["pad_id"], 0)
    return ProblemTokenizer(Tokenizer.from_str(json.dumps(spec)), tok.max_length)


def prune_vocab(encoder, tok: ProblemTokenizer, keep: list[int]) -> ProblemTokenizer:
    """Slice the word-embedding rows of ``keep`` out of ``encoder`` in place; returns the
    matching tokenizer. The encoder stays a plain Hugging Face model (config.vocab_size)."""
    emb = encoder.get_input_embeddings()
    if max(keep) >= emb.num_embeddings:
        raise ValueError(f"token id {max(keep)} is outside the embedding table ({emb.num_embeddings} rows)")
    new = torch.nn.Embedding(len(keep), emb.embedding_dim, padding_idx=0 if 0 in keep else None)
    new.weight.data.copy_(emb.weight.data[torch.tensor(keep)])
    encoder.set_input_embeddings(new.to(emb.weight.device))
    encoder.config.vocab_size = len(keep)
    if getattr(encoder.config, "pad_token_id", None) is not None:
        encoder.config.pad_token_id = keep.index(encoder.config.pad_token_id) if encoder.config.pad_token_id in keep else 0
    return remap_tokenizer(tok, keep)


def unk_rate(tok: ProblemTokenizer, texts: Iterable[str]) -> dict[str, float]:
    """Share of [UNK] among the (non-special) tokens of ``texts``."""
    unk = tok.tok.token_to_id("[UNK]")
    specials = {tok.tok.token_to_id(s) for s in ("[CLS]", "[SEP]", "[PAD]")}
    n = n_unk = 0
    for enc in tok.tok.encode_batch(list(texts)):
        ids = [i for i in enc.ids if i not in specials]
        n += len(ids)
        n_unk += sum(i == unk for i in ids)
    return {"tokens": n, "unknown": n_unk, "rate": n_unk / max(n, 1)}
