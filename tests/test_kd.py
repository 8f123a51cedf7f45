"""Distillation from a teacher of another architecture (`edgemath train --teacher`): the cached
teacher outputs land where the teacher's own batch puts them, a teacher matched against itself
has zero loss, and a narrower student trains from a wider teacher's cache, resumably."""
from __future__ import annotations

import shutil

import pytest

torch = pytest.importorskip("torch")

from edgemath.checkpoint import load_solver  # noqa: E402
from edgemath.data import load_splits  # noqa: E402
from edgemath.features import collate, expressible  # noqa: E402
from edgemath.kd import Aligned, compute_targets, distill_loss_fn  # noqa: E402


def _teacher_examples(run, n=200, data="asdiv-a:0"):
    teacher, tok = load_solver(run)
    kept, examples, _ = expressible(load_splits(data).train.problems[:n], tok, teacher.cfg)
    return teacher, tok, kept, examples


def _identity_aligned(teacher, tok, examples):
    """The teacher's own states through an identity projection, and a batch of its first 8 examples."""
    aligned = Aligned(teacher, teacher.cfg.encoder_hidden)
    with torch.no_grad():
        aligned.align.weight.copy_(torch.eye(teacher.cfg.encoder_hidden))
        aligned.align.bias.zero_()
    rows = list(range(8))
    return aligned, rows, collate([examples[i][0] for i in rows], tok.pad_id, [examples[i][1] for i in rows])


def test_cached_scores_land_where_the_teachers_batch_puts_them(tiny_teacher):
    teacher, tok, kept, examples = _teacher_examples(tiny_teacher)
    targets = compute_targets(teacher, tok, kept, examples, "cpu", key={}, batch_size=5)
    assert all(s is not None for s in targets.steps)
    by_count = {len(e.numbers): i for i, (e, _) in enumerate(examples)}  # one example per number count
    by_steps = {len(s): i for i, (_, s) in enumerate(examples)}  # and per step count
    rows = sorted(set(by_count.values()) | set(by_steps.values()))
    assert len(by_count) >= 3 and len(by_steps) >= 2, "the sample must pad numbers and steps"
    batch = collate([examples[i][0] for i in rows], tok.pad_id, [examples[i][1] for i in rows])
    with torch.no_grad():
        _, live = teacher(batch)
    k, n_b = len(teacher.cfg.ops), batch.num_mask.shape[1]
    m_b = round((live[0].shape[1] / k) ** 0.5)
    placed = targets.batch_steps(rows, n_b, m_b, len(live), k)
    for t, (a, b) in enumerate(zip(placed, live)):
        active = batch.n_steps > t
        a, b = a[active], b[active]
        assert torch.equal(torch.isfinite(a), torch.isfinite(b)), f"step {t}: candidates differ"
        assert torch.allclose(a[torch.isfinite(a)], b[torch.isfinite(b)], atol=1e-5)
    states, mask = targets.batch_states(rows, n_b)
    with torch.no_grad():
        hidden = teacher.encode(batch).last_hidden_state
    live_states = torch.cat([batch.pool @ hidden, hidden[:, :1]], 1)
    assert torch.allclose(states[mask], live_states[mask], atol=2e-2)  # cached in fp16
    assert mask[:, :n_b].eq(batch.num_mask).all()


def test_a_teacher_matched_against_itself_has_no_distillation_loss(tiny_teacher):
    teacher, tok, kept, examples = _teacher_examples(tiny_teacher)
    targets = compute_targets(teacher, tok, kept, examples, "cpu", key={})
    aligned, rows, batch = _identity_aligned(teacher, tok, examples)
    batch.rows = rows
    teacher.eval()
    with torch.no_grad():
        distilled_only, terms = distill_loss_fn(teacher, aligned, targets, tau=2.0, lambda1=1.0, lambda2=0.0,
                                                gamma=1.0)(batch)
        task_only, _ = distill_loss_fn(teacher, aligned, targets, tau=2.0, lambda1=0.0, lambda2=1.0, gamma=1.0)(batch)
    assert float(distilled_only) < 1e-3  # fp16 states: not exactly 0
    assert float(task_only) > 0.1
    # the terms come back unweighted: the task loss is there even where lambda2 = 0
    assert set(terms) == {"task", "kl", "state"}
    assert float(terms["kl"]) < 1e-3 and float(terms["state"]) < 1e-3
    assert float(terms["task"]) == pytest.approx(float(task_only))
    # a shuffled lookup (the wrong example's targets) is far from zero: the rows matter
    batch.rows = rows[::-1]
    with torch.no_grad():
        wrong, _ = distill_loss_fn(teacher, aligned, targets, tau=2.0, lambda1=1.0, lambda2=0.0, gamma=1.0)(batch)
    assert float(wrong) > 0.05


