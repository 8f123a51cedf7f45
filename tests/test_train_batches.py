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
