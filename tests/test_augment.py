"""Augmentation keeps every equation exact: each copy's equation gives its answer over the numbers
its own text reads back, distractor numbers are unused, dev problems are never touched."""
import json
import random
import re

import pytest

from edgemath.augment import augment, distractor, question, resample
from edgemath.data import Problem, load_splits
from edgemath.runtime.expression import answers_match, evaluate, parse_prefix
from edgemath.runtime.numbers import extract_numbers

P = Problem("p", "Tom has 12 apples. He buys 5 more at the shop. How many apples does he have now?", [12.0, 5.0],
            ["+", "n0", "n1"], 17.0, "t")


def _exact(p: Problem) -> bool:
    values = [n.value for n in extract_numbers(p.text)]
    return values == p.numbers and answers_match(evaluate(parse_prefix(p.equation), values), p.answer)


def test_distractor_adds_one_unused_number():
    for seed in range(20):
        q = distractor(P, random.Random(seed))
        assert q is not None and _exact(q) and len(q.numbers) == 3
        assert q.answer == 17 and q.text.endswith("How many apples does he have now?")
        unused = set(range(3)) - {int(t[1:]) for t in q.equation if t.startswith("n")}
        assert len(unused) == 1 and q.numbers[unused.pop()] not in (12.0, 5.0)


def test_resample_recomputes_the_answer():
    q = resample(P, random.Random(0))
    assert q is not None and _exact(q) and q.equation == P.equation
    assert q.answer == q.numbers[0] + q.numbers[1] and q.numbers != P.numbers


def test_resample_keeps_integer_answers_integer():
    div = Problem("d", "Sara shares 56 stickers among 7 friends. How many does each get?", [56.0, 7.0],
                  ["/", "n0", "n1"], 8.0, "t")
    for seed in range(10):
        q = resample(div, random.Random(seed))
        assert q is None or (_exact(q) and q.answer == int(q.answer))


def test_question_rephrased_equation_kept():
    q = question(P, random.Random(0))
    assert q is not None and _exact(q) and q.equation == P.equation
    assert not q.text.endswith("How many apples does he have now?") and "apples does he have now" in q.text


def test_unknown_transform_is_an_error():
    with pytest.raises(ValueError, match="--augment: unknown transform"):
        augment([P], ["flip"])


@pytest.mark.parametrize("spec", ["asdiv-a:0", "mawps:0"])
def test_real_training_sets(spec):
    train = load_splits(spec).train.problems
    out, made = augment(train, ["distractor", "distractor-wide", "resample", "question"], seed=0)
    assert out[: len(train)] == train
    assert min(made["distractor"], made["distractor-wide"]) > 0.9 * len(train) and made["resample"] > 0.8 * len(train)
    assert all(_exact(p) for p in out[len(train):])


def test_train_config_names_the_flag():
    from edgemath.train import TrainConfig

    with pytest.raises(ValueError, match="--augment: unknown transform"):
        TrainConfig(augment="distractor,flip")
    assert TrainConfig(augment=" distractor, question ").transforms() == ["distractor", "question"]


def test_compress_distils_on_the_augmented_copies(tiny_teacher, tmp_path):
    """A student distilled without the teacher's augmented data would unlearn what it taught."""
    from edgemath.compress.run import CompressConfig, run

    with pytest.raises(ValueError, match="--augment: unknown transform"):
        CompressConfig(augment="flip")
    out = run(CompressConfig(teacher=tiny_teacher, data="asdiv-a:0", out=tmp_path / "s", prune_heads=0.5, rounds=1,
                             limit=16, max_steps=1, epochs=1, batch_size=8, device="cpu", augment="distractor"))
    m = json.loads((out / "manifest.json").read_text())
    assert m["config"]["augment"] == "distractor"
    assert 14 <= m["metrics"]["augmented"]["distractor"] <= 16


