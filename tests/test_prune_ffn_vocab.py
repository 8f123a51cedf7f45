"""FFN-neuron and vocabulary pruning: gated = baked, survives reload, and the whole stage."""
import json

import pytest

torch = pytest.importorskip("torch")

from edgemath.compress.ffn import bake_ffn, ffn_gates, ffn_scores
from edgemath.compress.structure import encoder_flops, param_counts
from edgemath.encoder_shapes import load_encoder


def _inputs():
    ids = torch.randint(1000, 2000, (2, 9), generator=torch.Generator().manual_seed(1))
    att = torch.ones(2, 9, dtype=torch.long)
    att[1, 6:] = 0
    return ids, att


def test_ffn_bake_matches_gates_and_reloads(tiny_encoder, tmp_path):
    enc = load_encoder(tiny_encoder).eval()
    mask = torch.rand(2, 64, generator=torch.Generator().manual_seed(0)) > 0.5
    mask[1, :60], mask[1, 60:] = False, True  # uneven: layer 1 keeps 4 of 64
    ids, att = _inputs()
    with torch.no_grad(), ffn_gates(enc, mask):
        ref = enc(input_ids=ids, attention_mask=att).last_hidden_state
    with torch.no_grad():
        ungated = enc(input_ids=ids, attention_mask=att).last_hidden_state
    assert (ungated - ref).abs().max() > 1e-3  # the gates did something, and were removed after
    predicted, flops = param_counts(enc, None, mask), encoder_flops(enc, 9, None, mask)
    widths = bake_ffn(enc, mask)
    assert widths == [int(x) for x in mask.sum(1)] and widths[0] != widths[1]
    assert sum(p.numel() for p in enc.parameters()) == predicted["total"]
    assert encoder_flops(enc, 9) == flops
    enc.save_pretrained(tmp_path / "baked", safe_serialization=True)
    again = load_encoder(tmp_path / "baked")
    assert [l.intermediate.dense.out_features for l in again.encoder.layer] == widths
    with torch.no_grad():
        got = again(input_ids=ids, attention_mask=att).last_hidden_state
    torch.testing.assert_close(got[att.bool()], ref[att.bool()], atol=1e-5, rtol=0)


def test_ffn_bake_refuses_empty_layer(tiny_encoder):
    enc = load_encoder(tiny_encoder)
    mask = torch.ones(2, 64, dtype=torch.bool)
    mask[0] = False
    with pytest.raises(ValueError, match="at least one FFN neuron"):
        bake_ffn(enc, mask)


def test_ffn_scores_are_contributions(tiny_teacher):
    from edgemath.checkpoint import load_solver
    from edgemath.data import load_splits
    from edgemath.features import collate

    solver, tok = load_solver(tiny_teacher)
    layer = solver.encoder.encoder.layer[0]
    with torch.no_grad():
        layer.output.dense.weight[:, 5] = 0.0  # a neuron that writes nothing matters nothing
    texts = [p.text for p in load_splits("asdiv-a:0").train.problems[:8]]
    s = ffn_scores(solver, [collate([tok.encode(t) for t in texts], tok.pad_id)], "cpu")
    assert s.shape == (2, 64) and (s >= 0).all()
    assert s[0, 5] == 0 and (s[0] > 0).sum() == 63


def test_vocab_pruning_keeps_corpus_exact_and_spells_unseen_words(tiny_encoder):
    from edgemath.compress.vocab import needed_ids, prune_vocab, unk_rate
    from edgemath.runtime.tokenize import ProblemTokenizer

    enc = load_encoder(tiny_encoder).eval()
    tok = ProblemTokenizer.from_file(tiny_encoder / "tokenizer.json")
    corpus = ["Tom has 3 apples and buys 5 more.", "A train travels 60 miles in 1.5 hours."]
    keep = needed_ids(tok, corpus)
    assert 200 < len(keep) < 300  # 5 specials, ~20 corpus tokens, ~210 Latin single-character pieces
    often = needed_ids(tok, corpus + ["Tom buys a train."], text_min_count=2)  # only tom, train, buys, a, . twice
    assert tok.tok.token_to_id("tom") in often and tok.tok.token_to_id("apples") in keep
    assert tok.tok.token_to_id("apples") not in often and tok.tok.token_to_id("miles") not in often
    small = prune_vocab(enc, tok, keep)
    assert enc.get_input_embeddings().num_embeddings == len(keep) == enc.config.vocab_size
    assert small.pad_id == 0 and small.tok.token_to_id("[CLS]") == keep.index(101)
    ref = load_encoder(tiny_encoder).eval()
    for text in corpus:
        a, b = tok.encode(text), small.encode(text)
        assert tok.tok.encode(text).tokens == small.tok.encode(text).tokens
        with torch.no_grad():
            x = ref(input_ids=torch.tensor([a.ids])).last_hidden_state
            y = enc(input_ids=torch.tensor([b.ids])).last_hidden_state
        torch.testing.assert_close(x, y, atol=1e-6, rtol=0)
        assert a.spans == b.spans
    unseen = "Zebras gallop quickly."
    assert small.tok.encode(unseen).tokens != tok.tok.encode(unseen).tokens  # respelled ...
    assert unk_rate(small, [unseen])["unknown"] == 0  # ... not unknown
    assert unk_rate(small, ["北京"])["rate"] == 1.0  # CJK characters were not kept


