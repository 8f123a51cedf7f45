"""`edgemath web`: the shipped solver as a static site that solves in the browser.

    export dir (encoder.onnx, quantities.onnx, step.onnx, tokenizer.json, solver.json)
        + web/src (index.html, app.js, edgemath.js, unicode-tables.js, style.css)
        + onnxruntime-web (pinned in web/package-lock.json): the wasm-only ESM bundle and the
          plain SIMD wasm, the one variant the page uses
        --> SITE/ (index.html ... model/ ort/ site.json)

The page runs ``web/src/edgemath.js``: the tokenizer read from tokenizer.json, number extraction,
the greedy deductive decoding loop and the safe evaluator of ``runtime/``, in JavaScript.
:func:`parity` holds the two to each other in Node. Torch-free: the base install builds a site
(Node's npm fetches onnxruntime-web once, when ``web/node_modules`` lacks it).

    python -m edgemath.web parity [--tokens-only] [--saturating-int8] [--codepoints] [--model DIR] [--json FILE]
    python -m edgemath.web summary FILE          # what a report's mismatches have in common
    python -m edgemath.web reference ID...       # encoder vs onnx's reference evaluator
    python -m edgemath.web twin --out DIR        # the fp32 twin of an int8 export
    python -m edgemath.web page-model --out DIR  # the page's model (models/web) from an int8 export

Numbers and how they were measured: docs/web.md.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from edgemath.export.fp32_activations import GraphError, matmul_integer_in_fp32
from edgemath.runtime.solver import ModelDirError, check_model_dir

__all__ = ["WebConfig", "WebError", "build", "page_model", "page_model_dir", "site_sizes", "serve", "parity", "parity_texts", "web_root"]

ORT_DIST = Path("node_modules") / "onnxruntime-web" / "dist"
ORT_FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm")  # ESM bundle (glue inside) + plain SIMD wasm
PAGE_FILES = ("index.html", "app.js", "edgemath.js", "unicode-tables.js", "style.css")
MODEL_FILES = ("encoder.onnx", "quantities.onnx", "step.onnx", "tokenizer.json", "solver.json")
GZIP_LEVEL = 9
# What a page needs served with the right types (python's mimetypes lacks .mjs and .onnx on some systems).
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
         ".css": "text/css", ".json": "application/json", ".wasm": "application/wasm",
         ".onnx": "application/octet-stream", ".png": "image/png"}


class WebError(ValueError):
    """A site that cannot be built; the message says what to do."""


@dataclass
class WebConfig:
    model: Path
    """Export directory to ship (encoder.onnx, quantities.onnx, step.onnx, tokenizer.json, solver.json)."""
    out: Path
    """Site directory to write (replaced if it holds an earlier site)."""
    web: Path | None = None
    """The web/ template (package.json, package-lock.json, src/); default: :func:`web_root`."""


def web_root() -> Path:
    """web/ beside the source tree, else the copy installed inside the package (edgemath.webapp)."""
    here = Path(__file__).resolve().parent
    for cand in (here.parent / "web", here / "webapp"):
        if (cand / "package-lock.json").is_file() and (cand / "src" / "edgemath.js").is_file():
            return cand
    raise WebError(f"the web/ template (package.json, package-lock.json, src/) is neither at {here.parent / 'web'} "
                   f"nor at {here / 'webapp'}; reinstall edgemath")


def ensure_ort(web: Path, log: Callable[[str], None]) -> Path:
    """onnxruntime-web's dist folder, after `npm ci` in ``web`` if the files are missing."""
    dist = web / ORT_DIST
    if all((dist / f).is_file() for f in ORT_FILES):
        return dist
    if not os.access(web, os.W_OK):  # an installed package: install into a cache copy of the template
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgemath" / (
            "web-" + hashlib.sha256((web / "package-lock.json").read_bytes()).hexdigest()[:12])
        cache.mkdir(parents=True, exist_ok=True)
        for f in ("package.json", "package-lock.json"):
            shutil.copy2(web / f, cache / f)
        web, dist = cache, cache / ORT_DIST
        if all((dist / f).is_file() for f in ORT_FILES):
            return dist
    npm = shutil.which("npm")
    if npm is None:
        raise WebError(f"onnxruntime-web is not installed in {web}/node_modules and npm is not on PATH: install "
                       f"Node.js 18+ (with npm), or run `npm ci` in {web} on a machine that has it")
    log(f"web: onnxruntime-web missing in {web}/node_modules; running `npm ci` there (versions pinned by package-lock.json)")
    # --ignore-scripts: no dependency needs an install script to ship its files (protobufjs' only prints)
    r = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=web,
                       capture_output=True, text=True)
    if r.returncode != 0 or not all((dist / f).is_file() for f in ORT_FILES):
        raise WebError(f"`npm ci` in {web} failed (exit {r.returncode}): {(r.stderr or r.stdout).strip()[-800:]}")
    return dist


