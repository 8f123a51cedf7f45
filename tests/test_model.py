"""Decoder: gold steps round-trip, every decoded output is a well-formed tree, training
lowers the loss, checkpoint reload gives identical predictions."""
import pytest

torch = pytest.importorskip("torch")

from edgemath.checkpoint import CheckpointError, load_solver, save_solver
from edgemath.data import Problem, load_splits
from edgemath.evaluate import predict
from edgemath.features import collate
from edgemath.model import DecoderConfig, Solver, stepwise_loss, tree_to_steps
from edgemath.runtime.expression import evaluate, parse_prefix, to_prefix
from edgemath.runtime.tokenize import ProblemTokenizer


def tiny_solver(tiny_encoder, constants=("1", "100"), seed=0, stop_unused=False, step_layers=0):
    from transformers import AutoModel

    torch.manual_seed(seed)
    enc = AutoModel.from_pretrained(tiny_encoder, attn_implementation="eager")
    cfg = DecoderConfig(hidden=16, constants=list(constants), encoder_hidden=32, max_steps=5, stop_unused=stop_unused,
                        step_layers=step_layers)
    return Solver(enc, cfg).eval(), ProblemTokenizer.from_file(tiny_encoder / "tokenizer.json")


def steps_to_tree(steps, n, constants, ops):
    q = [f"n{i}" for i in range(n)] + list(constants)
    for op, i, j in steps:
        q.append((ops[op], q[i], q[j]))
    return q[-1]


@pytest.mark.parametrize("eq", ["+ n0 n1", "- n1 n0", "* + n0 n1 - n2 1", "/ n0 100", "+ n0 n0"])
def test_tree_to_steps_round_trip(eq):
    ops, consts = ["+", "-", "*", "/"], ["1", "100"]
    tree = parse_prefix(eq)
    steps = tree_to_steps(tree, 3, consts, ops)
    assert evaluate(steps_to_tree(steps, 3, consts, ops), [2, 5, 7]) == evaluate(tree, [2, 5, 7])


def test_unknown_constant_is_untrainable():
    assert tree_to_steps(parse_prefix("+ n0 3.14"), 1, ["1"], ["+"]) is None


def test_decoding_always_gives_valid_trees(tiny_encoder):
    """Random weights, varied texts: every output parses and only uses existing slots."""
    solver, tok = tiny_solver(tiny_encoder)
    texts = ["Tom has 3 apples and buys 5 more.", "A 12 by 7 room costs 4 dollars per foot, 2 rooms.",
             "There are 1,200 birds; 25% fly away and -3 come back. 8 9 10 11."]
    problems = [Problem(str(i), t, [], None, 0.0, "t") for i, t in enumerate(texts)]
    for seed in range(5):
        solver, _ = tiny_solver(tiny_encoder, seed=seed)
        for p, pred in zip(problems, predict(solver, tok, problems)):
            tree = parse_prefix(pred.equation)
            slots = [int(t[1:]) for t in to_prefix(tree) if t.startswith("n")]
            assert all(s < len(tok.encode(p.text).numbers) for s in slots)


