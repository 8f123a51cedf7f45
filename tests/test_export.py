"""Export: parity with PyTorch (teacher and a baked student with uneven heads), fusion checked,
int8 accuracy guarded, third-party loading, clear errors."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edgemath.export.check import ParityError
from edgemath.export.run import ExportConfig, run as export


@pytest.fixture(scope="module")
def teacher_export(tiny_teacher, tmp_path_factory):
    return export(ExportConfig(run=tiny_teacher, out=tmp_path_factory.mktemp("exp") / "fp32", limit=40))


def test_fp32_parity_and_contents(teacher_export):
    files = sorted(p.name for p in teacher_export.iterdir())
    assert files == ["config.json", "encoder.onnx", "manifest.json", "quantities.onnx", "solver.json",
                     "step.onnx", "tokenizer.json"]
    m = json.loads((teacher_export / "manifest.json").read_text())
    assert m["precision"] == "fp32" and m["opset"] == 17
    assert m["parity"]["fp32"]["encoder_max_abs_diff"] < 1e-4
    assert m["parity"]["fp32"]["identical_equations"] == m["parity"]["fp32"]["problems"] == 40


def test_student_with_uneven_heads_exports_fused_and_int8(tiny_student, tmp_path):
    out = export(ExportConfig(run=tiny_student, out=tmp_path / "s", limit=40, optimize=True, int8=True,
                              max_int8_drop=100.0))
    m = json.loads((out / "manifest.json").read_text())
    assert m["parity"]["fused"]["identical_equations"] == 40
    assert m["parity"]["fused"]["encoder_max_abs_diff"] < 1e-4
    assert m["precision"] == "int8" and "drop_points" in m["parity"]["int8"]
    # the step graph's pair scorer keeps fp32 activations (int8 weights); its other products stay int8
    import onnx

    nodes = onnx.load(str(out / "step.onnx")).graph.node
    assert m["parity"]["int8_fp32_step_activations"] == "/pairs/"
    assert not [n for n in nodes if n.op_type == "MatMulInteger" and "/pairs/" in n.name]
    assert [n for n in nodes if n.op_type == "MatMulInteger" and "/stop/" in n.name]
    fp32 = [n for n in nodes if n.op_type == "MatMul" and "/pairs/" in n.output[0]]
    assert fp32 and all(i.endswith("/0c") for n in fp32 for i in n.input[:1])  # fed x / scale, not rounded x


def test_int8_drop_threshold_fails_loudly(tiny_teacher, tmp_path, monkeypatch):
    import edgemath.export.run as er

    real = er._accuracy
    calls = []

    def worse_after_quantization(sess, problems):  # the second measurement is the int8 one
        calls.append(1)
        return real(sess, problems) - (0.5 if len(calls) > 1 else 0.0)

    monkeypatch.setattr(er, "_accuracy", worse_after_quantization)
    with pytest.raises(ParityError, match="int8 loses"):
        export(ExportConfig(run=tiny_teacher, out=tmp_path / "q", limit=10, int8=True, max_int8_drop=1.0))
    assert not (tmp_path / "q").exists()


def test_encoder_loads_in_plain_onnxruntime_and_optimum(teacher_export, tiny_teacher):
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from edgemath.checkpoint import load_solver

    tok = Tokenizer.from_file(str(teacher_export / "tokenizer.json"))
    tok.no_padding()
    enc = tok.encode("Tom has 3 apples and buys 5 more.")
    ids = np.array([enc.ids], dtype=np.int64)
    sess = ort.InferenceSession(str(teacher_export / "encoder.onnx"))
    assert [i.name for i in sess.get_inputs()] == ["input_ids", "attention_mask"]
    out = sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]
    solver, _ = load_solver(tiny_teacher)
    with torch.no_grad():
        ref = solver.encoder(input_ids=torch.from_numpy(ids)).last_hidden_state.numpy()
    assert np.abs(out - ref).max() < 1e-4
    from optimum.onnxruntime import ORTModelForFeatureExtraction

    model = ORTModelForFeatureExtraction.from_pretrained(teacher_export, file_name="encoder.onnx")
    got = model(input_ids=torch.from_numpy(ids), attention_mask=torch.ones_like(torch.from_numpy(ids)))
    assert np.abs(got.last_hidden_state.numpy() - ref).max() < 1e-4


def test_clear_errors(tmp_path, tiny_teacher):
    from edgemath.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="does not exist"):
        export(ExportConfig(run=tmp_path / "missing", out=tmp_path / "o"))
    (tmp_path / "notarun").mkdir()
    (tmp_path / "notarun" / "model.bin").write_bytes(b"\\x00junk")
    with pytest.raises(CheckpointError, match="not a solver run"):
        export(ExportConfig(run=tmp_path / "notarun", out=tmp_path / "o"))
    with pytest.raises(ValueError, match="opset 9 is not supported"):
        ExportConfig(run=tiny_teacher, out=tmp_path / "o", opset=9)


def test_static_int8_with_calibration(tiny_teacher, tmp_path):
    out = export(ExportConfig(run=tiny_teacher, out=tmp_path / "st", limit=10, int8=True, static=True,
                              max_int8_drop=100.0))
    m = json.loads((out / "manifest.json").read_text())
    assert m["precision"] == "int8-static"
    assert m["graph_bytes"]["encoder.onnx"] < 0.5 * (tiny_teacher / "checkpoint" / "encoder" / "model.safetensors").stat().st_size
    with pytest.raises(ValueError, match="--static needs --int8"):
        ExportConfig(run=tiny_teacher, out=tmp_path / "x", static=True)


def test_a_wrong_fusion_is_caught(tiny_student, tmp_path, monkeypatch):
    """A fused graph that computes something else must fail the export, not ship."""
    import onnx
    from onnx import numpy_helper

    import edgemath.export.run as er

    real = er.optimize_encoder

    def fuse_wrongly(path):
        stats = real(path)
        model = onnx.load(str(path))
        init = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)) if len(t.dims) == 2 else 0)
        w = numpy_helper.to_array(init).copy()
        w[:, : w.shape[1] // 4] *= 1.5  # like a head-count mix-up: part of a projection scaled
        init.CopyFrom(numpy_helper.from_array(w, init.name))
        onnx.save(model, str(path))
        return stats

    monkeypatch.setattr(er, "optimize_encoder", fuse_wrongly)
    with pytest.raises(ParityError, match="wrong fusion"):
        export(ExportConfig(run=tiny_student, out=tmp_path / "f", limit=10, optimize=True))
    assert not (tmp_path / "f").exists()


def test_step_layers_export_with_parity(tiny_encoder, tmp_path):
    """A solver with step layers: the step graph carries them, so the ONNX runtimes rescore every
    pair after each result as PyTorch does (same equations), fp32 and int8."""
    import onnx

    from edgemath.runtime.solver import OnnxSolver
    from edgemath.train import TrainConfig, run

    trained = run(TrainConfig(data="asdiv-a:0", out=tmp_path / "run", encoder=str(tiny_encoder), limit=32, max_steps=4,
                              batch_size=8, device="cpu", step_layers=1))
    out = export(ExportConfig(run=trained, out=tmp_path / "fp32", limit=40))
    m = json.loads((out / "manifest.json").read_text())
    assert m["parity"]["fp32"]["identical_equations"] == m["parity"]["fp32"]["problems"] == 40
    assert json.loads((out / "solver.json").read_text())["step_layers"] == 1
    names = {n.op_type for n in onnx.load(str(out / "step.onnx")).graph.node}
    assert "Softmax" in names  # the step layer's attention is in the graph
    assert OnnxSolver(out).solve_one("Tom has 3 apples and buys 5 more. How many now?").equation
    q8 = export(ExportConfig(run=trained, out=tmp_path / "int8", limit=40, int8=True, max_int8_drop=100.0))
    assert json.loads((q8 / "manifest.json").read_text())["precision"] == "int8"
