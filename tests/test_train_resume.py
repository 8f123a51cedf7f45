"""A teacher run stopped on its time budget and resumed ends exactly where an uninterrupted run ends."""
import json

import pytest

pytest.importorskip("torch")


def _run(tiny_encoder, out, **over):
    from edgemath.train import TrainConfig, run

    settings = dict(data="asdiv-a:0", encoder=str(tiny_encoder), limit=32, epochs=3, batch_size=8, device="cpu")
    return run(TrainConfig(out=out, **{**settings, **over}))


def _decoder(run_dir):
    from safetensors.torch import load_file

    return load_file(str(run_dir / "checkpoint" / "decoder.safetensors"))


def test_stopped_then_resumed_equals_uninterrupted(tiny_encoder, tmp_path):
    import torch

    from edgemath.loop import STATE

    whole = _run(tiny_encoder, tmp_path / "whole")
    want = json.loads((whole / "manifest.json").read_text())["metrics"]

    parts = _run(tiny_encoder, tmp_path / "parts", time_budget=0)  # stops after epoch 1
    assert (parts / STATE).is_file() and (parts / "checkpoint").is_dir()
    assert not (parts / "manifest.json").exists(), "a stopped run must not look finished"

    with pytest.raises(ValueError, match="epochs: '3' now '4'"):
        _run(tiny_encoder, parts, epochs=4, resume=True)

    _run(tiny_encoder, parts, resume=True)
    got = json.loads((parts / "manifest.json").read_text())["metrics"]
    assert not (parts / STATE).exists()
    assert [h["epoch"] for h in got["history"]] == [1, 2, 3]
    for a, b in zip(want["history"], got["history"]):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-6) and a["dev_acc"] == b["dev_acc"]
    assert got["dev_acc"] == want["dev_acc"] and got["best_epoch"] == want["best_epoch"]
    w, g = _decoder(whole), _decoder(parts)
    assert w.keys() == g.keys()
    # not bit-exact: two uninterrupted runs already differ by ~4e-6 (rounding in the pair
    # scorer's reductions; the attention key bias, whose gradient is pure rounding, shows it most)
    assert max((w[k] - g[k]).abs().max().item() for k in w) < 1e-4

    # resuming a finished run trains nothing; other settings are refused
    stamp = (parts / "manifest.json").read_text()
    _run(tiny_encoder, parts, resume=True)
    assert (parts / "manifest.json").read_text() == stamp
    with pytest.raises(ValueError, match="lr"):
        _run(tiny_encoder, parts, resume=True, lr=5e-4)
    assert torch.equal(_decoder(parts)[next(iter(g))], next(iter(g.values())))
    # a fresh run into it is refused: it would replace a finished result
    with pytest.raises(FileExistsError, match="already holds a run .manifest.json, checkpoint"):
        _run(tiny_encoder, parts)
    assert (parts / "manifest.json").read_text() == stamp


def test_time_budget_must_not_be_negative():
    from edgemath.train import TrainConfig

    with pytest.raises(ValueError, match="--time-budget"):
        TrainConfig(time_budget=-1)


def test_a_log_file_gets_progress_lines(tiny_encoder, tmp_path):
    """Without a terminal the live bar shows nothing until the end: steps are logged instead."""
    import io

    from rich.console import Console

    from edgemath.train import TrainConfig, run

    buf = io.StringIO()
    run(TrainConfig(data="asdiv-a:0", out=tmp_path / "t", encoder=str(tiny_encoder), limit=32, epochs=1, batch_size=8,
                    device="cpu"), Console(file=buf, width=200))
    lines = [line for line in buf.getvalue().splitlines() if "s/step" in line]
    assert len(lines) == 4 and "step 4/4" in lines[-1]


def test_init_starts_from_a_finished_run(tiny_encoder, tmp_path):
    """--init carries the solver over (encoder, decoder, constants); with zero learning rates the
    new run must score exactly what the run it started from scored."""
    import torch

    from edgemath.train import TrainConfig

    first = _run(tiny_encoder, tmp_path / "first", epochs=1, const_min_count=1, hidden=48, max_length=96)
    was = json.loads((first / "manifest.json").read_text())
    more = _run(None, tmp_path / "more", encoder=None, init=str(first), epochs=1, lr=0.0, encoder_lr=0.0)
    now = json.loads((more / "manifest.json").read_text())
    assert now["metrics"]["dev_acc"] == was["metrics"]["dev_acc"]
    assert now["config"]["init"] == str(first)
    a, b = _decoder(first), _decoder(more)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    solver = json.loads((more / "checkpoint" / "solver.json").read_text())
    assert solver["constants"] == json.loads((first / "checkpoint" / "solver.json").read_text())["constants"]
    # the manifest describes the model trained (the first run's shape), not the flags' defaults
    assert (now["config"]["hidden"], now["config"]["max_length"]) == (48, 96) == (solver["hidden"], solver["max_length"])
    assert now["config"]["constants"] == solver["constants"] and now["config"]["const_min_count"] is None

    with pytest.raises(ValueError, match="--init takes the encoder"):
        TrainConfig(init=str(first), encoder=str(tiny_encoder))


def test_killed_inside_an_epoch_resumes_at_its_batch(tiny_encoder, tmp_path, kill_after_save):
    """With states saved inside epochs (--save-every 0: after every step) a run killed mid-epoch goes
    on from the batch it had reached and ends where an uninterrupted run ends."""
    whole = _run(tiny_encoder, tmp_path / "whole", epochs=2, batch_size=4)
    want = json.loads((whole / "manifest.json").read_text())["metrics"]

    saved = kill_after_save(6)  # the process is killed right after its 6th save
    with pytest.raises(KeyboardInterrupt):
        _run(tiny_encoder, tmp_path / "parts", epochs=2, batch_size=4, save_every=0)
    assert len(saved) == 6 and saved[-1] is not None and saved[-1]["next"] == 6, "the 6th save is inside epoch 1 (8 batches)"
    assert not (tmp_path / "parts" / "manifest.json").exists()

    _run(tiny_encoder, tmp_path / "parts", epochs=2, batch_size=4, save_every=0, resume=True)
    got = json.loads((tmp_path / "parts" / "manifest.json").read_text())["metrics"]
    assert [h["epoch"] for h in got["history"]] == [1, 2]
    for a, b in zip(want["history"], got["history"]):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-6) and a["dev_acc"] == b["dev_acc"]
    w, g = _decoder(whole), _decoder(tmp_path / "parts")
    assert max((w[k] - g[k]).abs().max().item() for k in w) < 1e-4


def test_save_every_must_not_be_negative():
    from edgemath.train import TrainConfig

    with pytest.raises(ValueError, match="--save-every"):
        TrainConfig(save_every=-1)


def test_a_state_saved_before_a_setting_existed_resumes_while_that_setting_is_off(tmp_path):
    """A new setting (added off by default) must not strand every older saved state; turned on, it must."""
    from edgemath.loop import check_same_settings

    was = {"epochs": 8, "lr": 1e-3}
    check_same_settings(was, {**was, "percent_fraction": False}, tmp_path)
    check_same_settings(was, {**was, "percent_fraction": "False"}, tmp_path)  # settings as train saves them
    with pytest.raises(ValueError, match="percent_fraction: None now True"):
        check_same_settings(was, {**was, "percent_fraction": True}, tmp_path)
    with pytest.raises(ValueError, match="epochs: 8 now 9"):
        check_same_settings(was, {**was, "epochs": 9}, tmp_path)
