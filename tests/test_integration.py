"""Real encoder, real data: a few training steps and a reload. Marked `integration`."""
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.integration


def test_real_encoder_trains_a_few_steps(tmp_path):
    from edgemath.checkpoint import load_solver
    from edgemath.data import load_splits
    from edgemath.evaluate import predict
    from edgemath.train import TrainConfig, run

    out = run(TrainConfig(data="mawps:0", out=tmp_path / "real", limit=32, max_steps=4, batch_size=8, device="cpu"))
    solver, tok = load_solver(out)
    assert solver.encoder.config.num_hidden_layers == 6 and solver.encoder.config.hidden_size == 384
    probs = load_splits("mawps:0").dev.problems[:8]
    a = predict(solver, tok, probs)
    b = predict(*load_solver(out), probs)
    assert [p.equation for p in a] == [p.equation for p in b]
