"""Layer dropping: the score finds the layer that does nothing, dropped layers save, reload and
export like any checkpoint, and `compress --drop-layers` bakes a shallower solver."""
import json

import pytest

torch = pytest.importorskip("torch")

TEXTS = ["Tom has 3 apples and buys 5 more. How many apples does he have?",
         "A box holds 12 eggs. How many eggs are in 4 boxes?"]


def _batch(tok):
    from edgemath.features import collate

    return collate([tok.encode(t) for t in TEXTS], tok.pad_id)


def test_the_layer_that_does_nothing_is_dropped(tiny_teacher):
    from edgemath.checkpoint import load_solver
    from edgemath.compress.layers import layer_scores, layers_to_keep

    solver, tok = load_solver(tiny_teacher)
    with torch.no_grad():  # layer 0 adds nothing to the residual stream: LayerNorm(x + 0) of normalised x
        for dense in (solver.encoder.encoder.layer[0].attention.output.dense, solver.encoder.encoder.layer[0].output.dense):
            dense.weight.zero_()
            dense.bias.zero_()
    scores = layer_scores(solver, [_batch(tok)], "cpu")
    assert scores.shape == (2,) and 0 <= scores[0] < scores[1] / 100, scores
    assert layers_to_keep(scores, 1) == [1]
    with pytest.raises(ValueError, match="at least one must stay"):
        layers_to_keep(scores, 2)


def test_dropped_layers_of_a_baked_student_reload_and_match(tiny_student, tmp_path):
    """The baked student has uneven heads and FFN widths per layer: the config's per-layer
    records must follow the surviving layer to its new index."""
    from edgemath.checkpoint import load_solver, save_solver
    from edgemath.encoder_shapes import drop_layers

    solver, tok = load_solver(tiny_student)
    second = solver.encoder.encoder.layer[1]
    heads, width = second.attention.self.num_attention_heads, second.intermediate.dense.out_features
    drop_layers(solver.encoder, [1])
    batch = _batch(tok)
    with torch.no_grad():
        want = solver.encode(batch).last_hidden_state
    save_solver(solver, tok, tmp_path / "one-layer")
    again, _ = load_solver(tmp_path / "one-layer")
    layers = again.encoder.encoder.layer
    assert len(layers) == again.encoder.config.num_hidden_layers == 1
    assert layers[0].attention.self.num_attention_heads == heads and layers[0].intermediate.dense.out_features == width
    with torch.no_grad():
        got = again.encode(batch).last_hidden_state
    assert (got - want).abs().max() < 1e-6


def test_layers_split_over_rounds():
    from edgemath.compress.layers import layers_in_round

    for n in range(5):
        for rounds in range(1, 5):
            per_round = [layers_in_round(n, k, rounds) for k in range(1, rounds + 1)]
            assert sum(per_round) == n and max(per_round) - min(per_round) <= 1


def test_compress_drop_layers_bakes_and_exports(tiny_teacher, tmp_path):
    from edgemath.checkpoint import load_solver
    from edgemath.compress.run import CompressConfig, run
    from edgemath.export.run import ExportConfig, run as export

    base = dict(teacher=tiny_teacher, data="asdiv-a:0", rounds=1, limit=32, max_steps=2, epochs=1, batch_size=8,
                refresh_every=1, device="cpu")
    with pytest.raises(ValueError, match="--drop-layers 2: the teacher has 2 layers"):
        run(CompressConfig(**base, out=tmp_path / "all", drop_layers=2))
    with pytest.raises(ValueError, match="--drop-layers must be >= 0"):
        CompressConfig(drop_layers=-1)
    out = run(CompressConfig(**base, out=tmp_path / "s", drop_layers=1, prune_heads=0.25, prune_ffn=0.25))
    m = json.loads((out / "manifest.json").read_text())["metrics"]
    assert len(m["layers_kept"]) == 1 and m["layers_kept"] == m["rounds"][0]["layers_kept"]
    assert len(m["rounds"][0]["kept_per_layer"]) == 1 and len(m["ffn_widths"]) == 1
    assert m["after"]["params"]["attention"] < m["before"]["params"]["attention"] / 2
    assert m["after"]["flops"] < m["before"]["flops"] / 2
    assert m["bake_check"]["identical_equations"] == m["bake_check"]["problems"] == 32
    solver, _ = load_solver(out)
    assert len(solver.encoder.encoder.layer) == 1

    exp = export(ExportConfig(run=out, out=tmp_path / "onnx", limit=32, int8=True, max_int8_drop=100.0))
    parity = json.loads((exp / "manifest.json").read_text())["parity"]
    assert parity["fp32"]["identical_equations"] == 32 and parity["fp32"]["encoder_max_abs_diff"] < 1e-4


def test_train_encoder_layers_keeps_the_first_layers(tiny_encoder, tmp_path):
    """`train --encoder-layers 1`: the first pretrained layer, as is, in a run that reloads with one layer."""
    from safetensors.torch import load_file

    from edgemath.checkpoint import load_solver
    from edgemath.train import TrainConfig, run

    out = run(TrainConfig(data="asdiv-a:0", out=tmp_path / "t", encoder=str(tiny_encoder), encoder_layers=1,
                          limit=8, max_steps=1, batch_size=8, device="cpu", ema_decay=0))
    solver, _ = load_solver(out)
    assert solver.encoder.config.num_hidden_layers == 1 and len(solver.encoder.encoder.layer) == 1
    src = load_file(str(tiny_encoder / "model.safetensors"))
    # embeddings and layer 0 started from the pretrained ones: one step at lr 8e-5 moves them little
    got = solver.encoder.encoder.layer[0].attention.self.query.weight
    assert (got - src["encoder.layer.0.attention.self.query.weight"]).abs().max() < 1e-2
    assert (got - src["encoder.layer.1.attention.self.query.weight"]).abs().max() > 1e-2
    with pytest.raises(ValueError, match="has only 2 layers"):
        run(TrainConfig(data="asdiv-a:0", out=tmp_path / "u", encoder=str(tiny_encoder), encoder_layers=3,
                        limit=8, max_steps=1, device="cpu"))
    with pytest.raises(ValueError, match="--init keeps the run's own"):
        TrainConfig(data="asdiv-a:0", out=tmp_path / "v", init=str(out), encoder_layers=1)
