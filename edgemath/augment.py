"""Training-set augmentation that keeps every equation exact (``edgemath train --augment``).

A solver trained on MAWPS / ASDiv-A learns that every number in the text is used and that the
question is phrased one way. Three transforms break those shortcuts without guessing at an
equation: each returns a new problem whose equation is re-checked against its answer, or None.

- ``distractor``: a sentence with a number the equation does not use, before a random sentence.
- ``distractor-wide``: the same from a wider bank (20 templates, 16 names; people, places, times
  and other objects as well as the question's own noun), so that what is learnt is "this
  quantity is not asked about" rather than four sentence shapes.
- ``resample``: the integers of the text redrawn near their magnitude, the equation kept and
  the answer recomputed; kept only when the answer stays a non-negative integer where the
  original was one (no "2.4 apples" from exact division).
- ``question``: the question sentence rephrased ("How many X ...?" -> "Find how many X ...?").

Transforms run on the training split only; dev and test problems are never touched.
"""
from __future__ import annotations

import random
import re
from dataclasses import replace
from functools import partial

from edgemath.problems import Problem
from edgemath.runtime.expression import ExpressionError, answers_match, evaluate, parse_prefix
from edgemath.runtime.numbers import extract_numbers, format_number

TRANSFORMS = ("distractor", "distractor-wide", "resample", "question")
_NAMES = ("Ali", "Maya", "Sam", "Lena", "Omar", "Ines", "Ken", "Rosa")
_DISTRACTORS = (
    "{name} has {k} {noun} at home.",
    "Last year there were {k} {noun}.",
    "A shop nearby sells {k} {noun} every day.",
    "{name} saw {k} {noun} on the way.",
)
_WIDE_NAMES = _NAMES + ("Noah", "Aisha", "Leo", "Mina", "Ravi", "Sofia", "Tariq", "Yuki")
_WIDE_DISTRACTORS = _DISTRACTORS + (
    "{name}'s sister is {k} years old.",
    "The trip there took {k} minutes.",
    "{name} counted {k} birds in the park.",
    "Next week {name} will get {k} {noun}.",
    "A basket in the corner holds {k} {noun} that nobody wants.",
    "{name} read {k} pages of a book that morning.",
    "Their house is {k} meters from the school.",
    "{name} keeps {k} {noun} in another room.",
    "There are {k} chairs in the hall.",
    "{name} paid {k} dollars for lunch.",
    "It rained for {k} days that month.",
    "A neighbor gave away {k} {noun} last week.",
    "{name} has a shelf with {k} toy cars.",
    "The market had {k} visitors that day.",
    "{name} drove {k} miles on Sunday.",
    "The school has {k} {noun} in its hall.",
)
_DISTRACTOR_BANKS = {"distractor": (_DISTRACTORS, _NAMES), "distractor-wide": (_WIDE_DISTRACTORS, _WIDE_NAMES)}
"""Templates and names per distractor transform: what ``augment`` draws from and ``inserted_texts`` keeps."""
_ANY_NOUN = "things"  # when the question names no countable noun
_NOT_NOUNS = {"do", "does", "did", "is", "are", "was", "were", "will", "would", "can", "could", "should", "has",
              "have", "had", "of", "in", "money", "time", "longer", "farther", "faster"}
_REPHRASE = (
    (re.compile(r"^How (many|much) (.+)\?\s*$", re.I), ("Find how {0} {1}?", "Can you tell how {0} {1}?",
                                                           "Work out how {0} {1}?")),
    (re.compile(r"^What is (.+)\?\s*$", re.I), ("Find {0}.", "Calculate {0}.")),
)


def _sentence_starts(text: str) -> list[int]:
    """Where each sentence begins (the last one is the question)."""
    body = text.rstrip()
    return [0] + [m.end() for m in re.finditer(r"[.!?]\s+", body) if m.end() < len(body)]


def _question_start(text: str) -> int:
    return _sentence_starts(text)[-1]


def _checked(p: Problem, text: str, equation: list[str], answer: float, tag: str) -> Problem | None:
    """The new problem when its text reads back the numbers its equation needs and the
    equation gives the answer; None otherwise."""
    numbers = [n.value for n in extract_numbers(text)]
    try:
        ok = answers_match(evaluate(parse_prefix(equation), numbers), answer)
    except ExpressionError:
        ok = False
    if not ok:
        return None
    return replace(p, id=f"{p.id}+{tag}", text=text, numbers=numbers, equation=equation, answer=answer)