def test_token_states_and_attention_maps_match_the_teachers_own(tiny_teacher):
    """With the student's tokenizer the cache keeps the last layer's token states and attention
    maps; a teacher matched against itself has no token or attention loss, another example's has."""
    from edgemath.kd import same_tokens

    teacher, tok, kept, examples = _teacher_examples(tiny_teacher, n=40)
    plain = compute_targets(teacher, tok, kept, examples, "cpu", key={})
    assert plain.tokens is None
    with pytest.raises(ValueError, match="student's tokenizer"):
        distill_loss_fn(teacher, Aligned(teacher, 32), plain, 2.0, 1.0, 0.0, 1.0, token_gamma=1.0)
    targets = compute_targets(teacher, tok, kept, examples, "cpu", key={}, batch_size=7, s_tok=tok)
    assert all(t is not None for t in targets.tokens)
    first = examples[0][0].ids
    assert targets.tokens[0].shape == (len(first), 32) and targets.attention[0].shape[1:] == (len(first), len(first))
    assert not same_tokens(tok, tok, first, first[:1] + first[2:] + first[-1:])  # one word left out
    aligned, rows, batch = _identity_aligned(teacher, tok, examples)
    teacher.eval()
    loss = distill_loss_fn(teacher, aligned, targets, 2.0, 1.0, 0.0, 0.0, token_gamma=1.0, attention_weight=1.0)
    with torch.no_grad():
        batch.rows = rows
        _, terms = loss(batch)
        assert set(terms) == {"task", "kl", "tokens", "attention"}
        assert float(terms["tokens"]) < 1e-3 and float(terms["attention"]) < 1e-3
        batch.rows = rows[::-1]
        _, wrong = loss(batch)
    assert float(wrong["tokens"]) > 0.05 and float(wrong["attention"]) > 0.01


def test_a_student_trains_on_token_and_attention_targets(wide_teacher, tiny_encoder, tmp_path):
    import json

    from edgemath.train import TrainConfig, run

    with pytest.raises(ValueError, match="match a --teacher"):
        TrainConfig(token_gamma=1.0)
    out = run(TrainConfig(data="asdiv-a:0", out=tmp_path / "s", encoder=str(tiny_encoder), limit=32, batch_size=8,
                          epochs=1, device="cpu", teacher=str(wide_teacher), token_gamma=1.0, attention_weight=1.0))
    epoch = json.loads((out / "manifest.json").read_text())["metrics"]["history"][0]
    assert epoch["tokens"] > 0 and epoch["attention"] > 0


@pytest.fixture(scope="module")
def const_teacher(tiny_encoder, tmp_path_factory):
    """A tiny teacher over MAWPS' four operators and six constants (ASDiv-A's first problems use none)."""
    from edgemath.train import TrainConfig, run

    return run(TrainConfig(data="mawps:0", out=tmp_path_factory.mktemp("const-teacher"), encoder=str(tiny_encoder),
                           limit=200, max_steps=2, batch_size=8, device="cpu", const_min_count=1))


def test_a_student_with_other_constants_gets_the_teachers_scores_at_its_own_indices(const_teacher):
    """A student started from a run with another constant set (GSM8K-pretrained, say): the teacher's
    scores land on the student's indices by constant value; the teacher's constants it lacks drop out."""
    import dataclasses

    from edgemath.model import COMMUTATIVE

    teacher, tok, kept, examples = _teacher_examples(const_teacher, data="mawps:0")
    same = compute_targets(teacher, tok, kept, examples, "cpu", key={})
    consts = teacher.cfg.constants
    assert len(consts) >= 2, "the teacher must have constants to reorder"
    other = ["12345", *reversed(consts[1:])]  # the first dropped, one added, the order reversed
    s_kept, s_examples, _ = expressible(kept, tok, dataclasses.replace(teacher.cfg, constants=other))
    mapped = compute_targets(teacher, tok, s_kept, s_examples, "cpu", key={}, constants=other)
    assert 0 < len(s_kept) < len(kept), "the sample must use the dropped constant and not only it"
    at = {id(p): j for j, p in enumerate(kept)}
    c_t, c_s = len(consts), len(other)
    for i, (p, (enc, steps)) in enumerate(zip(s_kept, s_examples)):
        j, n = at[id(p)], len(enc.numbers)
        t_steps, ours, theirs = examples[j][1], mapped.steps[i], same.steps[j]
        assert ours.shape[-1] == n + c_s + len(steps) and theirs.shape[-1] == n + c_t + len(steps)
        assert torch.isinf(ours[:, :, n]).all() and torch.isinf(ours[:, :, :, n]).all()  # "12345": no teacher score
        dropped = torch.zeros(theirs.shape[-1], dtype=torch.bool)
        dropped[n] = True  # the teacher's first constant
        qmap = [*range(n), -1, *(n + c_s - k for k in range(1, c_t)), *range(n + c_s, n + c_s + len(steps))]
        for t, ((op, a, b), (t_op, ta, tb)) in enumerate(zip(steps, t_steps)):
            # the gold choice scores the same (other batches pad otherwise: float noise only)
            assert op == t_op and float(ours[t, op, a, b]) == pytest.approx(float(theirs[t, op, ta, tb]), abs=1e-5)
            for k, x, y in torch.isfinite(theirs[t]).nonzero().tolist():  # every teacher score, cell by cell
                if not dropped[x] and not dropped[y]:
                    qa, qb = qmap[x], qmap[y]
                    if teacher.cfg.ops[k] in COMMUTATIVE:
                        qa, qb = min(qa, qb), max(qa, qb)  # the student scores a commutative pair once, i <= j
                    assert float(ours[t, k, qa, qb]) == pytest.approx(float(theirs[t, k, x, y]), abs=1e-5)
            keep = theirs[t][:, ~dropped][:, :, ~dropped]
            kept_scores, our_scores = keep[torch.isfinite(keep)].sort().values, ours[t][torch.isfinite(ours[t])].sort().values
            assert kept_scores.shape == our_scores.shape and torch.allclose(kept_scores, our_scores, atol=1e-5)


