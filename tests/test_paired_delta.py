"""bench/paired_delta.py: one split's accuracy difference, problem by problem, with its spread."""
import importlib.util
import json
import re
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("paired_delta", Path(__file__).parents[1] / "bench" / "paired_delta.py")
pd = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pd)


def _write(path: Path, correct: list[bool]) -> Path:
    path.write_text("".join(json.dumps({"id": f"p{i}", "correct": c}) + "\n" for i, c in enumerate(correct)))
    return path


def test_counts_the_disagreements_and_brackets_the_difference(tmp_path):
    ref = [True] * 80 + [False] * 20
    other = [True] * 70 + [False] * 10 + [True] * 5 + [False] * 15  # loses 10, gains 5
    r = pd.compare(pd.correct_by_id(_write(tmp_path / "a.jsonl", ref)),
                        pd.correct_by_id(_write(tmp_path / "b.jsonl", other)), resamples=2000)
    assert (r["problems"], r["only_reference"], r["only_other"]) == (100, 10, 5)
    assert r["delta_points"] == pytest.approx(-5.0)
    lo, hi = r["ci95_points"]
    se = ((0.15 - 0.05**2) / 100) ** 0.5 * 100  # per-problem difference: -1 x10, +1 x5, 0 x85
    assert lo < -5.0 < hi and hi - lo == pytest.approx(2 * 1.96 * se, rel=0.2)


def test_identical_solvers_have_no_spread(tmp_path):
    same = pd.correct_by_id(_write(tmp_path / "a.jsonl", [True, False, True]))
    assert pd.compare(same, same, resamples=100)["ci95_points"] == [0.0, 0.0]


def test_refuses_files_over_different_problems(tmp_path):
    a = pd.correct_by_id(_write(tmp_path / "a.jsonl", [True, True]))
    b = pd.correct_by_id(_write(tmp_path / "b.jsonl", [True, True, False]))
    with pytest.raises(SystemExit, match="different problems"):
        pd.compare(a, b, resamples=10)


def test_report_intervals_need_one_fold_and_the_teachers_marks():
    from edgemath.report_write import paired_intervals

    teacher, student = {"correct": "1" * 90 + "0" * 10}, {"correct": "1" * 80 + "0" * 20}
    lo, hi = paired_intervals({0: {0.0: teacher, 0.3: student}})[0.3]
    assert lo < -10.0 < hi < 0  # loses 10 of 100, gains none: the interval stays below 0
    assert paired_intervals({0: {0.0: teacher, 0.3: student}, 1: {0.0: teacher, 0.3: student}}) == {}  # folds: ± sd
    assert paired_intervals({0: {0.0: {"correct": None}, 0.3: student}}) == {}  # an older bench: no marks


def test_report_distillation_gain_has_a_paired_interval_on_one_split_only():
    from edgemath.report_write import distill_comparison

    kd = {"accuracy": 0.9, "int8_accuracy": 0.9, "correct": "1" * 90 + "0" * 10}
    plain = {"accuracy": 0.8, "int8_accuracy": 0.8, "correct": "1" * 80 + "0" * 20}  # distillation wins 10, loses none
    row = distill_comparison({0: {0.3: kd}}, {"0": {"0.3": plain}}, "test")[-1]
    lo, hi = map(float, re.search(r"\| 10\.00 \(([+-][\d.]+) \.\. ([+-][\d.]+)\) \|", row).groups())
    assert 0 < lo < 10.0 < hi
    folds = distill_comparison({0: {0.3: kd}, 1: {0.3: kd}}, {"0": {"0.3": plain}, "1": {"0.3": plain}}, "dev")
    assert "(" not in folds[-1] and "paired" not in folds[0]  # over folds: mean ± sd, no interval
    unmarked = distill_comparison({0: {0.3: kd}}, {"0": {"0.3": {**plain, "correct": None}}}, "test")
    assert ".." not in unmarked[-1] and "paired" not in unmarked[0]  # an older bench: no interval, no note of one