def test_trim_positions_is_exact_within_max_length_and_reloads(tiny_encoder, tmp_path):
    from edgemath.compress.vocab import trim_positions

    enc, ref = load_encoder(tiny_encoder).eval(), load_encoder(tiny_encoder).eval()
    assert trim_positions(enc, 512) == 256  # nothing past the table to drop
    assert trim_positions(enc, 16) == 16 == enc.config.max_position_embeddings
    assert sum(p.numel() for p in ref.parameters()) - sum(p.numel() for p in enc.parameters()) == 240 * 32
    ids, att = _inputs()
    with torch.no_grad():
        want = ref(input_ids=ids, attention_mask=att).last_hidden_state
        got = enc(input_ids=ids, attention_mask=att).last_hidden_state
    torch.testing.assert_close(got, want, atol=0, rtol=0)
    enc.save_pretrained(tmp_path / "trimmed", safe_serialization=True)
    again = load_encoder(tmp_path / "trimmed").eval()
    with torch.no_grad():
        torch.testing.assert_close(again(input_ids=ids, attention_mask=att).last_hidden_state, want, atol=0, rtol=0)


def test_compress_heads_ffn_vocab_stage(tiny_teacher, tmp_path, shared_data):
    from edgemath.checkpoint import load_solver
    from edgemath.compress.run import CompressConfig, run
    from edgemath.evaluate import predict

    out = run(CompressConfig(teacher=tiny_teacher, data="asdiv-a:0", out=tmp_path / "s", prune_heads=0.25,
                             prune_ffn=0.5, prune_vocab=True, rounds=1, limit=32, max_steps=3, epochs=1,
                             batch_size=8, refresh_every=1, device="cpu", data_dir=str(shared_data)))
    m = json.loads((out / "manifest.json").read_text())["metrics"]
    assert sum(m["ffn_widths"]) == 64 and m["rounds"][0]["ffn_per_layer"] == m["ffn_widths"]
    assert m["after"]["params"]["ffn"] < m["before"]["params"]["ffn"]
    assert 5000 < m["vocab"]["kept"] < 15000 and m["vocab"]["gsm8k_test_unk"]["rate"] < 0.005
    solver, tok = load_solver(out)
    assert [l.intermediate.dense.out_features for l in solver.encoder.encoder.layer] == m["ffn_widths"]
    assert solver.encoder.config.vocab_size == m["vocab"]["kept"] == tok.tok.get_vocab_size()
    assert solver.encoder.config.max_position_embeddings == m["vocab"]["positions"] == tok.max_length
    from edgemath.data import load_splits
    preds = predict(solver, tok, load_splits("asdiv-a:0").dev.problems[:32])
    assert sum(p.correct for p in preds) / 32 == pytest.approx(m["after"]["dev_acc"])


def test_compress_bad_ffn_args():
    from edgemath.compress.run import CompressConfig

    with pytest.raises(ValueError, match="--prune-ffn"):
        CompressConfig(prune_ffn=1.0)


def test_baked_student_gets_vocab_pruning_but_not_more_heads(tiny_student, tmp_path, shared_data):
    from edgemath.compress.run import CompressConfig, run

    base = dict(teacher=tiny_student, data="asdiv-a:0", rounds=1, limit=32, max_steps=2, epochs=1, batch_size=8,
                device="cpu", data_dir=str(shared_data))
    with pytest.raises(ValueError, match="already pruned and baked"):
        run(CompressConfig(**base, out=tmp_path / "a", prune_heads=0.3))
    with pytest.raises(ValueError, match="equal FFN widths"):
        run(CompressConfig(**base, out=tmp_path / "b", prune_heads=0.0, prune_ffn=0.3))
    out = run(CompressConfig(**base, out=tmp_path / "c", prune_heads=0.0, prune_vocab=True))
    m = json.loads((out / "manifest.json").read_text())["metrics"]
    assert m["rounds"] == [] and m["vocab"]["kept"] < 15000  # no training, only the vocabulary
    check = m["vocab"]["check"]  # dev texts with words outside train may be respelled and decode otherwise
    assert 0 < check["respelled"] < 16 and check["identical_where_same_spelling"] == 32 - check["respelled"]