@pytest.mark.parametrize("stop_unused,step_layers", [(False, 0), (True, 0), (False, 1)])
def test_one_pass_loss_equals_stepwise(tiny_encoder, stop_unused, step_layers):
    """Scoring all pairs once over the final quantity set gives the per-step loss and the
    per-step scores (on the candidates each step could see), gradients included; with step
    layers (a scoring per step, of the problems that have the step) the same holds."""
    solver, tok = tiny_solver(tiny_encoder, constants=("1",), stop_unused=stop_unused, step_layers=step_layers)
    train = load_splits("asdiv-a:0").train.trainable
    probs = [p for p in train if len(p.equation) >= 5][:6] + [p for p in train if len(p.equation) == 3][:6]
    encs = [tok.encode(p.text) for p in probs]
    steps = [tree_to_steps(parse_prefix(p.equation), len(e.numbers), ["1"], solver.cfg.ops) for p, e in zip(probs, encs)]
    batch = collate(encs, tok.pad_id, steps)
    assert len(set(batch.n_steps.tolist())) > 1  # ragged step counts exercise the masks
    ref, ref_logits = stepwise_loss(solver, batch)
    got, got_logits = solver(batch)
    torch.testing.assert_close(got, ref)
    for t, (r, g) in enumerate(zip(ref_logits, got_logits)):
        k = solver.decoder.pairs.n_ops
        m = int((r.shape[1] // k) ** 0.5)
        big = int((g.shape[1] // k) ** 0.5)
        active = batch.n_steps > t  # the scores of a step an equation does not have are not used
        g, r = g.view(-1, k, big, big)[:, :, :m, :m].flatten(1)[active], r[active]
        torch.testing.assert_close(g, r)
        assert torch.isinf(g).eq(torch.isinf(r)).all()
    trained = [p for p in solver.decoder.pairs.parameters() if p.requires_grad]
    trained += list(solver.decoder.step_mix.parameters())
    if stop_unused:
        trained += list(solver.decoder.unused.parameters()) + list(solver.decoder.unused_mlp.parameters())
    grads = [torch.autograd.grad(loss, trained, retain_graph=True) for loss in (ref, got)]
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_training_lowers_loss_and_reload_is_identical(tiny_encoder, tmp_path):
    solver, tok = tiny_solver(tiny_encoder, constants=())
    probs = load_splits("asdiv-a:0").train.trainable[:16]
    encs = [tok.encode(p.text) for p in probs]
    steps = [tree_to_steps(parse_prefix(p.equation), len(e.numbers), [], solver.cfg.ops) for p, e in zip(probs, encs)]
    batch = collate(encs, tok.pad_id, steps)
    opt = torch.optim.Adam(solver.parameters(), lr=3e-3)
    solver.train()
    first = solver(batch)[0].item()
    for _ in range(30):
        loss, _ = solver(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
    solver.eval()
    save_solver(solver, tok, tmp_path / "ckpt")
    again, tok2 = load_solver(tmp_path / "ckpt")
    a, b = predict(solver, tok, probs), predict(again, tok2, probs)
    assert [p.equation for p in a] == [p.equation for p in b]
    with torch.no_grad():
        h1 = solver.encode(batch).last_hidden_state
        h2 = again.encode(batch).last_hidden_state
    torch.testing.assert_close(h1, h2)


@pytest.mark.parametrize("step_layers", [0, 1])
def test_step_layers_let_greedy_decoding_build_two_computed_operands(tiny_encoder, tmp_path, step_layers):
    """(n0 + n1) * (n2 - n3) takes a step that does not use the result before it. Without step
    layers the pairs of earlier quantities keep their step-1 scores, so step 2 can only use the
    newest result or repeat step 1: however long it trains, greedy decoding cannot write it. With
    them every score may change as results are added, and the model learns it (saved and
    reloaded alike)."""
    solver, tok = tiny_solver(tiny_encoder, constants=(), step_layers=step_layers)
    texts = ["Tom has 3 red and 5 blue pens, then 9 boxes less 2.", "Ann counts 4 and 6, then 8 minus 1 more."]
    problems = [Problem(str(k), t, [], "* + n0 n1 - n2 n3".split(), 0.0, "t") for k, t in enumerate(texts)]
    encs = [tok.encode(p.text) for p in problems]
    steps = [tree_to_steps(parse_prefix(p.equation), len(e.numbers), [], solver.cfg.ops) for p, e in zip(problems, encs)]
    assert [tuple(s[1:]) for s in steps[0]] == [(0, 1), (2, 3), (4, 5)]  # step 2 leaves result 4 aside
    batch = collate(encs, tok.pad_id, steps)
    opt = torch.optim.Adam(solver.parameters(), lr=1e-2)
    solver.train()
    for _ in range(150):
        loss, _ = solver(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    solver.eval()
    decoded = [p.equation for p in predict(solver, tok, problems)]
    if not step_layers:
        assert "* + n0 n1 - n2 n3" not in decoded
        return
    assert decoded == ["* + n0 n1 - n2 n3"] * 2
    save_solver(solver, tok, tmp_path / "ckpt")
    again, tok2 = load_solver(tmp_path / "ckpt")
    assert again.cfg.step_layers == 1 and [p.equation for p in predict(again, tok2, problems)] == decoded


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="not a solver run: missing"):
        load_solver(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_solver(tmp_path / "nope")


def test_continue_weight_scales_only_the_stop_loss_of_steps_that_go_on(tiny_encoder):
    solver, tok = tiny_solver(tiny_encoder, constants=("1",))
    solver.eval()  # no dropout: the three losses see the same network
    train = load_splits("asdiv-a:0").train.trainable
    one = [p for p in train if len(p.equation) == 3][:4]
    two = [p for p in train if len(p.equation) == 5][:4]

    def loss(problems, w):
        encs = [tok.encode(p.text) for p in problems]
        steps = [tree_to_steps(parse_prefix(p.equation), len(e.numbers), ["1"], solver.cfg.ops) for p, e in zip(problems, encs)]
        return solver(collate(encs, tok.pad_id, steps), continue_weight=w)[0]

    with torch.no_grad():
        torch.testing.assert_close(loss(one, 3.0), loss(one, 1.0))  # one-step problems never go on
        base, heavier = loss(two, 1.0), loss(two, 3.0)
    assert heavier > base


def test_stop_threshold_sets_how_sure_the_stop_head_must_be(tiny_encoder):
    """Greedy decoding goes on until the stop probability passes the threshold (default 0.5, what
    the runtime does). A stop head that grows surer each step (0.6, 0.9, 0.99, ...) is asked once
    per step, so the number of calls is the number of steps taken."""
    from edgemath.features import encode_all

    solver, tok = tiny_solver(tiny_encoder)
    problems = [Problem(str(i), t, [], None, 0.0, "t") for i, t in
                enumerate(["Tom has 3 apples and buys 5 more.", "A 12 by 7 room costs 4 dollars per foot."])]
    batch = collate(encode_all(problems, tok), tok.pad_id)

    class SurerEachStep(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def forward(self, new):
            p = [0.6, 0.9, 0.99, 0.999, 0.9999][self.calls]
            self.calls += 1
            return torch.full((new.shape[0], 1), float(torch.logit(torch.tensor(p))))

    def steps(**kw):
        solver.decoder.stop = SurerEachStep()
        solver.decode(batch, **kw)
        return solver.decoder.stop.calls

    assert steps() == steps(stop_threshold=0.5) == 1
    assert steps(stop_threshold=0.7) == 2
    assert steps(stop_threshold=0.95) == 3
    assert steps(stop_threshold=1.01) == solver.cfg.max_steps == 5
    # while text numbers are left unused the other threshold decides: "A 12 by 7 room costs 4
    # dollars per foot." has three, and no step uses more than two, so the 0.6 of step 1 is not enough
    assert steps(unused_stop_threshold=0.5) == 1
    assert steps(unused_stop_threshold=0.7) >= 2


def test_stop_unused_counts_the_text_numbers_no_step_has_used(tiny_encoder):
    """The stop head's extra input: text numbers left once the new quantity is made (a number used
    twice counts once; constants and earlier results are not text numbers), bucketed at 3+. The
    head is set up here so that its logit is that bucket."""
    solver, _ = tiny_solver(tiny_encoder, stop_unused=True)
    dec = solver.decoder
    with torch.no_grad():
        dec.stop.weight.zero_(), dec.stop.bias.zero_()
        dec.unused.weight.zero_()
        dec.unused.weight[:, 0] = torch.arange(4.0)  # bucket k -> k in the first coordinate
    dec.unused_mlp = torch.nn.Linear(16, 1)
    with torch.no_grad():
        dec.unused_mlp.weight.zero_(), dec.unused_mlp.bias.zero_()
        dec.unused_mlp.weight[0, 0] = 1.0  # reads the first coordinate back
    new = torch.zeros(2, 16)

    def left(unused, i, j):
        return dec.stop_logit(new, unused, torch.tensor(i), torch.tensor(j)).tolist()

    num_mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    unused = dec.first_unused(num_mask, 6)  # 4 number slots + 2 constants
    assert unused.tolist() == [[True, True, True, False, False, False], [True, True, True, True, False, False]]
    assert left(unused, [0, 0], [1, 0]) == [1, 3]  # a number used twice counts once
    assert left(unused, [0, 4], [4, 5]) == [2, 3]  # constants (slots 4, 5) are not text numbers
    after = dec.mark_used(unused, torch.tensor([0, 0]), torch.tensor([1, 2]))
    assert after.tolist() == [[False, False, True, False, False, False], [False, True, False, True, False, False]]
    assert left(after, [2, 1], [4, 3]) == [0, 0]


def test_stop_unused_decodes_greedily_and_refuses_beam_and_export(tiny_encoder, tmp_path):
    from edgemath.features import encode_all
    from edgemath.export.graphs import export_graphs

    solver, tok = tiny_solver(tiny_encoder, stop_unused=True)
    problems = [Problem("0", "Tom has 3 apples and buys 5 more, then 2.", [], None, 0.0, "t")]
    batch = collate(encode_all(problems, tok), tok.pad_id)
    tree = solver.decode(batch)[0]
    assert all(int(t[1:]) < 3 for t in to_prefix(tree) if t.startswith("n"))
    with pytest.raises(ValueError, match="beam search does not track unused numbers"):
        solver.decode(batch, beam=3)
    with pytest.raises(ValueError, match="--stop-unused, which export"):
        export_graphs(solver, tmp_path, 17)


def test_train_stop_unused_is_recorded_and_kept_by_init(tiny_encoder, tiny_teacher, tmp_path):
    """`train --stop-unused` writes it into solver.json and the manifest; --init from a run
    without it refuses the flag (the decoder it keeps has no such head)."""
    import json

    from edgemath.train import TrainConfig, run

    out = run(TrainConfig(data="asdiv-a:0", out=tmp_path / "su", encoder=str(tiny_encoder), limit=16, max_steps=2,
                          epochs=1, hidden=16, stop_unused=True))
    assert json.loads((out / "checkpoint" / "solver.json").read_text())["stop_unused"] is True
    assert json.loads((out / "manifest.json").read_text())["config"]["stop_unused"] is True
    solver, _ = load_solver(out)
    assert solver.cfg.stop_unused and hasattr(solver.decoder, "unused_mlp")
    with pytest.raises(ValueError, match="was trained without it"):
        run(TrainConfig(data="asdiv-a:0", out=tmp_path / "init", init=str(tiny_teacher), limit=16, max_steps=2,
                        epochs=1, stop_unused=True))


def test_label_smoothing_spreads_the_target_over_the_valid_steps_only(tiny_encoder):
    """eps = 0 is the plain loss; eps > 0 is (1 - eps) * CE + eps * the mean -log p over the valid
    (op, i, j) of each step, finite although most of the step's scores are -inf."""
    solver, tok = tiny_solver(tiny_encoder, constants=("1",))
    train = load_splits("asdiv-a:0").train.trainable
    problems = [p for p in train if len(p.equation) == 5][:2] + [p for p in train if len(p.equation) == 3][:1]
    encs = [tok.encode(p.text) for p in problems]
    steps = [tree_to_steps(parse_prefix(p.equation), len(e.numbers), ["1"], solver.cfg.ops) for p, e in zip(problems, encs)]
    batch = collate(encs, tok.pad_id, steps)
    with torch.no_grad():
        plain, logits = solver(batch)
        torch.testing.assert_close(solver(batch, label_smoothing=0.0)[0], plain)
        smooth = solver(batch, label_smoothing=0.2)[0]
        by_hand = 0.0
        for t, flat in enumerate(logits):  # the stop loss is the same in both: swap only the step terms
            logp = flat.log_softmax(-1)
            gold = batch.steps[:, t]
            m = round((flat.shape[1] / len(solver.cfg.ops)) ** 0.5)
            ce = -logp[torch.arange(len(encs)), (gold[:, 0] * m + gold[:, 1]) * m + gold[:, 2]]
            uniform = -logp.masked_fill(~flat.isfinite(), 0.0).sum(-1) / flat.isfinite().sum(-1)
            active = batch.n_steps > t  # the one-step problem has no second step to smooth
            by_hand += (0.2 * (uniform - ce))[active].sum()
    assert smooth.isfinite() and smooth != plain
    torch.testing.assert_close(smooth, plain + by_hand / batch.n_steps.sum())


def test_rdrop_pulls_two_dropout_passes_together(tiny_encoder, tmp_path):
    """Without dropout (eval) both passes agree: R-drop's KL is 0 and the loss is the task loss; with
    dropout on the KL is positive and has a gradient. `train --rdrop` runs and logs the term; it
    refuses a negative weight and a --teacher."""
    from edgemath.rdrop import rdrop_loss_fn
    from edgemath.train import TrainConfig, run

    solver, tok = tiny_solver(tiny_encoder)
    problems = [p for p in load_splits("asdiv-a:0").train.trainable if len(p.equation) == 5][:3]
    encs = [tok.encode(p.text) for p in problems]
    steps = [tree_to_steps(parse_prefix(p.equation), len(e.numbers), list(solver.cfg.constants), solver.cfg.ops)
             for p, e in zip(problems, encs)]
    batch = collate(encs, tok.pad_id, steps)
    loss_fn = rdrop_loss_fn(solver, weight=2.0)
    solver.eval()
    with torch.no_grad():
        loss, terms = loss_fn(batch)
        torch.testing.assert_close(loss, solver(batch)[0])
        assert float(terms["rdrop"]) == pytest.approx(0.0, abs=1e-6)
    solver.train()
    torch.manual_seed(0)
    loss, terms = loss_fn(batch)
    assert float(terms["rdrop"]) > 1e-6
    torch.testing.assert_close(loss.detach(), terms["task"] + 2.0 * terms["rdrop"])
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in solver.decoder.parameters())

    out = run(TrainConfig(data="asdiv-a:0", out=tmp_path / "rd", encoder=str(tiny_encoder), limit=16, max_steps=2,
                          epochs=1, hidden=16, rdrop=1.0))
    assert (out / "checkpoint").is_dir()
    with pytest.raises(ValueError, match="--rdrop must be non-negative"):
        TrainConfig(data="asdiv-a:0", rdrop=-1.0)
    with pytest.raises(ValueError, match="without a teacher"):
        TrainConfig(data="asdiv-a:0", rdrop=1.0, teacher="runs/x")