def test_transfer_probes_leave_out_the_shared_texts():
    from edgemath.transfer import every_problem, normalized, probe_sets

    sets = probe_sets("mawps", "asdiv-a")
    mawps = {normalized(p.text) for p in every_problem("mawps")}
    asdiv = every_problem("asdiv-a")
    shared = sum(normalized(p.text) in mawps for p in asdiv)
    assert shared > 200  # the two benchmarks share texts: scoring them would be no transfer
    assert len(sets["as written"]) + shared == len(asdiv)
    assert not any(normalized(p.text) in mawps for p in sets["as written"])
    assert len(sets["distractor"]) > 0.95 * len(sets["as written"]) and len(sets["question"]) > 0.3 * len(sets["as written"])
    for q in sets["distractor"] + sets["question"]:
        assert _exact(q)
    assert all(len(q.numbers) == len(p.numbers) + 1 for p, q in zip(sets["as written"][:20], sets["distractor"][:20])
               if q.id == p.id + "+distractor")


def test_transfer_probes_use_phrasing_training_never_writes():
    from edgemath.augment import _NAMES, _WIDE_DISTRACTORS, _WIDE_NAMES
    from edgemath.transfer import PROBE_DISTRACTORS, PROBE_NAMES, probe_sets

    sets = probe_sets("mawps", "asdiv-a")
    assert not set(_WIDE_NAMES) & set(PROBE_NAMES) and set(_NAMES) < set(_WIDE_NAMES)
    train_openings = {t.split("{k}")[0].replace("{name}", "") for t in _WIDE_DISTRACTORS}
    assert not train_openings & {t.split("{k}")[0].replace("{name}", "") for t in PROBE_DISTRACTORS}
    q = sets["question"][0].text.lower()
    assert ("tell us how" in q or "please say how" in q or "give " in q or "compute " in q) and "find how" not in q


def test_vocabulary_cut_counts_sources_and_keeps_what_copies_insert(tiny_encoder):
    """Copies repeat their source's words, so the cut counts the sources once and keeps the
    transforms' own words outright: every token of a copy is then a kept token, except the new
    numbers (spelled in digit pieces, as unseen numbers are at test time)."""
    from edgemath.augment import inserted_texts
    from edgemath.compress.vocab import needed_ids
    from edgemath.runtime.tokenize import ProblemTokenizer

    tok = ProblemTokenizer.from_file(tiny_encoder / "tokenizer.json")
    train = load_splits("asdiv-a:0").train.problems[:40]
    out, _ = augment(train, ["distractor", "question"], seed=0)
    texts = [p.text for p in train]
    plain = set(needed_ids(tok, texts, text_min_count=3))
    kept = set(needed_ids(tok, texts, text_min_count=3, always=inserted_texts(["distractor", "question"])))
    assert plain < kept and len(kept - plain) < 60
    inflated = set(needed_ids(tok, [p.text for p in out], text_min_count=3))
    assert len(inflated - kept) > 0  # counting the copies keeps rare source words (what the fix stops)
    source = {p.id: p.text for p in train}
    unkept = lambda text: set(tok.tok.encode(re.sub(r"\d+", " ", text)).ids) - kept  # numbers aside
    for q in out[len(train):]:
        assert unkept(q.text) <= unkept(source[q.id.split("+")[0]]), q.text
    assert inserted_texts(["resample"]) == []


def test_compress_cuts_the_vocabulary_from_the_sources(tiny_teacher, tmp_path):
    """With --augment the vocabulary cut keeps exactly what the plain cut keeps plus the transforms'
    own words: at --vocab-train-min-count 2 the copies would otherwise carry every source word over it."""
    from edgemath.augment import inserted_texts
    from edgemath.compress.run import CompressConfig, run
    from edgemath.runtime.tokenize import ProblemTokenizer

    def kept(aug: str) -> set[str]:
        out = run(CompressConfig(teacher=tiny_teacher, data="asdiv-a:0", out=tmp_path / (aug or "plain"), prune_heads=0.0,
                                 prune_vocab=True, vocab_train_min_count=2, limit=16, device="cpu", augment=aug))
        return set(ProblemTokenizer.from_file(out / "checkpoint" / "tokenizer.json").tok.get_vocab())

    tok = ProblemTokenizer.from_file(tiny_teacher / "checkpoint" / "tokenizer.json").tok
    inserted = {tok.id_to_token(i) for enc in tok.encode_batch(inserted_texts(["distractor"])) for i in enc.ids}
    assert kept("distractor") == kept("") | inserted
