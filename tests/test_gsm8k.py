"""GSM8K conversion: calculator annotations -> one prefix equation over the question's numbers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgemath import gsm8k
from edgemath.data import DataError, load_splits
from edgemath.gsm8k import MAX_OPS, convert, read_gsm8k
from edgemath.runtime.expression import answers_match, evaluate, is_slot, parse_prefix
from edgemath.runtime.numbers import extract_numbers

NATALIA = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
           "How many clips did Natalia sell altogether in April and May?",
           "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
           "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72")


def test_chained_steps_become_one_tree():
    cv = convert(*NATALIA)
    assert cv.reason is None
    assert cv.equation == ["+", "n0", "/", "n0", "2"]  # the 24 of step 2 is step 1's tree
    assert cv.constants == ("2",) and cv.words == ("2",)  # "half"
    assert (cv.steps, cv.ops) == (2, 2)


def test_a_result_used_twice_is_written_out_twice_and_the_latest_wins():
    q = "A box holds 3 red and 4 blue pens. Tom buys 5 boxes. How many pens?"
    a = "<<3+4=7>>7 per box. <<7*5=35>>35 pens. <<35-0=35>>35. <<35+35=70>>70 counting twice. #### 70"
    cv = convert(q, a)
    # 35 is the result of steps 2 and 3; the most recent (35-0) is taken
    assert cv.equation == ["+", "-", "*", "+", "n0", "n1", "n2", "0", "-", "*", "+", "n0", "n1", "n2", "0"]
    assert cv.ops == 7 and cv.constants == ("0", "0")


def test_a_literal_not_in_the_text_is_a_constant():
    q = "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?"
    a = "12/60 = $<<12/60=0.2>>0.2 per minute.\n0.2 x 50 = $<<0.2*50=10>>10.\n#### 10"
    cv = convert(q, a)
    assert cv.equation == ["*", "/", "n0", "60", "n1"]
    assert cv.constants == ("60",) and cv.words == ()


def test_percent_fraction_and_bare_decimal_literals_bind_to_the_text():
    q = "A shirt costs $80 and is 25% off. Then 1/2 of the rest goes to tax. What is left?"
    a = "<<.25*80=20>>20 off, <<80-20=60>>60; tax <<1/2*60=30>>30.\n#### 30"
    cv = convert(q, a)
    # .25 is the text's 25% over 100; 1/2 is the text's one number 1/2 (slot n2), not two constants
    assert cv.equation == ["*", "n2", "-", "n0", "*", "/", "n1", "100", "n0"]
    assert cv.constants == ("100",)
    assert [n.value for n in extract_numbers(q)] == [80, 25, 0.5]


def test_an_unannotated_last_step_is_read_from_the_prose():
    q = "She has $2000, pays $600, gets $800 and spends $1200. How much is left?"
    a = ("2000-600 = $<<2000-600=1400>>1400\n1400+800 = $<<1400+800=2200>>2200\n"
         "She spends $1200, remaining $2200-$1200 = $1000 in the end.\n#### 1000")
    cv = convert(q, a)
    assert cv.prose and cv.reason is None
    assert cv.equation == ["-", "+", "-", "n0", "n1", "n2", "n3"]


@pytest.mark.parametrize("answer, reason", [
    ("She has 5 apples.\n#### 5", gsm8k.NO_ANNOTATIONS),
    ("<<560//10=56>>56 nights\n#### 56", gsm8k.UNPARSABLE),
    ("<<2*3=6>>6 and then 6 more\n#### 12", gsm8k.NOT_A_STEP),
    ("x=<<6=6>>6\n#### 6", gsm8k.NO_OPERATION),
    ("<<10/3=3.3>>3.3 each, <<3.3*3=9.9>>9.9 in all\n#### 9.9", gsm8k.WRONG_VALUE),  # rounded on the way
    ("no answer line", gsm8k.BAD_ANSWER),
])
def test_skip_reasons(answer, reason):
    cv = convert("Sam has 2 bags of 3 apples and 10 pears.", answer)
    assert cv.equation is None and cv.reason == reason


def test_more_operations_than_the_decoder_has_steps():
    steps = " ".join(f"<<{k}+1={k + 1}>>" for k in range(2, 2 + MAX_OPS + 1))
    cv = convert("Start at 2 and add 1 each time.", f"{steps}\n#### {3 + MAX_OPS}")
    assert cv.reason == gsm8k.TOO_MANY_OPS and cv.ops == MAX_OPS + 1


def _write(root: Path, records: dict[str, list[tuple[str, str]]]) -> Path:
    (root / "gsm8k").mkdir(parents=True)
    for split, rows in records.items():
        with open(root / "gsm8k" / f"{split}.jsonl", "w", encoding="utf-8") as f:
            for q, a in rows:
                f.write(json.dumps({"question": q, "answer": a}) + "\n")
    return root


WENG = ("Weng earns $12 an hour. She did 50 minutes. How much did she earn?",
        "<<12/60=0.2>>0.2 per minute, <<0.2*50=10>>10.\n#### 10")
RARE = ("A week has some days. Tom runs 3 miles a day. How far in a week?", "<<3*7=21>>21\n#### 21")
NONE = ("Tom has 4 cats.", "He has 4 cats.\n#### 4")


def test_splits_rare_constants_and_test_problems_kept_for_scoring(tmp_path, monkeypatch):
    monkeypatch.setattr(gsm8k, "CONST_MIN", 2)
    root = _write(tmp_path, {"train": [NATALIA, NATALIA, WENG, WENG, RARE, NONE], "test": [NATALIA, RARE, NONE]})
    train, consts = read_gsm8k(root / "gsm8k" / "train.jsonl", "train")
    assert consts == ["2", "60"]  # 7 is used by one problem only
    assert len(train) == 4 and all(p.trainable for p in train.problems)
    assert sorted(r for _, r in train.skipped) == sorted([gsm8k.NO_ANNOTATIONS, gsm8k.RARE_CONSTANT.format(n=2)])
    test, _ = read_gsm8k(root / "gsm8k" / "test.jsonl", "test", consts)
    assert len(test) == 3 and [p.trainable for p in test.problems] == [True, False, False]
    assert test.problems[1].equation is None and test.problems[1].answer == 21
    assert test.reasons() == {f"{gsm8k.RARE_CONSTANT.format(n=2)} (kept for scoring only)": 1,
                              f"{gsm8k.NO_ANNOTATIONS} (kept for scoring only)": 1}


def test_specs(tmp_path, monkeypatch):
    monkeypatch.setattr(gsm8k, "CONST_MIN", 1)
    root = _write(tmp_path, {"train": [NATALIA, WENG, NONE], "test": [NATALIA, NONE]})
    s = load_splits("gsm8k", root)
    assert s.spec == "gsm8k" and s.dev is s.test and len(s.test) == 2
    assert s.files == [root / "gsm8k" / "train.jsonl", root / "gsm8k" / "test.jsonl"]
    base = load_splits("asdiv-a:0")
    plus = load_splits("asdiv-a:0+gsm8k", root)
    assert plus.spec == "asdiv-a:0+gsm8k" and plus.train.name.endswith("+gsm8k")
    assert len(s.train) == 2 and len(plus.train) == len(base.train) + 2
    assert [p.id for p in plus.dev.problems] == [p.id for p in base.dev.problems]
    assert plus.files == base.files + [root / "gsm8k" / "train.jsonl"]
    assert ("gsm8k-train-2", f"gsm8k: {gsm8k.NO_ANNOTATIONS}") in plus.train.skipped
    for bad, match in (("gsm8k:0", "no folds"), ("gsm8k+gsm8k", "already")):
        with pytest.raises(DataError, match=match):
            load_splits(bad, root)
    with pytest.raises(DataError, match="gsm8k/"):
        load_splits("gsm8k", tmp_path / "nowhere")


def test_real_gsm8k_conversion(shared_data):
    """Measured (docs/gsm8k.md): train 5,709 of 7,473 converted, test 1,024 of 1,319."""
    s = load_splits("gsm8k", shared_data)
    assert len(s.train) + len(s.train.skipped) == 7473 and len(s.train) >= 5600
    assert len(s.test) == 1319 and len(s.test.trainable) >= 1000
    consts = set()
    for p in s.train.problems + s.test.trainable:
        tree = parse_prefix(p.equation)
        assert answers_match(evaluate(tree, p.numbers), p.answer), p.id
        assert p.numbers == [n.value for n in extract_numbers(p.text)]
        consts |= {t for t in p.equation if not is_slot(t) and t not in "+-*/^"}
    assert len(consts) <= 16 and {"2", "100", "60"} <= consts


def test_data_command_prints_reasons(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from edgemath.cli import app

    monkeypatch.setattr(gsm8k, "CONST_MIN", 1)
    root = _write(tmp_path, {"train": [NATALIA, WENG, NONE], "test": [NATALIA, NONE]})
    res = CliRunner().invoke(app, ["data", "gsm8k", "--data-dir", str(root), "--examples", "1"])
    assert res.exit_code == 0, res.output
    assert f"train: 1 x {gsm8k.NO_ANNOTATIONS}" in res.output
    assert "+ n0 / n0 2 = 72" in res.output
