"""Training batches: grouped by length (less padding), every example once per epoch."""
import random

import pytest

from edgemath.loop import length_batches
from edgemath.train import TrainConfig


def test_length_batches_cover_everything_once_with_less_padding():
    rng = random.Random(0)
    lengths = [rng.randint(10, 130) for _ in range(1000)]
    order = list(range(1000))
    rng.shuffle(order)
    batches = length_batches(order, lengths, 16, random.Random(1))
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert all(1 <= len(b) <= 16 for b in batches)
    padded = lambda bs: sum(max(lengths[i] for i in b) * len(b) for b in bs)
    plain = [order[s : s + 16] for s in range(0, 1000, 16)]
    assert padded(batches) < 0.75 * padded(plain)


def test_const_min_count_must_be_positive():
    with pytest.raises(ValueError, match="--const-min-count must be at least 1"):
        TrainConfig(const_min_count=0)


def test_untrainable_problems_are_counted_by_reason():
    """make_examples says why each skipped problem cannot be taught, not one lumped reason."""
    from edgemath.data import Problem
    from edgemath.features import make_examples
    from edgemath.model import DecoderConfig
    from edgemath.runtime.tokenize import ProblemTokenizer
    from edgemath.checkpoint import default_encoder_path

    tok = ProblemTokenizer.from_file(default_encoder_path() / "tokenizer.json", max_length=24)
    cfg = DecoderConfig(ops=["+", "-"], constants=["1"], max_steps=2)
    text = "Tom has 3 apples and 5 pears and 7 plums."
    long = "word " * 40 + "then 9 more."

    def p(eq, t=text, trainable=True):
        return Problem("x", t, [], eq.split(), 0.0, "t", trainable=trainable)

    examples, skipped = make_examples([p("+ n0 n1"), p("* n0 n1"), p("+ n0 3.14"), p("+ n0 n5"), p("+ + + n0 n1 n2 1"),
                                       p("+ n0 1", long), p("n0"), p("+ n0 n1", trainable=False)], tok, cfg)
    assert len(examples) == 1
    assert skipped == {"operator * outside the decoder's ops": 1, "constant 3.14 outside the decoder's set": 1,
                       "a number slot beyond the numbers read from the text": 1, "more than 2 operations (max_steps)": 1,
                       "a number it uses lies beyond the tokenizer's length limit": 1,
                       "the equation is a single number (no operation to learn)": 1,
                       "no equation that reproduces the answer (kept for scoring only)": 1}
