"""`train --percent-fraction`: a percent read as its fraction, in the gold steps, the saved model
and every runtime that reads its numbers (Python, ONNX, JavaScript)."""
import json
import shutil

import pytest

from edgemath.equivalents import percent_as_fraction
from edgemath.runtime.expression import evaluate, parse_prefix, to_prefix
from edgemath.runtime.numbers import extract_numbers

SALE = "A coat costs 80 dollars. It is 25% off. What does it cost now?"


def test_a_percent_reads_as_its_fraction_only_when_asked():
    assert [n.value for n in extract_numbers(SALE)] == [80, 25]
    got = extract_numbers(SALE, percent_fraction=True)
    assert [n.value for n in got] == [80, 0.25] and [n.percent for n in got] == [False, True]
    assert got[1].text == "25%"


@pytest.mark.parametrize("eq,percent,want", [
    ("* n0 - 1 / n1 100", [False, True], "* n0 - 1 n1"),     # the /100 step is gone
    ("/ n1 100", [False, False], "/ n1 100"),                 # not a percent: kept
    ("+ n0 n1", [False, True], "+ n0 * n1 100"),             # the percent's value as written
    ("/ / n1 100 2", [False, True], "/ n1 2"),
])
def test_percent_as_fraction_keeps_the_value(eq, percent, want):
    got = percent_as_fraction(parse_prefix(eq), percent)
    assert " ".join(to_prefix(got)) == want
    raw = [80.0, 25.0]
    read = [x / 100 if p else x for x, p in zip(raw, percent)]
    assert evaluate(got, read) == pytest.approx(evaluate(parse_prefix(eq), raw))


@pytest.fixture(scope="module")
def sale_data(tmp_path_factory):
    """Percent problems in the canonical JSONL layout (train and dev)."""
    root = tmp_path_factory.mktemp("sales")
    rows = [{"text": f"A coat costs {p} dollars. It is {q}% off. What does it cost now?",
             "equation": "* n0 - 1 / n1 100", "answer": p * (1 - q / 100)}
            for p in (40, 60, 80, 120) for q in (10, 20, 25, 50)]
    for split in ("train", "dev"):
        (root / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_train_records_the_reading_and_teaches_the_shorter_steps(tiny_encoder, tiny_teacher, sale_data, tmp_path):
    from edgemath.checkpoint import load_vocab
    from edgemath.compress.vocab import remap_tokenizer
    from edgemath.data import load_splits
    from edgemath.features import make_examples
    from edgemath.model import DecoderConfig
    from edgemath.runtime.tokenize import ProblemTokenizer
    from edgemath.train import TrainConfig, run

    out = run(TrainConfig(data=str(sale_data), out=tmp_path / "pf", encoder=str(tiny_encoder), max_steps=2,
                          epochs=1, hidden=16, percent_fraction=True))
    assert json.loads((out / "checkpoint" / "solver.json").read_text())["percent_fraction"] is True
    assert json.loads((out / "manifest.json").read_text())["config"]["percent_fraction"] is True
    cfg, tok = load_vocab(out / "checkpoint")
    assert cfg.percent_fraction and tok.percent_fraction and cfg.constants == ["1"]  # no 100 left to learn
    assert remap_tokenizer(tok, list(range(tok.tok.get_vocab_size()))).percent_fraction  # compress's vocabulary cut
    problems = load_splits(str(sale_data)).train.problems
    examples, skipped = make_examples(problems, tok, cfg)
    assert not skipped and {len(steps) for _, steps in examples} == {2}  # 1 - n1, then n0 * that
    plain = make_examples(problems, ProblemTokenizer(tok.tok), DecoderConfig(constants=["1", "100"]))[0]
    assert {len(steps) for _, steps in plain} == {3}

    with pytest.raises(ValueError, match="give the student the teacher's --percent-fraction"):
        run(TrainConfig(data=str(sale_data), out=tmp_path / "kd", encoder=str(tiny_encoder), max_steps=2, epochs=1,
                        hidden=16, percent_fraction=True, teacher=str(tiny_teacher)))
    with pytest.raises(ValueError, match="reads a percent as written"):
        run(TrainConfig(data=str(sale_data), out=tmp_path / "init", init=str(tiny_teacher), max_steps=2, epochs=1,
                        percent_fraction=True))


def _with_percent_fraction(model, dest):
    shutil.copytree(model, dest)
    meta = json.loads((dest / "solver.json").read_text())
    (dest / "solver.json").write_text(json.dumps({**meta, "percent_fraction": True}))
    return dest


def test_the_onnx_runtime_reads_numbers_as_the_model_says(tmp_path):
    from edgemath.runtime.solver import OnnxSolver, default_model_dir

    plain = OnnxSolver(default_model_dir(), threads=1)
    assert [n.value for n in plain.tok.encode(SALE).numbers] == [80, 25]
    pf = OnnxSolver(_with_percent_fraction(default_model_dir(), tmp_path / "pf"), threads=1)
    assert [n.value for n in pf.tok.encode(SALE).numbers] == [80, 0.25]


def test_javascript_reads_numbers_as_the_model_says(tmp_path):
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: the JavaScript runtime cannot run")
    from edgemath.runtime.solver import default_model_dir
    from edgemath.web import parity

    model = _with_percent_fraction(default_model_dir(), tmp_path / "pf")
    items = [("sale", SALE), ("two", "Save 12.5% on 3 items, then 40% more.")]
    res = parity(model, items, tokens_only=True)
    assert res["numbers_equal"] == len(items), res["number_mismatches"]
