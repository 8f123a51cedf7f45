"""`edgemath report` on a tiny encoder: every stage runs once, then everything is reused."""
import json
import re
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")


def test_report_runs_then_reuses(tiny_encoder, tmp_path):
    from edgemath.report import ReportConfig, build

    cfg = ReportConfig(data="asdiv-a", folds=[0], ratios=[0.0, 0.5], out=tmp_path / "report", runs=tmp_path / "runs",
                       epochs=1, compress_epochs=1, alphas=[1.0], bench_problems=3, device="cpu",
                       encoder=str(tiny_encoder), limit=16, max_steps=2)
    out = build(cfg)
    doc = json.loads((out / "results.json").read_text())
    assert not any(e["reused"] for e in doc["log"])
    cells = doc["cells"]["0"]
    assert set(cells) == {"0.0", "0.5"}
    assert sum(cells["0.5"]["heads_per_layer"]) == 4 and cells["0.0"]["heads_per_layer"] == [4, 4]
    assert cells["0.5"]["params"]["attention"] < cells["0.0"]["params"]["attention"]
    text = (out / "README.md").read_text()
    assert "| 0.5 | 1 |" in text and "alpha 1" in text and "Against the paper" in text
    budget = doc["equal_budget"]["0"]  # the teacher given the student's epochs too
    assert budget["epochs"] == 1 and Path(budget["run"]).name == "teacher-plus1"
    assert json.loads((Path(budget["run"]) / "manifest.json").read_text())["config"]["init"] == cells["0.0"]["run"]
    assert set(budget["students"]) == {"0.5"} and budget["teacher"] == cells["0.0"]["accuracy"]
    assert "## At an equal training budget" in text and "| teacher +1 | 1 |" in text
    for png in ("accuracy_vs_ratio.png", "latency_vs_ratio.png", "accuracy_vs_latency.png", "heads_per_layer.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    again = json.loads((build(cfg) / "results.json").read_text())
    assert all(e["reused"] for e in again["log"])  # teacher, students, exports and bench all found
    assert again["cells"]["0"]["0.5"]["accuracy"] == cells["0.5"]["accuracy"]
    # an export made with other graph settings (an older default) is remade, and the bench with it
    stale = Path(cells["0.5"]["run"]) / "export-int8" / "manifest.json"
    doc_ = json.loads(stale.read_text())
    doc_["config"]["int8_fp32_step"] = None
    stale.write_text(json.dumps(doc_))
    remade = json.loads((build(cfg) / "results.json").read_text())
    assert [e["path"] for e in remade["log"] if not e["reused"]] == [str(stale.parent), str(out / "bench-fold0.json")]
    assert json.loads(stale.read_text())["parity"]["int8_fp32_step_activations"] == "/pairs/"
    # heads + FFN students: the teacher is found again, the student is new and smaller
    from dataclasses import replace

    ffn = json.loads((build(replace(cfg, ratios=[0.0, 0.5], alphas=[], prune_ffn=0.5)) / "results.json").read_text())
    made = [e for e in ffn["log"] if not e["reused"]]
    assert [e["what"] for e in made if e["what"].startswith(("teacher", "student"))] == ["student asdiv-a:0 heads0.5-a0-r1-ffn0.5"]
    assert ffn["cells"]["0"]["0.5"]["params"]["ffn"] < cells["0.5"]["params"]["ffn"]
    assert "--prune-ffn 0.5" in (out / "README.md").read_text()
    # another teacher schedule: its runs go beside the finished ones of the same names, which stay as they were
    longer = json.loads((build(replace(cfg, epochs=2, alphas=[])) / "results.json").read_text())
    assert Path(longer["cells"]["0"]["0.0"]["run"]).name == "teacher-2"
    assert Path(longer["equal_budget"]["0"]["run"]).name == "teacher-plus1-2"
    assert json.loads((Path(budget["run"]) / "manifest.json").read_text())["config"]["init"] == cells["0.0"]["run"]


def test_report_cli_rejects_bad_lists(tmp_path):
    from typer.testing import CliRunner

    from edgemath.cli import app

    res = CliRunner().invoke(app, ["report", "--folds", "zero", "--out", str(tmp_path)])
    assert res.exit_code == 1 and "--folds" in res.output
    res = CliRunner().invoke(app, ["report", "--data", "asdiv-a:0", "--out", str(tmp_path)])
    assert res.exit_code == 1 and "without a fold" in res.output


def test_report_on_math23k_scores_the_test_split(tiny_encoder, tmp_path, shared_data):
    from edgemath.report import ReportConfig, build

    cfg = ReportConfig(data="math23k", folds=[0], ratios=[0.0, 0.5], out=tmp_path / "report", runs=tmp_path / "runs",
                       epochs=1, compress_epochs=1, bench_problems=2, device="cpu", encoder=str(tiny_encoder),
                       limit=16, max_steps=2, data_dir=str(shared_data), encoder_layers=1, const_min_count=3,
                       percent_fraction=True, no_distill=True, step_layers=1)
    doc = json.loads((build(cfg) / "results.json").read_text())
    assert doc["held_out"]["0"] == {"split": "test", "problems": 1000}
    teacher = json.loads((tmp_path / "runs" / "report" / "math23k" / "teacher" / "manifest.json").read_text())
    assert (teacher["config"]["encoder_layers"], teacher["config"]["const_min_count"], teacher["config"]["step_layers"]) == (1, 3, 1)
    metas = sorted((tmp_path / "runs").glob("**/solver.json"))  # teacher, students, their exports
    assert len(metas) >= 4 and all(json.loads(m.read_text())["percent_fraction"] for m in metas), metas
    assert all(json.loads(m.read_text())["step_layers"] == 1 for m in metas)  # students inherit the decoder
    bench = json.loads((tmp_path / "report" / "bench-fold0.json").read_text())
    by_dir = {r["dir"]: r["accuracy"] for r in bench["rows"].values()}
    for row in doc["cells"]["0"].values():  # fp32 accuracy is the export's, on the 1000 test problems
        assert row["accuracy"] == by_dir[str(Path(row["run"]) / "export-fp32")]
    for r in bench["rows"].values():  # the per-problem marks behind each accuracy
        assert len(r["correct"]) == 1000 and r["correct"].count("1") / 1000 == pytest.approx(r["accuracy"])
    text = (tmp_path / "report" / "README.md").read_text()
    assert "Scored on the test split" in text and "On 1000 test problems one problem is 0.10 points" in text
    assert "On one split Δ carries its 95% paired bootstrap interval" in text
    assert re.search(r"\| 0\.5 \| 1 \| [\d.]+ \| -?[\d.]+ \([+-][\d.]+ \.\. [+-][\d.]+\) \|", text), text
    assert "the difference carries its 95% paired bootstrap interval" in text  # distilled against not, paired too
    assert "--encoder-layers 1 --const-min-count 3 --step-layers 1 --percent-fraction" in text
    plain = doc["no_distill"]["0"]["0.5"]  # the same pruning trained on the task loss alone
    kd = doc["cells"]["0"]["0.5"]
    assert plain["run"] != kd["run"] and plain["heads_per_layer"] == kd["heads_per_layer"]
    made = json.loads((Path(plain["run"]) / "manifest.json").read_text())["config"]
    assert made["distill"] is False and made["epochs"] == 1 and made["prune_heads"] == 0.5
    assert plain["accuracy"] == by_dir[str(Path(plain["run"]) / "export-fp32")]
    assert "## With and without distillation" in text and "| 0.5 | 1 |" in text.split("## With and without")[1]
    assert "--no-distill" in text


def test_report_refuses_folds_where_there_are_none(tmp_path):
    from typer.testing import CliRunner

    from edgemath.cli import app

    res = CliRunner().invoke(app, ["report", "--data", "math23k", "--folds", "0-4", "--out", str(tmp_path)])
    assert res.exit_code == 1 and "has no folds" in res.output


def test_report_init_reuses_a_train_init_run(tiny_encoder, tmp_path):
    """--init (the "+GSM8K" protocol): the teacher is what `edgemath train --init RUN` makes, and a
    run made that way outside any report is found rather than trained again."""
    from edgemath.report import ReportConfig, build
    from edgemath.train import TrainConfig, run

    small = dict(data="asdiv-a:0", epochs=1, limit=16, max_steps=2, device="cpu")
    start = run(TrainConfig(out=tmp_path / "runs" / "start", encoder=str(tiny_encoder), **small))
    screened = run(TrainConfig(out=tmp_path / "runs" / "screen" / "init-f0", init=str(start), **small))
    cfg = ReportConfig(folds=[0], ratios=[0.0], out=tmp_path / "report", runs=tmp_path / "runs", epochs=1,
                       bench_problems=3, device="cpu", init=str(start), limit=16, max_steps=2)
    doc = json.loads((build(cfg) / "results.json").read_text())
    teacher = next(e for e in doc["log"] if e["what"].startswith("teacher"))
    assert teacher["reused"] and teacher["path"] == str(screened)
    assert f"--init {start}" in (tmp_path / "report" / "README.md").read_text()
    with pytest.raises(ValueError, match="drop --encoder"):
        ReportConfig(init=str(start), encoder=str(tiny_encoder))


def test_paper_comparison_marks_each_claim_with_the_encoders_attention_share():
    from edgemath.report_write import aggregate, paper_comparison

    def cell(acc, ms, total, attention, flops):
        return {"accuracy": acc, "int8_accuracy": acc, "fp32_ms": ms, "int8_ms": ms / 2, "flops": flops, "int8_bytes": 1,
                "heads_per_layer": None, "params": {"total": total, "attention": attention, "ffn": 30, "embeddings": 30}}

    # teacher 100 parameters, 40 of them attention; the student loses 0.5 points, runs 1.3x faster,
    # keeps 88 parameters and 85% of the FLOPs: accuracy and speed hold, parameters and FLOPs do not
    cells = {0: {0.0: cell(0.800, 13.0, 100, 40, 1.0), 0.3: cell(0.795, 10.0, 88, 28, 0.85)}}
    text = "\n".join(paper_comparison(aggregate(cells)))
    assert "| accuracy (points) | -0.70 | -0.50 | holds |" in text
    assert "| speed, fp32 encoder | +27.5% | +30.0% | holds |" in text
    assert "| parameters | -18.7% | -12.0% | does not hold |" in text
    assert "| FLOPs | -19.3% | -15.0% | does not hold |" in text
    assert "attention is 40.0% of its parameters" in text and "at most 12.0%" in text and "at least 62%" in text
