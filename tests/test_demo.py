"""The demo's showcase: the shipped model answers every problem right, and no problem is in (or
close to) any training set the project has."""
import re

from edgemath.data import DataError, embedded_problems, gsm8k_texts
from edgemath.demo import SHOWCASE, TWO_STEP, answered_right
from edgemath.runtime.numbers import extract_numbers
from edgemath.runtime.solver import OnnxSolver, default_model_dir


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def _training_texts() -> list[str]:
    texts = [p.text for p in embedded_problems()]
    for split in ("train", "test"):
        try:
            texts += gsm8k_texts(split)
        except DataError:  # no ../shared/data: the embedded sets only
            pass
    return texts


def test_shipped_model_answers_every_showcase_problem():
    solver = OnnxSolver(default_model_dir(), threads=1)
    solved = [(t, a, solver.solve_one(t)) for t, a in SHOWCASE]
    wrong = [(t, s.equation) for t, a, s in solved if not answered_right(s, a)]
    assert not wrong, wrong


def _numbers(text: str) -> list[float]:
    return sorted(n.value for n in extract_numbers(text))


def test_showcase_is_in_no_training_set():
    """A copy is the same numbers in mostly the same words, or nearly all the same words: the
    showcase shares templates with the data ("there are N boxes with M pencils in each box" beside
    "there are 3 eggs in each box"), never a problem."""
    texts = [(_words(t), _numbers(t)) for t in _training_texts()]
    assert len(texts) > 3000
    for problem, _ in SHOWCASE + TWO_STEP:
        mine, nums = _words(problem), _numbers(problem)
        for words, their_nums in texts:
            overlap = len(mine & words) / len(mine | words)
            assert overlap < 0.8 and not (overlap >= 0.5 and nums == their_nums), \
                f"{problem!r} is a training problem's copy (word overlap {overlap:.2f}, numbers {their_nums})"

