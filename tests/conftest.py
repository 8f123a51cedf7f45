"""Shared fixtures: a tiny random BERT (2 layers, 4 heads, hidden 32) with the real
MiniLM tokenizer, built locally so no test downloads anything."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> Path:
    torch = pytest.importorskip("torch")
    from transformers import BertConfig, BertModel

    from edgemath.checkpoint import default_encoder_path

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-bert")
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=256)
    BertModel(cfg, add_pooling_layer=False).save_pretrained(path, safe_serialization=True)
    shutil.copy(default_encoder_path() / "tokenizer.json", path / "tokenizer.json")
    return path


@pytest.fixture
def kill_after_save(monkeypatch):
    """``kill_after_save(n)``: the training loop's process is killed (KeyboardInterrupt) right after
    its n-th state save; returns the ``within`` of every save, filled as they happen. Saves after
    the n-th (a resumed run's) go through as usual."""
    import edgemath.loop as loop

    real, saves = loop.save_state, []

    def arm(n: int) -> list:
        def save_then_die(path, **state):
            real(path, **state)
            saves.append(state["within"])
            if len(saves) == n:
                raise KeyboardInterrupt

        monkeypatch.setattr(loop, "save_state", save_then_die)
        return saves

    return arm


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not beside the repository")
    return SHARED


@pytest.fixture(scope="session")
def tiny_teacher(tiny_encoder, tmp_path_factory) -> Path:
    """A tiny solver trained for a few steps: a real run directory, made in seconds."""
    from edgemath.train import TrainConfig, run

    out = tmp_path_factory.mktemp("teacher")
    return run(TrainConfig(data="asdiv-a:0", out=out, encoder=str(tiny_encoder), limit=32, max_steps=4,
                           batch_size=8, device="cpu"))


@pytest.fixture(scope="session")
def tiny_student(tiny_teacher, tmp_path_factory) -> Path:
    """The tiny teacher with half its heads and FFN neurons baked away, unevenly across layers."""
    from edgemath.compress.run import CompressConfig, run

    out = tmp_path_factory.mktemp("student")
    return run(CompressConfig(teacher=tiny_teacher, data="asdiv-a:0", out=out, prune_heads=0.5, prune_ffn=0.5, rounds=1, limit=32,
                              max_steps=2, epochs=1, batch_size=8, device="cpu", scorer="random"))