def check_tokenizer(path: Path) -> None:
    """Refuse, at build time, what the page's tokenizer does not implement (it never approximates)."""
    spec = json.loads(path.read_text(encoding="utf-8"))
    got = {"model": (spec.get("model") or {}).get("type"),
           "normalizer": (spec.get("normalizer") or {"type": "BertNormalizer"}).get("type"),
           "pre_tokenizer": (spec.get("pre_tokenizer") or {"type": "BertPreTokenizer"}).get("type")}
    want = {"model": "WordPiece", "normalizer": "BertNormalizer", "pre_tokenizer": "BertPreTokenizer"}
    bad = [f"{k} {got[k]} (needs {want[k]})" for k in want if got[k] != want[k]]
    if bad:
        raise WebError(f"{path}: the browser runtime reads BERT WordPiece tokenizers only: {', '.join(bad)}")


def build(cfg: WebConfig, log: Callable[[str], None] = print) -> dict:
    """Write the site; returns site.json's contents (files, sizes on disk and gzipped)."""
    model = check_model_dir(cfg.model)
    web = cfg.web or web_root()
    check_tokenizer(model / "tokenizer.json")
    dist = ensure_ort(web, log)
    out = Path(cfg.out)
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / "site.json").is_file()):
            raise WebError(f"{out} exists and is not an edgemath site (no site.json); give an empty or new --out")
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".site-", dir=out.parent))  # beside it: the rename stays on one disk
    try:
        for f in PAGE_FILES:
            shutil.copy2(web / "src" / f, tmp / f)
        (tmp / "ort").mkdir()
        for f in ORT_FILES:
            shutil.copy2(dist / f, tmp / "ort" / f)
        (tmp / "model").mkdir()
        for f in MODEL_FILES:
            shutil.copy2(model / f, tmp / "model" / f)
        manifest = json.loads((model / "manifest.json").read_text()) if (model / "manifest.json").is_file() else {}
        ort_version = json.loads((dist.parent / "package.json").read_text())["version"]
        sizes = site_sizes(tmp)
        info = {"model": {"name": model.resolve().name, "precision": manifest.get("precision", "?")},
                "onnxruntime_web": ort_version, "wasm": ORT_FILES[1], "threads": "1 by default (?threads=N needs COOP/COEP)",
                **sizes}
        (tmp / "site.json").write_text(json.dumps(info, indent=2) + "\n")
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


def site_sizes(site: Path) -> dict:
    """Bytes on disk and gzipped (level 9, each file alone, as a server sends it) of every file."""
    files = {}
    for p in sorted(site.rglob("*")):
        if p.is_file():
            raw = p.read_bytes()
            files[p.relative_to(site).as_posix()] = {"bytes": len(raw), "gzip_bytes": len(gzip.compress(raw, GZIP_LEVEL, mtime=0))}
    return {"files": files, "bytes": sum(f["bytes"] for f in files.values()),
            "gzip_bytes": sum(f["gzip_bytes"] for f in files.values()), "gzip_level": GZIP_LEVEL}