@pytest.fixture(scope="module")
def wide_teacher(tmp_path_factory):
    """A tiny teacher 64 wide (the student's tiny encoder is 32 wide): widths differ, as MPNet's and MiniLM's."""
    from transformers import BertConfig, BertModel

    from edgemath.checkpoint import default_encoder_path
    from edgemath.train import TrainConfig, run

    torch.manual_seed(1)
    enc = tmp_path_factory.mktemp("wide-bert")
    BertModel(BertConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=128, max_position_embeddings=256), add_pooling_layer=False).save_pretrained(enc)
    shutil.copy(default_encoder_path() / "tokenizer.json", enc / "tokenizer.json")
    out = tmp_path_factory.mktemp("wide-teacher")
    return run(TrainConfig(data="asdiv-a:0", out=out, encoder=str(enc), limit=32, max_steps=4, batch_size=8,
                           device="cpu", const_min_count=1))


def test_a_narrow_student_distils_from_a_wide_teacher_and_resumes(wide_teacher, tiny_encoder, tmp_path):
    import json

    from edgemath.kd import TARGETS
    from edgemath.train import TrainConfig, run

    out = tmp_path / "student"
    settings = dict(data="asdiv-a:0", out=out, encoder=str(tiny_encoder), limit=32, batch_size=8, epochs=2,
                    device="cpu", teacher=str(wide_teacher), time_budget=0)
    run(TrainConfig(**settings))  # stops after epoch 1 of 2 on its zero budget
    assert (out / TARGETS).is_file() and not (out / "manifest.json").exists()
    cached = (out / TARGETS).stat().st_mtime_ns
    run(TrainConfig(**{**settings, "resume": True, "time_budget": None}))
    assert (out / TARGETS).stat().st_mtime_ns == cached  # read back, not recomputed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["teacher"] == str(wide_teacher)
    # each epoch records the distillation terms' means beside the total: which term the student fits badly
    for epoch in manifest["metrics"]["history"]:
        assert {"task", "kl", "state"} <= set(epoch) and epoch["kl"] >= 0
    student, _ = load_solver(out)
    teacher, _ = load_solver(wide_teacher)
    assert student.cfg.encoder_hidden == 32 and teacher.cfg.encoder_hidden == 64
    assert (student.cfg.ops, student.cfg.constants) == (teacher.cfg.ops, teacher.cfg.constants)
    assert not any("align" in k for k in student.decoder.state_dict())
    # `edgemath report` looks teachers up by settings: a distilled run is not a plain teacher
    from edgemath.report import find_run

    plain = {k: v for k, v in settings.items() if k not in ("teacher", "time_budget")}
    assert find_run(tmp_path, "train", TrainConfig(**plain), {}) is None
    assert find_run(tmp_path, "train", TrainConfig(**plain, teacher=str(wide_teacher)), {}) == out


def test_teacher_flags_are_checked(tiny_teacher, tmp_path):
    from edgemath.train import TrainConfig, run

    with pytest.raises(ValueError, match="--equivalents 1"):
        TrainConfig(teacher=str(tiny_teacher), equivalents=4)
    with pytest.raises(ValueError, match="--tau must be positive"):
        TrainConfig(teacher=str(tiny_teacher), tau=0)
    with pytest.raises(ValueError, match="same operators"):  # an --init run with other operators
        run(TrainConfig(data="asdiv-a:0", out=tmp_path / "s", init=str(tiny_teacher), limit=32, max_steps=1,
                        batch_size=8, device="cpu", teacher=str(_other_vocab(tiny_teacher, tmp_path, "ops", "%"))))
    # another constant set is fine: the scores are mapped by constant value
    run(TrainConfig(data="asdiv-a:0", out=tmp_path / "c", init=str(tiny_teacher), limit=32, max_steps=1,
                    batch_size=8, device="cpu", teacher=str(_other_vocab(tiny_teacher, tmp_path, "constants", "12345"))))
    assert (tmp_path / "c" / "manifest.json").is_file()


def _other_vocab(run, tmp_path, field, extra):
    import json

    copy = tmp_path / f"other-{field}"
    shutil.copytree(run, copy)
    meta = json.loads((copy / "checkpoint" / "solver.json").read_text())
    meta[field] = meta[field] + [extra]
    (copy / "checkpoint" / "solver.json").write_text(json.dumps(meta))
    return copy
