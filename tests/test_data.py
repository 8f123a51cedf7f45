"""Loader counts against the PROVENANCE.md files, and every usable record's equation
re-evaluated on the numbers the solver will extract."""
import filecmp

import pytest

from edgemath.data import EMBEDDED, DataError, load_splits, read_canonical
from edgemath.runtime.expression import answers_match, evaluate, parse_prefix

ASDIV_DEV = [238, 238, 238, 237, 266]
MAWPS_DEV = [384] * 5


@pytest.mark.parametrize("fold", range(5))
def test_asdiv_a_counts(fold):
    s = load_splits(f"asdiv-a:{fold}")
    assert len(s.dev) == ASDIV_DEV[fold]
    assert len(s.train) + len(s.dev) == 1217
    assert not s.train.skipped and not s.dev.skipped


@pytest.mark.parametrize("fold", range(5))
def test_mawps_counts(fold):
    s = load_splits(f"mawps:{fold}")
    assert len(s.dev) == MAWPS_DEV[fold] and len(s.train) == 1537


def test_mawps_inconsistent_rows_are_reported_not_dropped():
    pool = load_splits("mawps-asdiv-a").train
    assert len(pool) == 3138
    bad = [p for p in pool.problems if not p.trainable]
    # PROVENANCE: 8 MAWPS rows do not evaluate to their answer; each appears once or more in the pool
    assert 8 <= len(bad) <= 16
    assert "equation does not reproduce the answer (kept for scoring only)" in pool.reasons()


def test_every_trainable_equation_reproduces_its_answer():
    for spec in ("asdiv-a:0", "mawps:0"):
        s = load_splits(spec)
        for p in s.train.trainable + s.dev.trainable:
            assert answers_match(evaluate(parse_prefix(p.equation), p.numbers), p.answer), p.id


def test_raw_text_has_real_numbers():
    p = load_splits("asdiv-a:0").dev.problems[0]
    assert "number0" not in p.text and p.numbers == [7.0, 2.0] and p.equation == ["+", "n0", "n1"]


def test_embedded_copy_matches_shared(shared_data):
    assert filecmp.cmp(EMBEDDED / "asdiv-a" / "fold0" / "dev.csv", shared_data / "asdiv-a" / "cv_asdiv-a" / "fold0" / "dev.csv", shallow=False)
    assert filecmp.cmp(EMBEDDED / "mawps-asdiv-a" / "train.csv", shared_data / "mawps-asdiv-a" / "mawps-asdiv-a_svamp" / "train.csv", shallow=False)


def test_math23k_splits(shared_data):
    s = load_splits("math23k", shared_data)
    assert len(s.test) + len(s.test.skipped) == 1000
    assert len(s.dev) + len(s.dev.skipped) == 1000
    assert len(s.train) + len(s.train.skipped) == 21162
    assert len(s.test) == 1000  # every public test problem is usable
    p = next(p for p in s.train.problems if p.id == "math23k-1")
    assert p.equation == ["*", "-", "n1", "1", "n0"] and p.answer == 20


def test_math23k_missing_dir_says_what_to_put_where(tmp_path):
    with pytest.raises(DataError, match="Math_23K.json"):
        load_splits("math23k", tmp_path)


def test_unknown_spec_and_bad_fold():
    with pytest.raises(DataError, match="unknown dataset"):
        load_splits("nope")
    with pytest.raises(DataError, match="folds 0-4"):
        load_splits("asdiv-a:7")


def test_canonical_jsonl_counts_bad_lines(tmp_path):
    f = tmp_path / "mine.jsonl"
    f.write_text('{"text": "Tom has 3 apples and 5 pears.", "equation": "+ n0 n1", "answer": 8}\n'
                 "{not json\n"
                 '{"text": "", "answer": 1}\n'
                 '{"text": "Sam has 4 pens and 2 bags.", "equation": "* n0 n1", "answer": 9}\n')
    ds = read_canonical(f)
    assert len(ds) == 2 and len(ds.skipped) == 2
    assert [p.trainable for p in ds.problems] == [True, False]
    assert "line 2" in ds.skipped[0][1]
