"""How far one accuracy difference on a single split is from noise.

Two solvers scored on the same problems differ only where they disagree; a bootstrap that
resamples problems (the same ones for both) gives the difference's spread. On one fold
(Math23k's one test split) this is the spread a report's Δ column cannot show as ± sd.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def paired_delta(ref: Sequence[bool], other: Sequence[bool], resamples: int = 10000, seed: int = 0) -> dict:
    """``other - ref`` in points over problems in the same order, with a 95% paired bootstrap interval."""
    if len(ref) != len(other):
        raise ValueError(f"paired scores need the same problems: {len(ref)} against {len(other)}")
    diff = np.asarray(other, dtype=np.float64) - np.asarray(ref, dtype=np.float64)
    rng = np.random.default_rng(seed)
    boots = diff[rng.integers(0, len(diff), size=(resamples, len(diff)))].mean(axis=1) * 100
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"problems": len(diff), "delta_points": float(diff.mean() * 100), "only_reference": int((diff < 0).sum()),
            "only_other": int((diff > 0).sum()), "ci95_points": [float(lo), float(hi)]}


def marks_to_str(marks: Sequence[bool]) -> str:
    """Per-problem right/wrong as a compact '1'/'0' string (a bench row stores one per export)."""
    return "".join("1" if m else "0" for m in marks)


def str_to_marks(s: str) -> list[bool]:
    return [c == "1" for c in s]
