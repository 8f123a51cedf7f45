"""Score a solver on a dataset: per-problem predictions and answer accuracy."""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from edgemath.data import Problem
from edgemath.features import collate, encode_all, make_examples
from edgemath.model import Solver
from edgemath.runtime.expression import ExpressionError, answers_match, evaluate, to_infix, to_prefix
from edgemath.runtime.tokenize import ProblemTokenizer


@dataclass
class Prediction:
    id: str
    text: str
    equation: str | None
    infix: str | None
    answer: float | None
    gold: float
    correct: bool
    error: str | None = None


def predict(solver: Solver, tok: ProblemTokenizer, problems: list[Problem], batch_size: int = 64,
            device: str = "cpu", head_mask: torch.Tensor | None = None, beam: int = 1) -> list[Prediction]:
    return predict_widths(solver, tok, problems, (beam,), batch_size, device, head_mask)[beam]


@torch.no_grad()
def predict_widths(solver: Solver, tok: ProblemTokenizer, problems: list[Problem], widths: Sequence[int],
                   batch_size: int = 64, device: str = "cpu",
                   head_mask: torch.Tensor | None = None) -> dict[int, list[Prediction]]:
    """Predictions decoded with each beam width (1: greedy), the texts encoded once for all."""
    solver.eval()
    order = sorted(range(len(problems)), key=lambda i: len(problems[i].text))
    preds: dict[int, dict[int, Prediction]] = {w: {} for w in widths}
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        probs = [problems[i] for i in idx]
        encs = encode_all(probs, tok)
        batch = collate(encs, tok.pad_id).to(device)
        hidden = solver.encode(batch, head_mask).last_hidden_state
        for w in widths:
            trees = solver.decode(batch, hidden=hidden, beam=w)
            for i, p, e, tree in zip(idx, probs, encs, trees):
                preds[w][i] = _score(solver, p, [n.value for n in e.numbers], tree)
    return {w: [got[i] for i in range(len(problems))] for w, got in preds.items()}


def _score(solver: Solver, p: Problem, nums: list[float], tree) -> Prediction:
    value, err = None, None
    if not nums and not solver.cfg.constants:
        err = "no numbers in the text"
    else:
        try:
            value = evaluate(tree, nums)
        except ExpressionError as ex:
            err = str(ex)
    return Prediction(p.id, p.text, " ".join(to_prefix(tree)), to_infix(tree, nums), value,
                      p.answer, answers_match(value, p.answer), err)


def expressible(solver: Solver, tok: ProblemTokenizer, problems: list[Problem]) -> int:
    """How many gold equations the decoder can write at all (its operators and constants over the
    text's numbers, within the token limit): separates what training could still fix from what
    the decoder's vocabulary rules out."""
    return len(make_examples(problems, tok, solver.cfg)[0])


def accuracy(preds: list[Prediction]) -> float:
    return sum(p.correct for p in preds) / max(1, len(preds))


def write_predictions(preds: list[Prediction], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for p in preds:
            f.write(json.dumps(p.__dict__, ensure_ascii=False) + "\n")


def read_predictions(path: Path) -> list[dict]:
    """What ``write_predictions`` wrote (``edgemath evaluate``'s JSON lines), one dict per problem."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
