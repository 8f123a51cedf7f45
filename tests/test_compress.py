"""Compression pieces with plain numbers, then the whole stage on a tiny teacher."""
import json

import pytest

torch = pytest.importorskip("torch")

from edgemath.kd import step_kl
from edgemath.compress.schedule import cubic_schedule, select_heads
from edgemath.compress.score import head_importance, normalise
from edgemath.compress.structure import bake_heads, encoder_flops, param_counts


def test_cubic_schedule():
    assert cubic_schedule(0, 100, 0.0, 0.3) == pytest.approx(0.0)
    assert cubic_schedule(100, 100, 0.0, 0.3) == pytest.approx(0.3)
    assert cubic_schedule(50, 100, 0.0, 0.3) == pytest.approx(0.3 - 0.3 * 0.125)
    assert cubic_schedule(50, 100, 0.1, 0.3, n=1) == pytest.approx(0.2)
    assert cubic_schedule(500, 100, 0.0, 0.3) == pytest.approx(0.3)


def test_select_heads_prunes_lowest_and_keeps_one_per_layer():
    scores = torch.tensor([[0.1, 0.2, 0.9, 0.8], [0.0, 0.05, 0.01, 0.02]])
    keep = select_heads(scores, 0.5)
    assert int((~keep).sum()) == 4
    assert keep.sum(1).min() >= 1
    keep = select_heads(scores, 0.9)  # floor(7.2) = 7 but each layer keeps one
    assert keep.sum(1).tolist() == [1, 1]
    assert keep[0, 2] and keep[1, 1]
    keep = select_heads(scores, 0.5, min_per_layer=3)  # 4 wanted, but each layer may lose only one
    assert keep.tolist() == [[False, True, True, True], [False, True, True, True]]


def test_importance_sign_convention():
    norm = torch.tensor([[1.0, 1.0]])
    ent = torch.tensor([[0.1, 2.0]])
    low = head_importance(norm, ent, alpha=0.0, entropy_sign="low")
    high = head_importance(norm, ent, alpha=0.0, entropy_sign="high")
    assert low[0, 0] > low[0, 1] and high[0, 1] > high[0, 0]
    assert normalise(torch.tensor([2.0, 4.0])).tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="alpha"):
        head_importance(norm, ent, alpha=2.0)


def test_step_kl_zero_for_identical_and_positive_otherwise():
    a = torch.tensor([[1.0, 2.0, float("-inf")]])
    b = torch.tensor([[2.0, 1.0, float("-inf")]])
    n = torch.tensor([1])
    assert step_kl([a], [a], n, 2.0).item() == pytest.approx(0.0, abs=1e-7)
    assert step_kl([b], [a], n, 2.0).item() > 0


def test_bake_matches_mask_and_reloads(tiny_encoder, tmp_path):
    from transformers import AutoModel

    enc = AutoModel.from_pretrained(tiny_encoder, add_pooling_layer=False, attn_implementation="eager").eval()
    mask = torch.tensor([[True, False, True, False], [False, False, False, True]])
    ids = torch.randint(1000, 2000, (2, 9))
    att = torch.ones(2, 9, dtype=torch.long)
    att[1, 6:] = 0
    with torch.no_grad():
        ref = enc(input_ids=ids, attention_mask=att, head_mask=mask.float()).last_hidden_state
    full = param_counts(enc)
    predicted = param_counts(enc, mask)
    flops_before, flops_after = encoder_flops(enc, 9), encoder_flops(enc, 9, mask)
    bake_heads(enc, mask)
    assert param_counts(enc)["attention"] == predicted["attention"] < full["attention"]
    assert sum(p.numel() for p in enc.parameters()) == predicted["total"]
    assert encoder_flops(enc, 9) == flops_after < flops_before
    enc.save_pretrained(tmp_path / "baked", safe_serialization=True)
    again = AutoModel.from_pretrained(tmp_path / "baked", add_pooling_layer=False).eval()
    assert [l.attention.self.num_attention_heads for l in again.encoder.layer] == [2, 1]
    with torch.no_grad():
        got = again(input_ids=ids, attention_mask=att).last_hidden_state
    torch.testing.assert_close(got[att.bool()], ref[att.bool()], atol=1e-5, rtol=0)


def test_bake_refuses_empty_layer(tiny_encoder):
    from transformers import AutoModel

    enc = AutoModel.from_pretrained(tiny_encoder, add_pooling_layer=False)
    with pytest.raises(ValueError, match="at least one head"):
        bake_heads(enc, torch.tensor([[True] * 4, [False] * 4]))


def test_compress_stage_rounds_bake_and_resume(tiny_teacher, tmp_path):
    from transformers import AutoModel

    from edgemath.compress.run import CompressConfig, run

    cfg = dict(teacher=tiny_teacher, data="asdiv-a:0", out=tmp_path / "student", prune_heads=0.5, rounds=2,
               limit=32, max_steps=3, epochs=1, batch_size=8, refresh_every=1, device="cpu")
    out = run(CompressConfig(**cfg))
    doc = json.loads((out / "manifest.json").read_text())
    m = doc["metrics"]
    assert [r["ratio"] for r in m["rounds"]] == [0.25, 0.5]
    assert sum(m["rounds"][-1]["kept_per_layer"]) == 4
    assert m["bake_check"]["identical_equations"] == m["bake_check"]["problems"]
    assert m["bake_check"]["max_abs_diff"] < 1e-5
    assert m["after"]["params"]["attention"] < m["before"]["params"]["attention"]
    assert m["after"]["flops"] < m["before"]["flops"]
    enc = AutoModel.from_pretrained(out / "checkpoint" / "encoder")
    assert sum(l.attention.self.num_attention_heads for l in enc.encoder.layer) == 4
    # resume: both rounds are finished, so only the bake runs again
    (out / "checkpoint").rename(tmp_path / "old")
    stamps = [p.stat().st_mtime_ns for p in sorted((out / "rounds").glob("*/round.json"))]
    run(CompressConfig(**cfg, resume=True))
    assert [p.stat().st_mtime_ns for p in sorted((out / "rounds").glob("*/round.json"))] == stamps
    assert (out / "checkpoint" / "decoder.safetensors").is_file()
    with pytest.raises(FileExistsError, match="already holds a run"):
        run(CompressConfig(**cfg))  # fresh: would replace the finished rounds


