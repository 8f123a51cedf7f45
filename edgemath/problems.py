"""The canonical records every dataset reader produces, and where large datasets live.

Apart from the readers (``edgemath.data``, ``edgemath.gsm8k``) so that each reader builds on
the records without importing the others: ``data.load_splits`` dispatches to them all.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["Problem", "Dataset", "Splits", "DataError", "data_dir"]

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


class DataError(ValueError):
    """A dataset that cannot be found or read; the message says what to put where."""


@dataclass
class Problem:
    id: str
    text: str
    numbers: list[float]
    equation: list[str] | None  # prefix tokens over slots n0.. and constants
    answer: float
    source: str
    fold: int | None = None
    split: str = ""
    trainable: bool = True  # False when the annotated equation does not give the answer

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Dataset:
    name: str
    problems: list[Problem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (id, reason)

    def __len__(self) -> int:
        return len(self.problems)

    @property
    def trainable(self) -> list[Problem]:
        return [p for p in self.problems if p.trainable and p.equation]

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, r in self.skipped:
            out[r] = out.get(r, 0) + 1
        for p in self.problems:
            if not p.trainable:
                out["equation does not reproduce the answer (kept for scoring only)"] = (
                    out.get("equation does not reproduce the answer (kept for scoring only)", 0) + 1)
        return out


@dataclass
class Splits:
    """What a stage trains and scores on. ``dev`` selects checkpoints; ``test`` when the
    benchmark has a held-out split separate from its dev split (Math23k)."""

    spec: str
    train: Dataset
    dev: Dataset
    test: Dataset | None = None
    files: list[Path] = field(default_factory=list)


def data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """Where large datasets live: ``--data-dir``, else $EDGEMATH_DATA, else ../shared/data."""
    for cand in (explicit, os.environ.get("EDGEMATH_DATA")):
        if cand:
            return Path(cand)
    for cand in (_SHARED, Path.cwd().parent / "shared" / "data"):
        if cand.is_dir():
            return cand
    return None
