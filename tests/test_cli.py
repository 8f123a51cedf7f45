"""The CLI through Typer's runner: help, data inspection, train -> evaluate, clear errors."""
import json

import pytest
from typer.testing import CliRunner

from edgemath.cli import app

runner = CliRunner()


def test_help_lists_verbs():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for verb in ("train", "evaluate", "data"):
        assert verb in res.output


def test_data_command_counts():
    res = runner.invoke(app, ["data", "mawps:0", "--examples", "1"])
    assert res.exit_code == 0, res.output
    assert "1537" in res.output and "384" in res.output
    assert "equation does not reproduce the answer" in res.output


def test_data_unknown_is_a_clear_error():
    res = runner.invoke(app, ["data", "nope"])
    assert res.exit_code == 1 and "unknown dataset" in res.output


def test_evaluate_missing_run_is_a_clear_error(tmp_path):
    res = runner.invoke(app, ["evaluate", str(tmp_path / "none")])
    assert res.exit_code == 1 and "does not exist" in res.output


def test_train_then_evaluate_tiny(tiny_encoder, tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "run"
    res = runner.invoke(app, ["train", "--data", "asdiv-a:0", "--encoder", str(tiny_encoder), "--out", str(out),
                              "--limit", "24", "--max-steps", "3", "--batch-size", "8", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stage"] == "train" and manifest["metrics"]["train_problems"] == 24
    assert all(len(h) == 64 for h in manifest["inputs"].values())
    assert (out / "checkpoint" / "decoder.safetensors").is_file()
    assert not any(p.suffix in (".bin", ".pt", ".pkl") for p in out.rglob("*"))
    res = runner.invoke(app, ["evaluate", str(out), "--data", "asdiv-a:0", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output.strip().splitlines()[-1])
    assert doc["problems"] == 238 and 0 <= doc["accuracy"] <= 1
    ops = set(json.loads((out / "checkpoint" / "solver.json").read_text())["ops"])
    from edgemath.data import load_splits
    needs = [set(p.equation) & {"+", "-", "*", "/", "^"} for p in load_splits("asdiv-a:0").dev.problems]
    assert doc["expressible"] <= sum(n <= ops for n in needs) and doc["expressible"] > 0
    lines = open(doc["predictions"]).read().splitlines()
    assert len(lines) == 238 and "equation" in json.loads(lines[0])
    greedy = open(doc["predictions"]).read()
    res = runner.invoke(app, ["evaluate", str(out), "--data", "asdiv-a:0", "--device", "cpu", "--beam", "1", "--beam", "3"])
    both = [json.loads(line) for line in res.output.strip().splitlines() if line.startswith("{")]
    assert [d["beam"] for d in both] == [1, 3] and both[0]["accuracy"] == doc["accuracy"]
    assert open(both[0]["predictions"]).read() == greedy  # one encoding for both widths changes nothing
    beam = both[1]
    assert beam["predictions"].endswith("-dev-beam3.jsonl") and 0 <= beam["accuracy"] <= 1
    res = runner.invoke(app, ["evaluate", str(out), "--data", "asdiv-a:0", "--beam", "0"])
    assert res.exit_code == 1 and "--beam must be at least 1" in res.output
    res = runner.invoke(app, ["evaluate", str(out), "--beam", "1", "--beam", "3", "--out", str(tmp_path / "p.jsonl")])
    assert res.exit_code == 1 and "--out names one predictions file" in res.output


def test_train_bad_args(tmp_path):
    res = runner.invoke(app, ["train", "--epochs", "0", "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "--epochs must be at least 1" in res.output
    res = runner.invoke(app, ["train", "--hidden", "30", "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "--hidden must be a positive multiple of 4" in res.output
    res = runner.invoke(app, ["train", "--warmup", "1", "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "--warmup must be in [0, 1)" in res.output


def test_lr_factor_warms_up_then_decays_to_zero():
    from edgemath.loop import lr_factor

    f = lr_factor(100, 0.1)  # 10 warm-up steps
    assert [f(s) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert f(10) == pytest.approx(1.0) and f(55) == pytest.approx(0.5) and f(100) == 0.0
    g = lr_factor(100, 0.0)  # no warm-up: the peak rate from the first step
    assert g(0) == 1.0 and g(50) == pytest.approx(50 / 99)


def test_compress_schedule_flags_reach_the_config(tmp_path):
    res = runner.invoke(app, ["compress", "--batch-size", "0", "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "--batch-size must be at least 1" in res.output


def test_demo_end_to_end_tiny(tiny_encoder, tmp_path):
    pytest.importorskip("torch")
    from edgemath.demo import SHOWCASE

    res = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--encoder", str(tiny_encoder),
                              "--limit", "24", "--epochs", "1", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "teacher fp32 vs student int8" in res.output and "shipped models/default" in res.output
    assert f"shipped models/default: {len(SHOWCASE)}/{len(SHOWCASE)} showcase problems right" in res.output
    assert (tmp_path / "demo" / "exports" / "student-int8" / "encoder.onnx").is_file()
