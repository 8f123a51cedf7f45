"""A from-scratch character encoder for Math23k: the tokenizer reads Chinese, training runs."""
import json

import pytest

pytest.importorskip("torch")


def test_scratch_encoder_reads_chinese_and_trains(tmp_path, shared_data):
    from edgemath.checkpoint import load_solver
    from edgemath.data import load_splits
    from edgemath.evaluate import predict
    from edgemath.runtime.tokenize import ProblemTokenizer
    from edgemath.scratch import ScratchConfig, build
    from edgemath.train import TrainConfig, run

    enc = build(ScratchConfig(out=tmp_path / "enc", layers=1, hidden=32, heads=2, vocab_size=3000,
                              data_dir=str(shared_data)))
    stats = json.loads((enc / "manifest.json").read_text())["metrics"]
    assert 1000 < stats["vocab"] <= 3000 and stats["unk_rate_train"] < 0.01
    tok = ProblemTokenizer.from_file(enc / "tokenizer.json")
    e = tok.encode("小明有3个苹果，又买了12个，现在有多少个苹果？")
    assert tok.tok.token_to_id("[UNK]") not in e.ids
    assert [n.value for n in e.numbers] == [3.0, 12.0] and all(s != (0, 0) for s in e.spans)
    out = run(TrainConfig(data="math23k", out=tmp_path / "t", encoder=str(enc), limit=16, max_steps=2, batch_size=8,
                          device="cpu", data_dir=str(shared_data)))
    solver, tok = load_solver(out)
    test = load_splits("math23k", str(shared_data)).test.problems[:8]
    preds = predict(solver, tok, test)
    assert len(preds) == 8

    # export (parity on Chinese dev texts is checked inside) and solve from the command line
    from typer.testing import CliRunner

    from edgemath.cli import app
    from edgemath.export.run import ExportConfig, run as export

    onnx = export(ExportConfig(run=out, out=tmp_path / "onnx", limit=16, data_dir=str(shared_data)))
    res = CliRunner().invoke(app, ["solve", "--model", str(onnx), "--json", test[0].text])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout.splitlines()[0])
    assert got["equation"] and got["equation"] == preds[0].infix and got["answer"] == pytest.approx(preds[0].answer)


def test_scratch_encoder_bad_shape():
    from edgemath.scratch import ScratchConfig

    with pytest.raises(ValueError, match="multiple of --heads"):
        ScratchConfig(hidden=30, heads=4)