@contextlib.contextmanager
def serve(site: Path, host: str = "127.0.0.1", port: int = 0, isolate: bool = False) -> Iterator[str]:
    """Serve ``site`` over HTTP in a thread; yields the base URL. ``isolate`` adds COOP/COEP, which
    threaded wasm (?threads=N above 1) needs."""
    site = Path(site)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(site), **k)

        def guess_type(self, path):
            return TYPES.get(Path(str(path)).suffix, "application/octet-stream")

        def end_headers(self):
            self.send_header("Cache-Control", "no-store")
            if isolate:
                self.send_header("Cross-Origin-Opener-Policy", "same-origin")
                self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            super().end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer((host, port), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://{host}:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- parity with the Python runtime ---------------------------------------------------------------

def parity_texts(data_root: str | None = None, gsm8k: bool = True) -> list[tuple[str, str]]:
    """(id, text) of every embedded ASDiv-A and MAWPS problem (fold 0's train + dev is the whole
    set) and, where the shared data is present, the GSM8K test questions."""
    from edgemath.data import DataError, embedded_problems, gsm8k_texts

    out = [(f"{p.source}/{p.id}", p.text) for p in embedded_problems()]
    if gsm8k:
        try:
            out += [(f"gsm8k-test/{k}", t) for k, t in enumerate(gsm8k_texts("test", data_root))]
        except DataError:
            pass
    return out


def _node_rows(model: Path, items: list[tuple[str, str]], tokens_only: bool, web: Path) -> dict[str, dict]:
    node = shutil.which("node")
    if node is None:
        raise WebError("parity needs Node.js (`node` on PATH)")
    with tempfile.TemporaryDirectory() as d:
        inp = Path(d) / "in.jsonl"
        inp.write_text("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in items), encoding="utf-8")
        cmd = [node, str(web / "parity.mjs"), str(model), str(inp)] + (["--tokens-only"] if tokens_only else [])
        r = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8")
    if r.returncode != 0:
        raise WebError(f"node parity.mjs failed (exit {r.returncode}): {r.stderr.strip()[-2000:]}")
    rows = [json.loads(l) for l in r.stdout.split("\n") if l.strip()]  # not splitlines: \x85, \u2028 sit raw in JSON
    return {row["id"]: row for row in rows}


def _python_trace(solver, enc) -> tuple[list[float], list[int]]:
    """Per step of the Python runtime's greedy path: top-1 minus top-2 score, and the flat
    (op, i, j) index picked (for explaining mismatches)."""
    import numpy as np

    from edgemath.runtime.solver import collate_np

    ids, att, pool, num_mask = collate_np([enc], solver.tok.pad_id)
    q, qmask = solver.sessions["quantities.onnx"].run(None, {"hidden": solver.hidden(ids, att), "pool": pool, "num_mask": num_mask})
    margins, picks = [], []
    for t in range(solver.max_steps):
        scores, stop, cand = solver.sessions["step.onnx"].run(None, {"q": q, "q_mask": qmask})
        flat = scores.reshape(-1)
        top = np.sort(flat)[-2:]
        margins.append(float(top[1] - top[0]))
        best = int(flat.argmax())
        picks.append(best)
        if stop.reshape(-1)[best] > 0:
            break
        d = cand.shape[-1]
        q = np.concatenate([q, cand.reshape(-1, d)[best][None, None]], 1)
        qmask = np.concatenate([qmask, np.ones((1, 1), dtype=bool)], 1)
    return margins, picks


GRAPHS = ("encoder.onnx", "quantities.onnx", "step.onnx")


def _exact_graph(src: Path, dst: Path, activations: str, pick: re.Pattern | None) -> None:
    """One graph of :func:`exact_int8_copy` (``export.fp32_activations``), its errors as the site's."""
    try:
        matmul_integer_in_fp32(src, dst, activations, pick)
    except GraphError as e:
        raise WebError(str(e)) from e


def exact_int8_copy(model: Path, out: Path, activations: str = "int8", graphs: tuple[str, ...] = GRAPHS,
                    only: str | None = None) -> Path:
    """A copy of an int8 export whose MatMulInteger nodes compute in fp32, everything else unchanged;
    only in ``graphs``, and there only the nodes whose name matches the regex ``only`` (None: all).

    ``activations="int8"``: Cast(A) - a_zero, Cast(B) - b_zero, MatMul, Cast to int32. Every partial
    sum is an integer below 2**24, so the products are exact, as ONNX defines them and as
    onnxruntime-web's wasm kernels give them; MLAS's AVX2 u8s8 kernel (vpmaddubsw) saturates its
    int16 pair sums, so native onnxruntime on a CPU without VNNI does not.

    ``activations="fp32"``: the dequantized twin: x / scale takes the place of the rounded uint8
    activations (DynamicQuantizeLinear's scale still multiplies the product downstream), so the graph
    computes x @ (B - b_zero) * b_scale in fp32: the same int8 weights, no rounding of activations,
    where a 1e-6 difference between two fp32 kernels cannot flip a quantization step. Needs `onnx`."""
    if activations not in ("int8", "fp32"):
        raise ValueError(f"activations must be int8 or fp32, not {activations!r}")
    model, out = check_model_dir(model), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for f in MODEL_FILES:
        if not f.endswith(".onnx"):
            shutil.copy2(model / f, out / f)
    unknown = sorted(set(graphs) - set(GRAPHS))
    if unknown:
        raise WebError(f"unknown graphs {unknown}: choose from {', '.join(GRAPHS)}")
    pick = re.compile(only) if only else None
    for g in GRAPHS:
        if g not in graphs:
            shutil.copy2(model / g, out / g)
            continue
        _exact_graph(model / g, out / g, activations, pick)
    return out


PAGE_FP32 = (("quantities.onnx", None), ("step.onnx", None), ("encoder.onnx", r"attention/self/"))
"""Where the page's model computes in fp32 (graph, regex over MatMulInteger names; None: every node):
the two decoder graphs, whose step scores pick the equation, and the encoder's query/key/value
projections. Measured (docs/web.md): these are the int8 products whose rounding steps, crossed on one
side only by a 1e-6 kernel difference, part the page from the Python runtime; the encoder's other
MatMuls stay int8, so the page keeps most of int8's speed."""


def page_model_dir() -> Path:
    """The shipped page model, ``models/web``: :func:`page_model` of ``models/default``, beside it."""
    from edgemath.runtime.solver import default_model_dir

    return default_model_dir().parent / "web"


def page_model(model: Path, out: Path) -> Path:
    """The export the site ships: ``model``'s int8 weights unchanged (the same download), with the
    fp32 arithmetic of :data:`PAGE_FP32`, so the page and the Python runtime pick the same equation
    where a plain int8 export lets them part. ``manifest.json`` says where it came from. Needs `onnx`."""
    model, out = check_model_dir(model), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for f in MODEL_FILES:
        if not f.endswith(".onnx"):
            shutil.copy2(model / f, out / f)
    for graph, only in PAGE_FP32:  # every graph: each converted once, straight from the source
        _exact_graph(model / graph, out / graph, "fp32", re.compile(only) if only else None)
    manifest = json.loads((model / "manifest.json").read_text()) if (model / "manifest.json").is_file() else {}
    manifest["precision"] = "int8 weights; fp32 activations in the decoder graphs and the encoder's q/k/v"
    manifest["page_model"] = {"from": model.name, "fp32": [{"graph": g, "nodes": o or "all"} for g, o in PAGE_FP32],
                              "made_by": "python -m edgemath.web page-model --model FROM --out DIR",
                              "source_sha256": {g: hashlib.sha256((model / g).read_bytes()).hexdigest() for g in GRAPHS}}
    manifest["graph_bytes"] = {g: (out / g).stat().st_size for g in GRAPHS}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def parity(model: Path, items: list[tuple[str, str]], tokens_only: bool = False, web: Path | None = None,
           saturating_int8: bool = False, log: Callable[[str], None] = print) -> dict:
    """Python runtime vs web/src/edgemath.js in Node on the same texts: token ids, numbers (value,
    span, text, percent), number-token spans, and (unless ``tokens_only``) equations, answers and
    errors. Returns counts and every mismatch with what differed. The runtime computes int8
    products exactly, as the wasm kernels do; ``saturating_int8`` runs it on onnxruntime's default
    kernel instead (on x86 without VNNI it saturates: what the page was compared with before)."""
    from edgemath.runtime.solver import OnnxSolver
    from edgemath.runtime.tokenize import ProblemTokenizer

    model = check_model_dir(model)
    web = web or web_root()
    if not tokens_only:
        ensure_ort(web, log)
    js = _node_rows(model, items, tokens_only, web)
    tok = ProblemTokenizer.of_model(model, json.loads((model / "solver.json").read_text()))
    solver = None if tokens_only else OnnxSolver(model, threads=1, exact_int8=not saturating_int8)
    res = {"problems": len(items), "unique_texts": len({t for _, t in items}), "tokens_equal": 0, "numbers_equal": 0,
           "spans_equal": 0, "token_mismatches": [], "number_mismatches": []}
    if not tokens_only:
        res.update(equations_equal=0, answers_equal=0, errors_equal=0, equation_mismatches=[])
    for pid, text in items:
        row = js.get(pid)
        if row is None:
            raise WebError(f"node gave no row for {pid}")
        enc = tok.encode(text)
        nums = [[n.value, n.start, n.end, n.text, n.percent] for n in enc.numbers]
        if enc.ids == row["ids"]:
            res["tokens_equal"] += 1
        else:
            res["token_mismatches"].append({"id": pid, "text": text, "python": enc.ids, "js": row["ids"]})
        if nums == row["numbers"]:
            res["numbers_equal"] += 1
        else:
            res["number_mismatches"].append({"id": pid, "text": text, "python": nums, "js": row["numbers"]})
        res["spans_equal"] += [list(s) for s in enc.spans] == row["spans"] and enc.truncated == row["truncated"]
        if solver is None:
            continue
        sol = solver.solve_one(text)
        same_eq = sol.prefix == row["prefix"] and sol.equation == row["equation"]
        res["equations_equal"] += same_eq
        src = res.setdefault("by_source", {}).setdefault(pid.split("/")[0], {"problems": 0, "equations_equal": 0})
        src["problems"] += 1
        src["equations_equal"] += same_eq
        res["answers_equal"] += sol.answer == row["answer"]
        res["errors_equal"] += sol.error == row["error"]
        if not same_eq or sol.answer != row["answer"] or sol.error != row["error"]:
            pm, pp = _python_trace(solver, enc) if enc.numbers and any(e > s for s, e in enc.spans) else ([], [])
            res["equation_mismatches"].append({
                "id": pid, "text": text,
                "python": {"prefix": sol.prefix, "answer": sol.answer, "error": sol.error, "margins": pm, "picks": pp},
                "js": {"prefix": row["prefix"], "answer": row["answer"], "error": row["error"], "margins": row["margins"],
                       "picks": row.get("picks")},
                "cause": _cause(pm, pp, row["margins"] or [], row.get("picks") or [], saturating_int8)})
    if not tokens_only:
        res["python_int8_products"] = "onnxruntime's default kernel" if saturating_int8 else "exact (session.x64quantprecision)"
    return res


def _cause(pm: list[float], pp: list[int], jm: list[float], jp: list[int], saturating_int8: bool) -> str:
    """The first step where the greedy paths pick different (op, i, j), and how close each side's
    top two scores were there."""
    if not pp or not jp:
        return "one side did not decode"
    k = next((t for t in range(min(len(pp), len(jp))) if pp[t] != jp[t]), None)
    if k is None:  # same picks, one side stopped earlier: the stop head sits near 0 at step min(len)
        k = min(len(pp), len(jp)) - 1
        where = f"step {k + 1}: same (op, i, j), the stop head fired on one side only"
    else:
        where = f"step {k + 1}: a different (op, i, j) (top-1 minus top-2: Python {pm[k]:.4f}, JS {jm[k]:.4f})"
    why = ("native onnxruntime's int8 products differ from exact (MLAS u8s8 saturation on AVX2 without VNNI)"
           if saturating_int8 else "fp32 rounding (1e-6) moved an activation across a DynamicQuantizeLinear step")
    return f"{where}; {why}"


def reference_encoder(model: Path):
    """onnx's reference evaluator on ``model``'s encoder.onnx: numpy arithmetic, MatMulInteger in
    exact integers, the yardstick for both onnxruntimes. Needs `onnx`."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    m = onnx.load(str(Path(model) / "encoder.onnx"))
    for op in m.opset_import:  # the reference evaluator implements DequantizeLinear from opset 19 on
        if op.domain in ("", "ai.onnx"):
            op.version = max(op.version, 19)
    return ReferenceEvaluator(m)


def _one_text_feed(ids: list[int]) -> dict:
    """The encoder's inputs for one unpadded text."""
    import numpy as np

    return {"input_ids": np.array([ids]), "attention_mask": np.ones((1, len(ids)), dtype=np.int64)}


def reference_diffs(model: Path, session, texts: list[str]) -> list[float]:
    """Per text, max |encoder output - onnx's reference evaluator| for one onnxruntime session on
    ``model``'s encoder. With exact integer products most texts agree to ~1e-6; a few differ where
    a 1e-7 fp32 difference moves a dynamic quantization step (a per-tensor scale comes from the
    tensor's max), which then spreads. A saturating kernel is off by 0.2-0.4 on every text."""
    import numpy as np

    from edgemath.runtime.tokenize import ProblemTokenizer

    ref, tok = reference_encoder(model), ProblemTokenizer.from_file(Path(model) / "tokenizer.json")
    out = []
    for text in texts:
        feed = _one_text_feed(tok.encode(text).ids)
        out.append(float(np.abs(session.run(None, feed)[0] - ref.run(None, feed)[0]).max()))
    return out


def reference_check(model: Path, items: list[tuple[str, str]], web: Path | None = None) -> list[dict]:
    """Encoder output against onnx's reference evaluator (exact integer MatMulInteger), per text:
    max |difference| for native onnxruntime on the shipped graph (its default kernel, and with the
    exact int8 products the runtime asks for), native onnxruntime on :func:`exact_int8_copy`'s,
    onnxruntime-web's wasm in Node, and wasm against the exact copy.
    Needs `onnx`; slow (seconds a text)."""
    import numpy as np
    import onnxruntime as ort

    from edgemath.runtime.solver import session_options
    from edgemath.runtime.tokenize import ProblemTokenizer

    model, web = check_model_dir(model), web or web_root()
    ensure_ort(web, print)
    ref = reference_encoder(model)
    tok = ProblemTokenizer.from_file(model / "tokenizer.json")
    out = []
    with tempfile.TemporaryDirectory() as d:
        exact = exact_int8_copy(model, Path(d) / "exact")
        sess = {"native": ort.InferenceSession(str(model / "encoder.onnx")),
                "native_x64quantprecision": ort.InferenceSession(str(model / "encoder.onnx"), session_options()),
                "native_exact_int8_copy": ort.InferenceSession(str(exact / "encoder.onnx"))}
        inp = Path(d) / "in.jsonl"
        inp.write_text("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in items), encoding="utf-8")
        r = subprocess.run([shutil.which("node") or "node", str(web / "parity.mjs"), str(model), str(inp), "--hidden", d],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise WebError(f"node parity.mjs --hidden failed: {r.stderr.strip()[-1000:]}")
        for k, (pid, text) in enumerate(items):
            enc = tok.encode(text)
            feed = _one_text_feed(enc.ids)
            want = ref.run(None, feed)[0]
            row, got = {"id": pid, "tokens": len(enc.ids)}, {}
            for name, s in sess.items():
                got[name] = s.run(None, feed)[0]
                row[name] = float(np.abs(got[name] - want).max())
            js = np.fromfile(Path(d) / f"{k}.f32", dtype=np.float32).reshape(want.shape)
            row["wasm"] = float(np.abs(js - want).max())
            row["wasm_vs_native_exact_int8_copy"] = float(np.abs(js - got["native_exact_int8_copy"]).max())
            out.append(row)
    return out


def mismatch_summary(res: dict) -> dict:
    """What the equation mismatches of a parity report have in common: where the two greedy paths
    part, and the smaller of the two sides' top-1 minus top-2 scores at the step they part."""
    import statistics

    kinds, gaps = {}, []
    for m in res.get("equation_mismatches", []):
        pp, jp = m["python"].get("picks") or [], m["js"].get("picks") or []
        k = next((t for t in range(min(len(pp), len(jp))) if pp[t] != jp[t]), None)
        if k is None:
            kind = f"same picks, the stop head fired on one side only (step {min(len(pp), len(jp))})"
        else:
            kind = f"a different (op, i, j) at step {k + 1}"
            gaps.append(min(m["python"]["margins"][k], m["js"]["margins"][k]))
        kinds[kind] = kinds.get(kind, 0) + 1
    out = {"equation_mismatches": len(res.get("equation_mismatches", [])), "kinds": dict(sorted(kinds.items())),
           "same_answer_anyway": sum(m["python"]["answer"] == m["js"]["answer"] for m in res.get("equation_mismatches", []))}
    if gaps:
        out["top2_gap_where_picks_part"] = {"median": round(statistics.median(gaps), 4), "max": round(max(gaps), 4),
                                            "below_0.5": sum(g < 0.5 for g in gaps), "of": len(gaps)}
    return out


def _main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m edgemath.web", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("parity", help="Python runtime vs the page's JavaScript (in Node) on ASDiv-A, MAWPS and GSM8K test")
    p.add_argument("--model", type=Path, default=None, help="export directory (default: models/web, the site's model)")
    p.add_argument("--tokens-only", action="store_true")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--json", type=Path, default=None, help="write the whole report (every mismatch) here")
    p.add_argument("--saturating-int8", action="store_true",
                   help="Python on onnxruntime's default int8 kernel (saturates on x86 without VNNI), not the exact one")
    p.add_argument("--codepoints", action="store_true",
                   help="instead of problems: one text per Unicode code point (surrogates aside), tokens and numbers only")
    r = sub.add_parser("reference", help="encoder output vs onnx's reference evaluator: native, exact-int8 copy, wasm")
    r.add_argument("ids", nargs="+", help="problem ids as parity lists them (gsm8k-test/1152, asdiv-a/...)")
    r.add_argument("--model", type=Path, default=None)
    su = sub.add_parser("summary", help="what the mismatches of a parity --json report have in common")
    su.add_argument("report", type=Path)
    t = sub.add_parser("twin", help="write exact_int8_copy of an export (--activations fp32: the dequantized twin)")
    t.add_argument("--model", type=Path, default=None)
    t.add_argument("--activations", choices=["int8", "fp32"], default="fp32")
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--graphs", default=",".join(GRAPHS), help="comma-separated graphs to convert (the others are copied)")
    t.add_argument("--only", default=None, help="regex: convert only the MatMulInteger nodes whose name matches")
    pm = sub.add_parser("page-model", help="the export the site ships: fp32 arithmetic where the page and Python part ways")
    pm.add_argument("--model", type=Path, default=None, help="int8 export (default: models/default)")
    pm.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    from edgemath.runtime.solver import default_model_dir as default_model

    if a.cmd == "summary":
        res = json.loads(a.report.read_text())
        print(json.dumps({"by_source": res.get("by_source"), **mismatch_summary(res)}, indent=1))
        return 0
    if a.cmd == "reference":
        texts = dict(parity_texts())
        missing = [i for i in a.ids if i not in texts]
        if missing:
            ap.error(f"unknown problem ids {missing}")
        for row in reference_check(a.model or default_model(), [(i, texts[i]) for i in a.ids]):
            print(json.dumps(row))
        return 0
    if a.cmd == "twin":
        try:
            print(exact_int8_copy(a.model or default_model(), a.out, a.activations, tuple(a.graphs.split(",")), a.only))
        except WebError as e:
            ap.exit(2, f"error: {e}\n")
        return 0
    if a.cmd == "page-model":
        try:
            print(page_model(a.model or default_model(), a.out))
        except (WebError, ModelDirError) as e:
            ap.exit(2, f"error: {e}\n")
        return 0
    if a.codepoints:  # each character inside a word, beside a sign, a number and a fraction
        items = [(f"cp/{cp:x}", f"x{chr(cp)}x -{chr(cp)}5{chr(cp)}1/2") for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    else:
        items = parity_texts(a.data_dir)
    items = items[: a.limit]
    model = a.model or page_model_dir()  # what the site ships
    res = parity(model, items, a.tokens_only or a.codepoints, saturating_int8=a.saturating_int8)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(res, indent=1, ensure_ascii=False) + "\n")
    summary = {k: v for k, v in res.items() if not isinstance(v, list)}
    summary["model"] = str(model)
    summary.update({k: len(v) for k, v in res.items() if isinstance(v, list)})
    print(json.dumps(summary))
    for m in res.get("equation_mismatches", []):
        print(f"{m['id']}: python {m['python']['prefix']} | js {m['js']['prefix']} | {m['cause']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
