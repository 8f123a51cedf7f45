"""The on-device runtime: no torch, every bad input reported per line, latency report."""
import json
import os
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from edgemath.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tiny_teacher, tmp_path_factory):
    pytest.importorskip("torch")
    from edgemath.export.run import ExportConfig, run

    return run(ExportConfig(run=tiny_teacher, out=tmp_path_factory.mktemp("rt") / "model", limit=8))


@pytest.fixture
def no_torch_env(tmp_path) -> dict:
    """Environment for a subprocess where importing torch, transformers or optimum raises."""
    blocker = tmp_path / "block"
    blocker.mkdir()
    for name in ("torch", "transformers", "optimum"):
        (blocker / f"{name}.py").write_text(f"raise ImportError('{name} is blocked in this test')\n")
    return {**os.environ, "PYTHONPATH": f"{blocker}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def test_runtime_solves_without_torch(model_dir, no_torch_env):
    """A subprocess where importing torch or transformers raises."""
    code = textwrap.dedent(f"""
        import edgemath.runtime.solver as rs
        s = rs.OnnxSolver({str(model_dir)!r}, threads=1)
        sol = s.solve_one("Tom has 3 apples and buys 5 more. How many apples does he have?")
        assert sol.error is None and sol.answer is not None, sol
        import sys
        assert "torch" not in sys.modules or sys.modules["torch"] is None
        print("ok", sol.equation)
    """)
    env = no_torch_env
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ok")
    res = subprocess.run([sys.executable, "-m", "edgemath.cli", "solve", "Tom has 3 apples and 5 pears.",
                          "--model", str(model_dir)], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert "=" in res.stdout


def test_solve_batch_reports_every_bad_line(model_dir, tmp_path):
    f = tmp_path / "in.jsonl"
    long_text = "Tom has 3 apples. " + "and then some more words " * 200 + "He buys 5."
    f.write_bytes(b"\n".join([
        json.dumps({"id": "ok", "text": "Tom has 3 apples and buys 5 more."}).encode(),
        json.dumps({"id": "empty", "text": ""}).encode(),
        json.dumps({"id": "nonum", "text": "Tom has apples."}).encode(),
        b"{this is not json",
        json.dumps({"id": "bytes", "text": "x"}).encode()[:-2] + b'\xff\xfe"}',
        json.dumps({"id": "long", "text": long_text}).encode(),
        json.dumps({"id": "many", "text": " ".join(str(i) for i in range(1, 60)) + " apples"}).encode(),
    ]))
    res = runner.invoke(app, ["solve", "--file", str(f), "--model", str(model_dir), "--json"])
    assert res.exit_code == 2  # some lines failed
    rows = [json.loads(l) for l in res.stdout.strip().splitlines()]
    assert len(rows) == 7
    by = {r["id"]: r for r in rows}
    assert by["ok"]["error"] is None and by["ok"]["answer"] is not None
    assert by["empty"]["error"] == "empty text"
    assert by["nonum"]["error"] == "no numbers in the text"
    assert "malformed JSONL" in by["4"]["error"]
    assert "undecodable bytes" in by["bytes"]["error"]
    assert by["long"]["error"] is None
    assert "more numbers" in by["many"]["error"]
    assert "truncated" in res.stderr


def test_solve_csv_and_stdin(model_dir, tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("id,Question\na,Tom has 3 apples and buys 5 more.\nb,Sam has 2 pens and 4 more.\n")
    res = runner.invoke(app, ["solve", "--file", str(f), "--model", str(model_dir)])
    assert res.exit_code == 0, res.output
    assert res.stdout.count("=") == 2 and "p50" in res.stderr
    res = runner.invoke(app, ["solve", "--file", "-", "--model", str(model_dir), "--json"],
                        input='{"text": "Ann has 4 cats and 2 dogs."}\n')
    assert res.exit_code == 0 and json.loads(res.stdout)["error"] is None


def test_missing_and_corrupt_model(tmp_path, model_dir):
    res = runner.invoke(app, ["solve", "Tom has 3 apples.", "--model", str(tmp_path / "none")])
    assert res.exit_code == 1 and "does not exist" in res.stderr
    bad = tmp_path / "bad"
    bad.mkdir()
    for p in model_dir.iterdir():
        (bad / p.name).write_bytes(p.read_bytes())
    (bad / "encoder.onnx").write_bytes(b"not an onnx file")
    res = runner.invoke(app, ["solve", "Tom has 3 apples.", "--model", str(bad)])
    assert res.exit_code == 1 and "cannot load the ONNX graphs" in res.stderr
    (bad / "step.onnx").unlink()
    res = runner.invoke(app, ["solve", "Tom has 3 apples.", "--model", str(bad)])
    assert res.exit_code == 1 and "missing step.onnx" in res.stderr


def test_bench_quick_side_by_side(tiny_teacher, tiny_student, model_dir, tmp_path):
    from edgemath.export.run import ExportConfig, run

    student = run(ExportConfig(run=tiny_student, out=tmp_path / "student-int8", limit=8, int8=True, max_int8_drop=100))
    out = tmp_path / "bench.json"
    res = runner.invoke(app, ["bench", str(model_dir), str(student), "--teacher", str(tiny_teacher), "--quick",
                              "--threads", "1", "--out", str(out), "--work", str(tmp_path / "work")])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    rows = doc["rows"]
    assert set(rows) == {"pytorch-fp32 teacher", "optimum-fp32 teacher", "optimum-int8 teacher", "model", "student-int8"}
    assert rows["pytorch-fp32 teacher"]["encoder_vs_pytorch"] == 1.0 == rows["model"]["encoder_vs_first_export"]
    assert "encoder vs first export" in res.output
    for r in rows.values():
        assert r["encoder_t1"]["p50_ms"] > 0 and 0 <= r["accuracy"] <= 1 and r["throughput_b32_per_s"] > 0
    # optimum's encoder is the same function as ours: same accuracy in fp32
    assert rows["optimum-fp32 teacher"]["accuracy"] == rows["model"]["accuracy"]


def test_bench_beam_columns_match_pytorch_beam(tiny_teacher, model_dir, tmp_path):
    from edgemath.checkpoint import load_solver
    from edgemath.data import load_splits
    from edgemath.evaluate import accuracy, predict

    out = tmp_path / "bench.json"
    res = runner.invoke(app, ["bench", str(model_dir), "--quick", "--threads", "1", "--beam", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    row = json.loads(out.read_text())["rows"]["model"]
    assert row["solve_t1_beam3"]["p50_ms"] > 0 and "beam 3: accuracy" in res.output
    solver, tok = load_solver(tiny_teacher)
    dev = load_splits("asdiv-a:0").dev.problems[:40]  # --quick scores 40
    assert row["accuracy_beam3"] == pytest.approx(accuracy(predict(solver, tok, dev, beam=3)))
    res = runner.invoke(app, ["bench", str(model_dir), "--quick", "--beam", "0", "--out", str(out)])
    assert res.exit_code == 1 and "--beam must be at least 1" in res.output


def test_shipped_default_model_solves_the_readme_problem(no_torch_env):
    """`edgemath solve` without --model uses models/default, with torch unimportable."""
    from edgemath.cli import default_model

    if not (default_model() / "manifest.json").is_file():
        pytest.skip("models/default is not in this checkout")
    res = subprocess.run([sys.executable, "-m", "edgemath.cli", "solve", "--json", "--threads", "1",
                          "Tom has 3 apples and buys 5 more. How many apples does he have?"],
                         capture_output=True, text=True, env=no_torch_env)
    assert res.returncode == 0, res.stderr
    row = json.loads(res.stdout.splitlines()[0])
    assert row["answer"] == 8 and row["error"] is None
    size = sum(p.stat().st_size for p in default_model().glob("*.onnx"))
    assert size < 6.5e6, f"the shipped model grew to {size / 1e6:.1f} MB (5.9 MB shipped)"


def test_bench_variants_take_turns():
    """Every problem is timed for every variant, and who goes first rotates, so drift is shared."""
    from edgemath.bench import _time_interleaved

    calls = []
    variants = {k: (lambda x, k=k: calls.append((k, x)), list(range(8))) for k in "abc"}
    stats = _time_interleaved(variants, repeats=3)
    assert set(stats) == set("abc") and all(s["p50_ms"] >= 0 for s in stats.values())
    timed = calls[15:]  # after 5 warm-up calls per variant
    assert len(timed) == 8 * 3 * 3
    rounds = [timed[i:i + 3] for i in range(0, len(timed), 3)]
    assert all(sorted(k for k, _ in r) == list("abc") and len({x for _, x in r}) == 1 for r in rounds)
    firsts = [r[0][0] for r in rounds]
    assert {k: firsts.count(k) for k in "abc"} == {"a": 8, "b": 8, "c": 8}
    with pytest.raises(ValueError, match="different numbers of inputs"):
        _time_interleaved({"a": (len, [1, 2]), "b": (len, [1])}, repeats=1)


def test_runtime_computes_int8_products_exactly():
    """The shipped int8 encoder in OnnxSolver agrees with onnx's reference evaluator (exact integer
    MatMulInteger). On x86 without VNNI onnxruntime's default kernel saturates and is 0.2-0.4 off
    there; the runtime asks for the exact kernel (session.x64quantprecision)."""
    pytest.importorskip("onnx")
    from edgemath.demo import SHOWCASE, TWO_STEP
    from edgemath.runtime.solver import OnnxSolver, default_model_dir
    from edgemath.web import reference_diffs

    solver = OnnxSolver(default_model_dir(), threads=1)
    diffs = reference_diffs(default_model_dir(), solver.sessions["encoder.onnx"], [t for t, _ in SHOWCASE + TWO_STEP])
    # exact on most texts; a few move a quantization step (reference_diffs); saturation moves all
    assert sum(d < 1e-4 for d in diffs) > len(diffs) / 2, diffs
