"""Text -> token ids and number-token spans, shared by training and the on-device runtime.

Padding is always off: the MiniLM package's tokenizer.json pads every input to 128 tokens,
which triples single-problem latency for nothing. Batches are padded by the caller.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from .numbers import Number, extract_numbers

__all__ = ["Encoded", "ProblemTokenizer"]

PAD_NAMES = ("[PAD]", "<pad>")  # BERT WordPiece, XLM-R / SentencePiece


@dataclass
class Encoded:
    ids: list[int]
    numbers: list[Number]
    spans: list[tuple[int, int]]  # per number: [start, end) token positions; (0, 0) if truncated
    truncated: bool


class ProblemTokenizer:
    """A ``tokenizers`` tokenizer plus the mapping from each extracted number to its tokens."""

    def __init__(self, tokenizer: Tokenizer, max_length: int = 256, percent_fraction: bool = False):
        self.tok = tokenizer
        self.tok.no_padding()
        self.tok.no_truncation()
        self.max_length = max_length
        self.percent_fraction = percent_fraction
        """Numbers are read with a percent as its fraction (solver.json's ``percent_fraction``)."""

    @classmethod
    def from_file(cls, path: str | Path, max_length: int = 256, percent_fraction: bool = False) -> "ProblemTokenizer":
        return cls(Tokenizer.from_file(str(path)), max_length, percent_fraction)

    @classmethod
    def of_model(cls, folder: str | Path, meta: dict) -> "ProblemTokenizer":
        """A model folder's tokenizer, with the length limit and number reading its solver.json
        (``meta``) records: the one way an exported model's texts are read."""
        return cls.from_file(Path(folder) / "tokenizer.json", meta.get("max_length", 256), meta.get("percent_fraction", False))

    def save(self, path: str | Path) -> None:
        self.tok.save(str(path))

    @property
    def pad_id(self) -> int:
        """The pad token's id: a *special* pad token first (MPNet's vocabulary also holds BERT's
        ``[PAD]``, at 4, as a plain piece; its pad is ``<pad>``, 1), then any piece so named, else 0."""
        special = {t.content: i for i, t in self.tok.get_added_tokens_decoder().items() if t.special}
        ids = [special.get(name) for name in PAD_NAMES] + [self.tok.token_to_id(name) for name in PAD_NAMES]
        return next((i for i in ids if i is not None), 0)

    def encode(self, text: str) -> Encoded:
        numbers = extract_numbers(text, self.percent_fraction)
        enc = self.tok.encode(text)
        ids, offsets = list(enc.ids), list(enc.offsets)
        truncated = len(ids) > self.max_length
        if truncated:  # keep the opening special ([CLS], <s>) ... and the closing one ([SEP], </s>)
            ids = ids[: self.max_length - 1] + ids[-1:]
            offsets = offsets[: self.max_length - 1] + [(0, 0)]
        spans = []
        for n in numbers:
            toks = [i for i, (s, e) in enumerate(offsets) if e > s and s < n.end and e > n.start]
            spans.append((toks[0], toks[-1] + 1) if toks else (0, 0))
        return Encoded(ids, numbers, spans, truncated)