def test_compress_stopped_and_killed_inside_a_round_resumes_exactly(tiny_teacher, tmp_path, kill_after_save):
    """A round stopped on its time budget, then killed inside its last epoch (its masks fixed at the
    final ratio, its best student kept from the epoch before), resumed: the same masks, losses and
    weights as an uninterrupted run."""
    from safetensors.torch import load_file

    from edgemath.compress.run import CompressConfig, round_state, run

    cfg = dict(teacher=tiny_teacher, data="asdiv-a:0", prune_heads=0.5, rounds=2, limit=32, epochs=3, batch_size=4,
               refresh_every=1, prune_frac=0.5, device="cpu", save_every=0)
    whole = run(CompressConfig(**cfg, out=tmp_path / "whole"))
    parts = tmp_path / "parts"
    run(CompressConfig(**cfg, out=parts, time_budget=0))  # stops after round 1's first epoch
    assert round_state(parts, 1).is_file() and not (parts / "manifest.json").exists()

    saves = kill_after_save(11)  # right after batch 3 of epoch 3 (epoch 2: 7 saves inside, 1 at its end)
    with pytest.raises(KeyboardInterrupt):
        run(CompressConfig(**cfg, out=parts, resume=True))
    assert len(saves) == 11 and saves[-1]["next"] == 3 and not (parts / "rounds" / "round1" / "round.json").exists()

    run(CompressConfig(**cfg, out=parts, resume=True))
    want, got = (json.loads((d / "manifest.json").read_text())["metrics"] for d in (whole, parts))
    assert not list((parts / "rounds").glob("*.state.pt")), "a finished round leaves no state behind"
    for a, b in zip(want["rounds"], got["rounds"]):
        assert a["kept_per_layer"] == b["kept_per_layer"] and a["dev_acc"] == b["dev_acc"]
    for a, b in zip(want["histories"], got["histories"]):
        assert [h["loss"] for h in a] == pytest.approx([h["loss"] for h in b], abs=1e-5)
    w, g = (load_file(str(d / "checkpoint" / "decoder.safetensors")) for d in (whole, parts))
    assert max((w[k] - g[k]).abs().max().item() for k in w) < 1e-4


def test_compress_bad_args():
    from edgemath.compress.run import CompressConfig

    with pytest.raises(ValueError, match="--prune-heads"):
        CompressConfig(prune_heads=1.5)
    with pytest.raises(ValueError, match="--min-heads"):
        CompressConfig(min_heads=0)


def test_ddp_two_cpu_ranks_agree_on_masks(tiny_teacher, tmp_path):
    """torchrun with 2 gloo processes: both ranks end with the same mask and the same weights."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", "29517", str(worker), str(tiny_teacher), str(tmp_path)],
                         capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2
    assert r0["mask"] == r1["mask"] and sum(map(sum, r0["mask"])) == 4
    assert r0["ffn"] == r1["ffn"] and sum(map(sum, r0["ffn"])) == 64
    assert r0["checksum"] == pytest.approx(r1["checksum"], rel=1e-9)


def test_random_scorer_run_keeps_the_structure_it_always_kept(tiny_teacher, tmp_path):
    """With ``--scorer random`` every choice (layers, heads, FFN neurons) is a pure function of the
    seeds, the schedule and the shapes, not of weights or kernels: these are the units the stage
    kept before the pruners went behind one protocol (recorded on the code of 2786766), so a
    refactor that changes seeds, schedule, selection or layer bookkeeping fails here."""
    from edgemath.compress.run import CompressConfig, run

    out = run(CompressConfig(teacher=tiny_teacher, data="asdiv-a:0", out=tmp_path / "s", scorer="random", drop_layers=1,
                             prune_heads=0.5, prune_ffn=0.5, rounds=2, limit=32, max_steps=3, epochs=1, batch_size=8,
                             refresh_every=1, device="cpu"))

    def bits(kept):  # FFN neurons kept per layer, as a 64-bit mask in hex
        return [format(sum(1 << i for i in k), "016x") for k in kept]

    rounds = [json.loads((out / "rounds" / f"round{r}" / "round.json").read_text()) for r in (1, 2)]
    assert [r["layers_kept"] for r in rounds] == [[0, 1], [0]]
    assert [r["mask"] for r in rounds] == [[[1, 0, 1, 1], [0, 1, 1, 1]], [[1, 0, 1, 0]]]
    assert [bits(r["ffn_kept"]) for r in rounds] == [["effd9bbdbdd6b9a5", "7faffbdf73bbd77f"], ["e6f847f1b238251a"]]
    m = json.loads((out / "manifest.json").read_text())["metrics"]
    assert (m["pruned_heads"], m["ffn_widths"], m["layers_kept"]) == ({"0": [1, 3]}, [32], [0])
