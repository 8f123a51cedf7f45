"""An encoder made from scratch for a language the pretrained one cannot read (Math23k's Chinese).

MiniLM's uncased WordPiece maps most Chinese characters to [UNK]. Here the tokenizer is learned
from the training texts with the ``tokenizers`` library: BERT's normaliser and pre-tokeniser
already split every CJK character into its own word, so a WordPiece vocabulary over those
words is character-level for Chinese and keeps multi-digit numbers whole when they are
frequent. The encoder is a randomly initialised BertModel of the chosen size, saved as a plain
Hugging Face checkpoint with its tokenizer.json beside it, so ``edgemath train --encoder DIR``
and every later stage (compress, export, solve) work unchanged.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from edgemath.manifest import file_sha256, fresh_dir, swap_into_place, write_manifest

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@dataclass
class ScratchConfig:
    data: str = "math23k"
    out: Path = Path("runs/char-encoder")
    vocab_size: int = 6000
    """Upper bound; a character vocabulary stops where the texts run out of pieces."""
    layers: int = 4
    hidden: int = 256
    heads: int = 4
    max_length: int = 256
    seed: int = 0
    data_dir: str | None = None

    def __post_init__(self):
        if self.hidden % self.heads:
            raise ValueError(f"--hidden {self.hidden} must be a multiple of --heads {self.heads}")
        if self.layers < 1 or self.vocab_size < 100:
            raise ValueError("--layers must be >= 1 and --vocab-size >= 100")
        self.out = Path(self.out)


def train_tokenizer(texts: list[str], vocab_size: int):
    """A WordPiece tokenizer learned from ``texts`` ([CLS] text [SEP], no padding)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                                             min_frequency=2))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
                                                       special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tok


def build(cfg: ScratchConfig, console=None) -> Path:
    """Write ``cfg.out``: config.json + model.safetensors (random init) + tokenizer.json."""
    import torch
    from transformers import BertConfig, BertModel

    from edgemath.data import load_splits

    splits = load_splits(cfg.data, cfg.data_dir)
    texts = [p.text for p in splits.train.problems]
    tok = train_tokenizer(texts, cfg.vocab_size)
    torch.manual_seed(cfg.seed)
    bert = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=cfg.hidden, num_hidden_layers=cfg.layers,
                      num_attention_heads=cfg.heads, intermediate_size=4 * cfg.hidden,
                      max_position_embeddings=cfg.max_length, pad_token_id=tok.token_to_id("[PAD]"))
    tmp = fresh_dir(cfg.out)
    BertModel(bert, add_pooling_layer=False).save_pretrained(tmp, safe_serialization=True)
    tok.save(str(tmp / "tokenizer.json"))
    enc = [tok.encode(t) for t in texts]
    unk = tok.token_to_id("[UNK]")
    stats = {"vocab": tok.get_vocab_size(), "train_texts": len(texts),
             "mean_tokens": sum(len(e.ids) for e in enc) / max(1, len(enc)),
             "unk_rate_train": sum(i == unk for e in enc for i in e.ids) / max(1, sum(len(e.ids) for e in enc))}
    write_manifest(tmp, stage="scratch-encoder", config={**asdict(cfg), "out": str(cfg.out)},
                   inputs={str(f): file_sha256(f) for f in splits.files},
                   metrics=stats)
    out = swap_into_place(tmp, cfg.out)
    if console:
        console.print(f"encoder {cfg.layers}x{cfg.hidden} ({cfg.heads} heads), vocabulary {stats['vocab']}, "
                      f"{stats['mean_tokens']:.0f} tokens per problem: {out}")
    return out

