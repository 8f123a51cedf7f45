"""Cross-benchmark probe sets: a solver trained on one benchmark, scored on another's problems
(those whose text the source does not hold) as written and under the two shifts of the held-out
challenge set: a number the answer does not use, and the question said another way. The shifts
use templates and names that `edgemath train --augment` never writes, so a solver trained with
augmentation is not scored on its own phrasing."""
from __future__ import annotations

import random
import re

from edgemath.augment import distractor, question
from edgemath.data import Problem, load_splits

PROBE_DISTRACTORS = (
    "{name}'s friend owns {k} {noun}.",
    "There were {k} {noun} in the box yesterday.",
    "The store has {k} other {noun} for sale.",
    "{name} once wanted {k} {noun}.",
)
PROBE_NAMES = ("Priya", "Jonas", "Wei", "Fatima")
PROBE_REPHRASE = (
    (re.compile(r"^How (many|much) (.+)\?\s*$", re.I), ("Tell us how {0} {1}?", "Please say how {0} {1}?")),
    (re.compile(r"^What is (.+)\?\s*$", re.I), ("Give {0}.", "Compute {0}.")),
)


def normalized(text: str) -> str:
    """Lower-cased, punctuation dropped: MAWPS and ASDiv-A write one text with other spacing."""
    return re.sub(r"\W+", " ", text.lower()).strip()


def every_problem(name: str) -> list[Problem]:
    """All of a folded benchmark: its fold-0 train and dev together."""
    s = load_splits(f"{name}:0")
    return s.train.problems + s.dev.problems


def probe_sets(source: str, target: str, seed: int = 0) -> dict[str, list[Problem]]:
    """The target's problems unseen in the source, as written, with an unused number inserted
    and with the question rephrased (where a template fits); equations kept exact."""
    seen = {normalized(p.text) for p in every_problem(source)}
    base = [p for p in every_problem(target) if normalized(p.text) not in seen and p.equation]
    rng = random.Random(seed)
    shifts = {"distractor": lambda p: distractor(p, rng, PROBE_DISTRACTORS, PROBE_NAMES),
              "question": lambda p: question(p, rng, PROBE_REPHRASE)}
    shifted = {name: [q for p in base if (q := fn(p)) is not None] for name, fn in shifts.items()}
    return {"as written": base, **shifted}
