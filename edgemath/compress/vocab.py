"""Vocabulary pruning: keep the WordPiece tokens the solver needs, drop the other embedding rows.

MiniLM's 30,522 x 384 word embeddings are half the encoder's parameters and two thirds of its
int8 file, yet math word problems use a few thousand tokens. Kept:

- every token of the training texts, and the tokens of a wider English sample (GSM8K train
  questions and answers) seen at least twice;
- or, to train *through* the cut, only the training tokens seen a few times: rare words (names,
  objects) are then respelled in training as unseen words are at test time. Cut the teacher's
  vocabulary first, then compress from it.
- the special tokens, and the Latin single-character pieces (``a`` and ``##a``): WordPiece falls
  back to them, so a word whose pieces were dropped is spelled in smaller pieces instead of [UNK].

A word whose original pieces all survive keeps its exact segmentation (greedy longest match finds
the same pieces), so texts of the corpus encode to the same vectors as before. Position rows past
the tokenizer's length limit go too. Ids are remapped
in their old order, so [PAD] stays 0 (MPNet's <s> <pad> </s> <unk> stay 0-3: MPNet reads its pad id,
1, from a constant, not from the config). ``unk_rate`` measures what unseen text loses.
``VocabPruner`` puts these behind the pruner protocol (edgemath/compress/pruner.py): it acts after
the bake, on the baked model, with no training.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable

import torch
from tokenizers import Tokenizer

from edgemath.layout import layout_of
from edgemath.runtime.tokenize import ProblemTokenizer


SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<s>", "<pad>", "</s>", "<unk>", "<mask>")  # BERT, MPNet
FALLBACK_BELOW = 0x250
"""Single characters kept as fallback pieces: Basic Latin to Latin Extended-B (the uncased
BERT vocabulary also holds ~5,000 CJK and other single characters, 40% of a pruned table)."""


def _vocab(tok: Tokenizer) -> dict[str, int]:
    return tok.get_vocab(with_added_tokens=True)


def _counts(tok: ProblemTokenizer, texts: Iterable[str]) -> Counter:
    return Counter(i for enc in tok.tok.encode_batch(list(texts)) for i in enc.ids)


def vocab_scores(tok: ProblemTokenizer, texts: Iterable[str], wider: Iterable[str] = (), min_count: int = 2,
                 text_min_count: int = 1, always: Iterable[str] = ()) -> dict[int, float]:
    """Per token id, the times a sample holds it over the times that sample asks for (1 and more:
    kept): ``text_min_count`` for ``texts``, ``min_count`` for the ``wider`` sample, the better of
    the two; the specials, the Latin single-character pieces and the tokens of ``always`` score
    infinity."""
    scores: dict[int, float] = {i: math.inf for i in _counts(tok, always)}
    for sample, least in ((texts, text_min_count), (wider, min_count)):
        for i, n in _counts(tok, sample).items():
            scores[i] = max(scores.get(i, 0.0), n / least)
    for piece, i in _vocab(tok.tok).items():
        bare = piece[2:] if piece.startswith("##") else piece
        if (len(bare) == 1 and ord(bare) < FALLBACK_BELOW) or piece in SPECIALS:
            scores[i] = math.inf
    return scores


def needed_ids(tok: ProblemTokenizer, texts: Iterable[str], wider: Iterable[str] = (), min_count: int = 2,
               text_min_count: int = 1, always: Iterable[str] = ()) -> list[int]:
    """Sorted ids to keep: tokens seen at least ``text_min_count`` times in ``texts`` (1: all),
    at least ``min_count`` times in the ``wider`` sample, every token of ``always``, the specials,
    and Latin single-character pieces."""
    return sorted(i for i, s in vocab_scores(tok, texts, wider, min_count, text_min_count, always).items() if s >= 1)


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
    for name in ("cls", "sep"):  # RobertaProcessing (MPNet): [token, id]
        if isinstance(post.get(name), list):
            post[name] = [post[name][0], new_id[post[name][1]]]
    if spec.get("padding"):
        spec["padding"]["pad_id"] = new_id.get(spec["padding"]["pad_id"], 0)
    return ProblemTokenizer(Tokenizer.from_str(json.dumps(spec)), tok.max_length, tok.percent_fraction)


def prune_vocab(encoder, tok: ProblemTokenizer, keep: list[int]) -> ProblemTokenizer:
    """Slice the word-embedding rows of ``keep`` out of ``encoder`` in place; returns the
    matching tokenizer. The encoder stays a plain Hugging Face model (config.vocab_size)."""
    emb = encoder.get_input_embeddings()
    if max(keep) >= emb.num_embeddings:
        raise ValueError(f"token id {max(keep)} is outside the embedding table ({emb.num_embeddings} rows)")
    fixed_pad = getattr(encoder.embeddings, "padding_idx", None)  # MPNet: positions count from it
    if fixed_pad is not None and (fixed_pad not in keep or keep.index(fixed_pad) != fixed_pad):
        raise ValueError(f"the pad id {fixed_pad} is fixed in this architecture: keep ids 0..{fixed_pad}")
    pad = 0 if fixed_pad is None else fixed_pad
    new = torch.nn.Embedding(len(keep), emb.embedding_dim, padding_idx=pad if pad in keep else None)
    new.weight.data.copy_(emb.weight.data[torch.tensor(keep)])
    encoder.set_input_embeddings(new.to(emb.weight.device))
    encoder.config.vocab_size = len(keep)
    if getattr(encoder.config, "pad_token_id", None) is not None:
        encoder.config.pad_token_id = keep.index(encoder.config.pad_token_id) if encoder.config.pad_token_id in keep else 0
    return remap_tokenizer(tok, keep)


def trim_positions(encoder, max_length: int) -> int:
    """Drop the position-embedding rows past ``max_length``: the tokenizer truncates every text
    to that many tokens, so those rows are never read (MiniLM has 512, the solver reads 256:
    0.1 MB of an int8 file); MPNet's positions start at row 2, so it keeps ``max_length + 2``.
    Returns the rows kept; the encoder stays a plain Hugging Face model."""
    emb = encoder.embeddings
    rows = emb.position_embeddings.num_embeddings
    max_length += layout_of(encoder).position_offset
    if max_length >= rows:
        return rows
    new = torch.nn.Embedding(max_length, emb.position_embeddings.embedding_dim,
                             padding_idx=emb.position_embeddings.padding_idx)
    new.weight.data.copy_(emb.position_embeddings.weight.data[:max_length])
    emb.position_embeddings = new.to(emb.position_embeddings.weight.device)
    for name in ("position_ids", "token_type_ids"):  # buffers sized by max_position_embeddings
        if hasattr(emb, name):
            setattr(emb, name, getattr(emb, name)[:, :max_length])
    encoder.config.max_position_embeddings = max_length
    return max_length


def unk_rate(tok: ProblemTokenizer, texts: Iterable[str]) -> dict[str, float]:
    """Share of [UNK] among the (non-special) tokens of ``texts``."""
    unk = tok.tok.token_to_id("[UNK]")
    specials = {tok.tok.token_to_id(s) for s in ("[CLS]", "[SEP]", "[PAD]", "<s>", "</s>", "<pad>")}
    n = n_unk = 0
    for enc in tok.tok.encode_batch(list(texts)):
        ids = [i for i in enc.ids if i not in specials]
        n += len(ids)
        n_unk += sum(i == unk for i in ids)
    return {"tokens": n, "unknown": n_unk, "rate": n_unk / max(n, 1)}


class VocabPruner:
    """Word-embedding rows, scored by how often the training texts and a wider English sample
    (GSM8K train) use each token, the rarer ones dropped after the bake, with the positions past
    the tokenizer's limit; the tokenizer is renumbered to match."""

    name, when, seed = "vocab", "after", None  # --scorer does not apply: counts are the evidence

    def __init__(self, cfg):
        self.active, self.data_dir = cfg.prune_vocab, cfg.data_dir
        self.min_count, self.train_min_count = cfg.vocab_min_count, cfg.vocab_train_min_count
        self.wider: list[str] | None = None

    def start(self, encoder, where) -> None:
        """Reads the wider sample now: a missing one fails before training, not after."""
        from edgemath.data import gsm8k_texts

        self.wider = gsm8k_texts("train", self.data_dir, answers=True)

    def shape(self, encoder) -> tuple[int]:
        return (encoder.config.vocab_size,)

    def score(self, ev) -> dict[int, float]:
        return vocab_scores(ev.tok, ev.texts, self.wider, self.min_count, self.train_min_count, ev.kept_texts)

    def select(self, scores: dict[int, float], least: float = 1.0) -> list[int]:
        return sorted(i for i, s in scores.items() if s >= least)

    def gate(self, encoder, keep):
        raise TypeError("the vocabulary is cut after the bake, never gated")

    def bake(self, target, keep: list[int]) -> dict:
        """Cut rows and positions from ``target.encoder``, renumber ``target.tok``; [UNK] rates on
        GSM8K test before and after (text the solver has never seen)."""
        from edgemath.data import gsm8k_texts

        before, of = target.tok, target.encoder.config.vocab_size
        target.tok = prune_vocab(target.encoder, before, keep)
        positions = trim_positions(target.encoder, before.max_length)
        unseen = gsm8k_texts("test", self.data_dir)
        return {"kept": len(keep), "of": of, "positions": positions,
                "gsm8k_test_unk": unk_rate(target.tok, unseen), "gsm8k_test_unk_before": unk_rate(before, unseen)}
