"""The one shape every pruner has, and the registry the compress loop reads.

A pruner is one kind of unit (heads, FFN neurons, layers, vocabulary rows) seen through four
steps (Torch-Pruning's structure / importance / scheduler split, STYLE.md section 5)::

    score(evidence) -> scores      importance, higher = kept first ("random" swaps in the baseline)
    select(scores, amount) -> keep what survives at that amount: a mask or a list of kept indices
    gate(encoder, keep) -> kwargs  while training: hides the pruned units from every forward pass
    bake(target, keep) -> record   cuts them out of the weights for good (the manifest's note)

and ``when`` it acts in the paper's loop (edgemath/compress/run.py):

    TRAIN  re-selected along each round's cubic schedule, gated while training, baked at the end
    ROUND  cut once at the start of each round (its share of the total), before the masks move
    AFTER  cut from the baked model, checked against it, no training

Two bookkeeping methods let a TRAIN pruner's mask live through a finished round on disk:
``save(mask) -> {key: json}`` and ``load(info, encoder) -> mask``; ``start(encoder, where)``
checks the teacher can be pruned this way and returns the all-kept mask. Adding a pruner is one
class in its own module, listed in ``pruners``.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Protocol

TRAIN, ROUND, AFTER = "train", "round", "after"
"""The values of ``Pruner.when`` (the pruners spell them out: they do not import this module)."""


@dataclass
class Evidence:
    """What scorers read: the model as it is now, training batches, the masks in force."""

    solver: Any
    batches: list = field(default_factory=list)
    device: str = "cpu"
    masks: dict = field(default_factory=dict)
    """Masks of the TRAIN pruners in force on ``solver`` ({name: mask}); ROUND scorers see through them."""
    pruners: tuple = ()
    """The pruners those masks belong to (to gate the forward passes of a score)."""
    texts: list[str] = field(default_factory=list)
    """Training texts (the vocabulary's evidence): the source problems, not their augmented copies."""
    kept_texts: list[str] = field(default_factory=list)
    """Texts whose every token is kept: what augmentation writes into the copies."""
    tok: Any = None

    def masked(self):
        """``gated`` over ``solver``'s encoder with the masks in force."""
        return gated(self.pruners, self.solver.encoder, self.masks)


@dataclass
class Target:
    """What a bake cuts: the encoder and the tokenizer that feeds it (vocabulary pruning renumbers it)."""

    encoder: Any
    tok: Any = None


class Pruner(Protocol):
    """What the loop asks of every pruner. By ``when``, also: TRAIN ``ratio`` (the final fraction
    pruned; ``select`` gets ``ratio`` times the schedule's progress) and ``save``/``load`` of its
    mask; ROUND ``amount(k)`` (units cut at round k's start; ``select`` gets it, ``bake`` returns
    the layers kept); AFTER ``select`` gets the score a unit needs (1.0)."""

    name: str
    """Key of its mask and record ("heads", "ffn", "layers", "vocab")."""
    when: str
    """TRAIN, ROUND or AFTER (see the module docstring)."""
    seed: int | None
    """Offset of the random baseline's seed (cfg.seed + seed + round); None: not scored by --scorer."""
    active: bool
    """Whether this run prunes this kind of unit at all."""

    def start(self, encoder, where) -> Any:
        """Check the teacher (``where``: its path, for the message) can be pruned so; TRAIN: the all-kept mask."""
    def score(self, ev: Evidence) -> Any: ...
    def shape(self, encoder) -> tuple:
        """The scores' shape (for the random baseline)."""
    def select(self, scores, amount) -> Any: ...
    def gate(self, encoder, keep) -> contextlib.AbstractContextManager[dict]: ...
    def bake(self, target: Target, keep) -> Any: ...


def pruners(cfg) -> list:
    """Every pruner compress knows, in the order they act and bake (a new one is listed here)."""
    from edgemath.compress.ffn import FFNPruner
    from edgemath.compress.layers import LayerPruner
    from edgemath.compress.structure import HeadPruner
    from edgemath.compress.vocab import VocabPruner

    return [LayerPruner(cfg), HeadPruner(cfg), FFNPruner(cfg), VocabPruner(cfg)]


def importance(p, ev: Evidence, scorer: str, seed: int):
    """``p``'s scores, or the baseline's: uniform random of the same shape, fixed by seed."""
    if scorer == "random" and p.seed is not None:
        from edgemath.compress.score import random_scores

        return random_scores(p.shape(ev.solver.encoder), seed + p.seed)
    return p.score(ev)


@contextlib.contextmanager
def gated(units, encoder, masks: dict):
    """Inside, ``encoder`` runs with every mask of ``masks`` applied; yields the keyword arguments
    the forward pass takes for them (``Solver.encode(batch, **kwargs)``, ``predict(..., **kwargs)``)."""
    with contextlib.ExitStack() as stack:
        kwargs = {}
        for p in units:
            if masks.get(p.name) is not None:
                kwargs.update(stack.enter_context(p.gate(encoder, masks[p.name])))
        yield kwargs