def distractor(p: Problem, rng: random.Random, templates: tuple[str, ...] = _DISTRACTORS,
               names: tuple[str, ...] = _NAMES) -> Problem | None:
    q0 = _question_start(p.text)
    m = re.search(r"how (?:many|much) (?:more |less |fewer )?([a-z]+)", p.text[q0:], re.I)
    noun = m.group(1) if m and m.group(1).lower() not in _NOT_NOUNS else _ANY_NOUN
    used = {n.value for n in extract_numbers(p.text)}
    top = max([int(v) for v in used if v == int(v)] + [10])
    k = next((c for c in (rng.randint(2, 2 * top) for _ in range(20)) if c not in used), None)
    if k is None:
        return None
    sentence = rng.choice(templates).format(name=rng.choice(names), k=k, noun=noun)
    at = rng.choice(_sentence_starts(p.text))  # before one of the sentences, the question's included
    slot = sum(n.start < at for n in extract_numbers(p.text))
    shift = lambda tok: f"n{int(tok[1:]) + 1}" if re.fullmatch(r"n\d+", tok) and int(tok[1:]) >= slot else tok
    text = p.text[:at] + sentence + " " + p.text[at:]
    return _checked(p, text, [shift(t) for t in p.equation], p.answer, "distractor")


def resample(p: Problem, rng: random.Random, tries: int = 10) -> Problem | None:
    found = extract_numbers(p.text)
    ints = [i for i, n in enumerate(found) if not n.percent and n.value == int(n.value) and 1 < n.value < 10_000
            and re.fullmatch(r"\d+", n.text)]
    if not ints:
        return None
    integer_answer = p.answer == int(p.answer)
    for _ in range(tries):
        values = [n.value for n in found]
        for i in ints:
            v = int(found[i].value)
            values[i] = float(rng.randint(max(2, v // 2), 2 * v))
        try:
            answer = evaluate(parse_prefix(p.equation), values)
        except ExpressionError:
            continue
        if (answer < 0 <= p.answer) or (integer_answer and abs(answer - round(answer)) > 1e-9):
            continue
        text = p.text
        for i in sorted(ints, reverse=True):  # from the end, so earlier spans stay put
            text = text[:found[i].start] + format_number(values[i]) + text[found[i].end:]
        out = _checked(p, text, p.equation, float(round(answer)) if integer_answer else answer, "resample")
        if out is not None:
            return out
    return None


def question(p: Problem, rng: random.Random, rephrase: tuple = _REPHRASE) -> Problem | None:
    q0 = _question_start(p.text)
    body, ask = p.text[:q0], p.text[q0:]
    for pattern, forms in rephrase:
        m = pattern.match(ask)
        if m:
            groups = [g[0].lower() + g[1:] if g else g for g in m.groups()]
            return _checked(p, body + rng.choice(forms).format(*groups), p.equation, p.answer, "question")
    return None


def inserted_texts(transforms: list[str]) -> list[str]:
    """The words the transforms write into copies (templates without their slots, names): every copy
    may hold them, so a vocabulary cut keeps them. A copy's other words are its source problem's;
    counting them again per copy would let ~2.4 copies per problem lift rare words over
    ``--vocab-train-min-count`` (the cut then kept 5,009 tokens instead of 4,310)."""
    texts = []
    for t in transforms:  # resample writes numbers only
        if t in _DISTRACTOR_BANKS:
            templates, names = _DISTRACTOR_BANKS[t]
            texts += list(templates) + list(names) + [_ANY_NOUN]
        elif t == "question":
            texts += [f for _, forms in _REPHRASE for f in forms]
    return [re.sub(r"\{\w*\}", " ", x) for x in texts]


def unknown_transforms(transforms: list[str]) -> str | None:
    """What is wrong with a list of transform names, phrased as the CLI flag; None when nothing."""
    unknown = sorted(set(transforms) - set(TRANSFORMS))
    if unknown:
        return f"--augment: unknown transform(s) {', '.join(unknown)}; choose from {', '.join(TRANSFORMS)}"
    return None


def augment(problems: list[Problem], transforms: list[str], seed: int = 0) -> tuple[list[Problem], dict[str, int]]:
    """The problems followed by one transformed copy per problem and transform (where the
    transform applies); counts of copies made per transform."""
    if bad := unknown_transforms(transforms):
        raise ValueError(bad)
    rng = random.Random(seed)
    fns = {"resample": resample, "question": question,
           **{t: partial(distractor, templates=templates, names=names) for t, (templates, names) in _DISTRACTOR_BANKS.items()}}
    extra, made = [], {t: 0 for t in transforms}
    for p in problems:
        if not (p.trainable and p.equation):
            continue
        for t in transforms:
            q = fns[t](p, rng)
            if q is not None:
                extra.append(q)
                made[t] += 1
    return problems + extra, made
