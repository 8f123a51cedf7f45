"""`edgemath web`: the site it writes, the page's JavaScript against the Python runtime (in Node),
and the page itself in headless Chromium."""
import json
import random
import shutil
import urllib.parse
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgemath.cli import app, default_model
from edgemath.runtime.numbers import format_number
from edgemath.web import GRAPHS, WebConfig, WebError, build, page_model_dir, parity, parity_texts, serve, web_root

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Debian's chromium on a closed network: no first-run, sync, component or QUIC traffic, fresh profile.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOM = "Tom has 3 apples and buys 5 more. How many apples does he have?"


def _have_ort() -> bool:
    dist = web_root() / "node_modules" / "onnxruntime-web" / "dist"
    return (dist / "ort-wasm-simd-threaded.wasm").is_file()


def _needs_node():
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed (`node` not on PATH): the JavaScript runtime cannot run")


def _needs_ort():
    _needs_node()
    if not _have_ort() and shutil.which("npm") is None:
        pytest.skip("onnxruntime-web is not in web/node_modules and npm is not installed to fetch it")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    _needs_ort()
    out = tmp_path_factory.mktemp("web") / "site"
    res = runner.invoke(app, ["web", "--out", str(out)])
    if res.exit_code != 0 and not _have_ort() and "npm ci" in res.output:
        pytest.skip(f"onnxruntime-web cannot be installed here: {res.output.strip()[-300:]}")
    assert res.exit_code == 0, res.output
    assert "MB on disk" in res.output and "gzipped" in res.output
    return out


def test_site_holds_page_model_and_one_wasm(site):
    for f in ("index.html", "app.js", "edgemath.js", "style.css", "site.json", "model/encoder.onnx",
              "model/quantities.onnx", "model/step.onnx", "model/tokenizer.json", "model/solver.json",
              "ort/ort.wasm.bundle.min.mjs", "ort/ort-wasm-simd-threaded.wasm"):
        assert (site / f).is_file(), f
    assert [p.name for p in site.rglob("*.wasm")] == ["ort-wasm-simd-threaded.wasm"]
    info = json.loads((site / "site.json").read_text())
    on_disk = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    assert on_disk <= 25e6, f"site is {on_disk / 1e6:.1f} MB"
    assert info["bytes"] == on_disk - (site / "site.json").stat().st_size
    assert 0 < info["gzip_bytes"] < info["bytes"]
    for g in GRAPHS:  # the page model, by default
        assert (site / "model" / g).read_bytes() == (page_model_dir() / g).read_bytes(), g
    html = (site / "index.html").read_text()
    assert "default-src 'self'" in html and "http" not in html.split("<body")[1]  # no outside URL in the page


def test_web_rebuilds_over_its_own_site_but_not_over_other_folders(site, tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    res = runner.invoke(app, ["web", "--out", str(other)])
    assert res.exit_code == 1 and "not an edgemath site" in res.output
    assert (other / "keep.txt").is_file()
    build(WebConfig(model=default_model(), out=site), log=lambda m: None)  # over an earlier site: replaced
    assert (site / "site.json").is_file()


def test_web_builds_from_the_base_install_without_torch(tmp_path):
    _needs_ort()
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = sys.modules['transformers'] = None; "
            "from edgemath.cli import app; app(['web', '--out', sys.argv[1]])")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "site")], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "site" / "ort" / "ort-wasm-simd-threaded.wasm").is_file() and "gzipped" in r.stderr


def test_web_bad_model_dir_is_a_clear_error(tmp_path):
    res = runner.invoke(app, ["web", "--model", str(tmp_path / "none"), "--out", str(tmp_path / "site")])
    assert res.exit_code == 1 and "does not exist" in res.output


def test_web_refuses_a_tokenizer_the_page_does_not_implement(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(default_model(), model)
    spec = json.loads((model / "tokenizer.json").read_text())
    spec["model"]["type"] = "Unigram"
    (model / "tokenizer.json").write_text(json.dumps(spec))
    with pytest.raises(WebError, match="BERT WordPiece tokenizers only: model Unigram"):
        build(WebConfig(model=model, out=tmp_path / "site"), log=lambda m: None)


def _fuzz_texts(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """Strings built from what trips tokenizers and number readers: accents, combining marks, CJK,
    other digits, odd spaces, controls, emoji, special-token names, fractions, signs, long words."""
    rng = random.Random(seed)
    pieces = list("abcxyzABCXYZ0123456789012345 .,-/%()$:;!?'\"[]#&*+=_^~@|\\") + [
        "\t", "\n", "\r", "\x0b", "\x1c", "\x85", "\xa0", "\u2003", "\u3000", "\u200b", "\ufeff", "\x00", "\ufffd",
        "\u00ad", "é", "É", "e\u0301", "\u0301", "ß", "İ", "Σ", "ﬁ", "ø", "中", "数", "\u3400", "\U00020000",
        "\U0002b820", "한", "１", "٣", "०", "²", "①", "½", "\U0001d7d9", "😀", "👍🏽", "–", "…", "“", "€", "×", "÷",
        "[CLS]", "[SEP]", "[UNK]", "[MASK]", "[cls]", "##s", "3,400", "2 1/2", "(1/6)", "1(5/6)", "-7", "5-3", "25%",
        ".75", "1/0", "-2.5", "1,000,000.5", "12,34", "7.", "a-4", "(2) -1", "apples", "how many", "x" * 120]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 40))) for _ in range(n)]

    def anywhere() -> str:  # any code point but a surrogate, often a new or unassigned one
        cp = rng.choice([rng.randint(0x20, 0x7E), rng.randint(0x80, 0x2FFF), rng.randint(0x3000, 0xFFFF), rng.randint(0x10000, 0x10FFFF)])
        return "A" if 0xD800 <= cp <= 0xDFFF else chr(cp)

    texts += ["".join(anywhere() for _ in range(rng.randint(1, 40))) for _ in range(n // 2)]
    return [(f"fuzz/{k}", t) for k, t in enumerate(texts)]


def test_js_tokens_and_numbers_equal_pythons_on_every_problem_and_fuzz():
    """Token ids, numbers (value, span, text, percent) and number-token spans, on all embedded
    ASDiv-A and MAWPS problems, GSM8K test where the shared data is, and 3,000 fuzzed strings."""
    _needs_node()
    items = parity_texts() + _fuzz_texts(2000)
    res = parity(default_model(), items, tokens_only=True)
    assert res["problems"] >= 3100
    assert res["tokens_equal"] == res["numbers_equal"] == res["spans_equal"] == len(items), \
        (res["token_mismatches"][:3], res["number_mismatches"][:3])


EDGE_CASES = [
    ("edge/empty", ""), ("edge/blank", " \t\u3000"), ("edge/no-numbers", "How many apples are there?"),
    ("edge/too-many", " ".join(str(k) for k in range(30)) + " apples. How many?"),
    ("edge/long", "Tom has 3 apples. " + "He likes apples very much. " * 60 + "He buys 5 more. How many?"),
    ("edge/beyond", "word " * 300 + "Tom has 3 apples and 5 pears."),
    ("edge/unicode", "Zoë has ２ pens and 5½ pencils… 3,400 erasers; (1/6) of them are 25% blue. How many?"),
]


def test_unicode_tables_come_from_the_installed_tokenizers():
    """web/src/unicode-tables.js holds tokenizers' and Python's character classes; regenerate it
    (python web/gen_tables.py) when either changes."""
    import sys
    import unicodedata

    import tokenizers

    head = (web_root() / "src" / "unicode-tables.js").read_text().splitlines()[0]
    assert f"tokenizers {tokenizers.__version__} " in head, head
    assert f"(Unicode {unicodedata.unidata_version})" in head, (head, sys.version)


def _sample() -> list[tuple[str, str]]:
    everything = parity_texts()
    return everything[:: max(1, len(everything) // 200)][:200] + EDGE_CASES


def test_js_solves_like_python_on_a_sample_and_the_edge_cases():
    """Equations, answers and error messages against the Python runtime on the shipped graphs;
    200 problems across the three sources plus edge cases. Both sides compute int8 products
    exactly, but a 1e-6 fp32 difference can still cross an activation's rounding step and flip a
    near tie (99.08% equal on all 4,457 problems), so equations are held to 97% here, errors to all."""
    _needs_ort()
    items = _sample()
    res = parity(default_model(), items)
    assert res["tokens_equal"] == res["numbers_equal"] == len(items)
    assert res["errors_equal"] == len(items), [m for m in res["equation_mismatches"] if m["python"]["error"] != m["js"]["error"]]
    assert res["equations_equal"] >= 0.97 * len(items), [m["cause"] for m in res["equation_mismatches"]]


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    """The shipped model's dequantized fp32 twin: same int8 weights, activations not rounded."""
    pytest.importorskip("onnx")
    from edgemath.web import exact_int8_copy

    return exact_int8_copy(default_model(), tmp_path_factory.mktemp("twin") / "default", activations="fp32")


def test_js_solves_like_python_on_the_fp32_twin(twin):
    """The port itself, with no int8 rounding to amplify kernel differences: identical equations on
    at least 99.5% of the sample (both sides run the same twin graphs)."""
    _needs_ort()
    items = _sample()
    res = parity(twin, items)
    assert res["tokens_equal"] == res["numbers_equal"] == res["errors_equal"] == len(items)
    assert res["equations_equal"] >= 0.995 * len(items), [m["cause"] for m in res["equation_mismatches"]]


def test_js_solves_like_python_on_the_page_model():
    """What the site ships (models/web): int8 weights, fp32 arithmetic where the two runtimes would
    part. On the sample, at most 1% of equations differ (0.34% on all 4,457: the integration test
    holds it to the 99.5% asked for); tokens, numbers and errors all equal."""
    _needs_ort()
    items = _sample()
    res = parity(page_model_dir(), items)
    assert res["tokens_equal"] == res["numbers_equal"] == res["errors_equal"] == len(items)
    assert res["equations_equal"] >= 0.99 * len(items), [m["cause"] for m in res["equation_mismatches"]]


def test_page_model_is_rebuilt_byte_for_byte_from_the_shipped_model(tmp_path):
    """models/web is page_model(models/default), nothing else: the committed graphs are what the
    command makes, the weights stay int8 (same size within 1%), and the manifest says how."""
    onnx = pytest.importorskip("onnx")
    from edgemath.web import PAGE_FP32, page_model

    out = page_model(default_model(), tmp_path / "web")
    for g in GRAPHS:
        assert (out / g).read_bytes() == (page_model_dir() / g).read_bytes(), g
        assert abs((out / g).stat().st_size / (default_model() / g).stat().st_size - 1) < 0.02, g
    names = [n.name for n in onnx.load(str(out / "encoder.onnx")).graph.node if n.op_type == "MatMulInteger"]
    assert names and not any("attention/self/" in n for n in names)  # q/k/v in fp32, the rest int8
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["page_model"]["fp32"][-1] == {"graph": "encoder.onnx", "nodes": PAGE_FP32[-1][1]}
    assert json.loads((page_model_dir() / "manifest.json").read_text())["page_model"] == manifest["page_model"]


def test_twin_converts_only_the_graphs_and_nodes_asked_for(tmp_path):
    """``graphs`` and ``only`` narrow the fp32 twin: the other graphs are byte copies, the other
    nodes stay MatMulInteger; an unknown graph name is an error that names the choices."""
    onnx = pytest.importorskip("onnx")
    from edgemath.web import WebError, exact_int8_copy

    src = default_model()
    integer = lambda path: sum(n.op_type == "MatMulInteger" for n in onnx.load(str(path)).graph.node)
    out = exact_int8_copy(src, tmp_path / "t", "fp32", ("quantities.onnx", "step.onnx"))
    assert (out / "encoder.onnx").read_bytes() == (src / "encoder.onnx").read_bytes()
    assert integer(out / "step.onnx") == integer(out / "quantities.onnx") == 0 < integer(src / "step.onnx")
    out = exact_int8_copy(out, tmp_path / "e", "fp32", ("encoder.onnx",), only=r"layer\.5/")  # one more layer
    assert integer(out / "encoder.onnx") == integer(src / "encoder.onnx") - 6  # layer 5's six weight matrices
    assert integer(out / "step.onnx") == 0
    with pytest.raises(WebError, match="unknown graphs.*encoder.onnx, quantities.onnx, step.onnx"):
        exact_int8_copy(src, tmp_path / "u", "fp32", ("step",))


def test_exact_int8_copy_matches_the_onnx_reference(tmp_path):
    """What the exact copy is for: native onnxruntime on exact_int8_copy's encoder agrees with onnx's
    reference evaluator (exact integer MatMulInteger), as onnxruntime-web's wasm does."""
    pytest.importorskip("onnx")
    import onnxruntime as ort

    from edgemath.demo import SHOWCASE, TWO_STEP
    from edgemath.web import exact_int8_copy, reference_diffs

    exact = exact_int8_copy(default_model(), tmp_path / "exact")
    session = ort.InferenceSession(str(exact / "encoder.onnx"))
    diffs = reference_diffs(default_model(), session, [t for t, _ in SHOWCASE + TWO_STEP])
    assert sum(d < 1e-4 for d in diffs) > len(diffs) / 2, diffs  # saturation: none would be


@pytest.mark.integration
@pytest.mark.parametrize("which", ["page model", "fp32 twin"])
def test_js_solves_like_python_on_every_problem(which, twin):
    """The parity the README reports, on every problem (ASDiv-A, MAWPS, GSM8K test): identical
    equations on at least 99.5% with the site's model (models/web) and with the fp32 twin."""
    _needs_ort()
    items = parity_texts()
    assert len(items) >= 2000
    res = parity(page_model_dir() if which == "page model" else twin, items)
    assert res["tokens_equal"] == res["numbers_equal"] == res["errors_equal"] == len(items)
    assert res["equations_equal"] >= 0.995 * len(items), [m["cause"] for m in res["equation_mismatches"]]


def _browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright (pip) is not installed: pip install 'edgemath[test]'")
    if not Path(CHROMIUM).is_file():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    return sync_playwright


def test_browser_page_solves_problems(site, tmp_path):
    """The page in headless Chromium: ?q= on load, then the text box and Solve button; answers as the
    Python runtime gives them (and the gold ones), CLI-worded errors, nothing fetched from elsewhere."""
    from edgemath.runtime.solver import OnnxSolver

    sync_playwright = _browser()
    problems = [TOM,
                "A baker made 24 cakes and sold 9 of them. How many cakes are left?",
                "Each box holds 6 pencils. How many pencils are in 7 boxes?",
                "Sara has 45 marbles and shares them equally among 5 friends. How many marbles does each friend get?",
                "A book costs 12 dollars and a pen costs 3 dollars. How much do 2 books and a pen cost?",
                "Lisa read 15 pages on Monday and 20 pages on Tuesday. How many pages did she read in all?"]
    py = OnnxSolver(page_model_dir())  # the site's model
    expected = [format_number(round(py.solve_one(p).answer, 6)) for p in problems]
    assert expected[0] == "8"
    with serve(site) as url, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                    headless=True, args=CHROMIUM_ARGS)
        try:
            page = ctx.new_page()
            requests, console = [], []
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: console.append(m.text))
            page.goto(f"{url}/?q={urllib.parse.quote(problems[0])}")
            done = page.locator("body[data-state=solved], body[data-state=error], body[data-state=failed]")
            done.wait_for(timeout=45000)
            got = [page.inner_text("#answer")]
            assert page.inner_text("#equation") == "3 + 5" and float(page.inner_text("#latency-ms")) > 0, console

            def solve(text: str, n: int) -> None:  # the text box and the button; n: solves so far
                page.fill("#problem", text)
                page.click("#solve")
                page.locator(f"body[data-solved='{n}']").wait_for(timeout=20000)

            for n, text in enumerate(problems[1:], 2):
                solve(text, n)
                got.append(page.inner_text("#answer"))
            solve("How many apples are there?", len(problems) + 1)
            assert page.inner_text("#error") == "error: no numbers in the text"
            assert page.inner_text("#answer") == ""
            solve(problems[1], len(problems) + 2)
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        finally:
            ctx.close()
    assert got == expected, (got, expected, console)
    assert got[:3] == ["8", "15", "42"]  # the gold answers of the first three
    outside = [u for u in requests if not (u.startswith(url + "/") or u.startswith("data:"))]
    assert not outside, outside
    assert (tmp_path / "page.png").stat().st_size > 1000


def test_js_solves_like_python_with_step_layers(tiny_encoder, tmp_path):
    """A decoder with step layers (``train --step-layers``) carries them in its step graph: the port
    runs that graph as it is, so it picks the equations the Python runtime picks (fp32, tiny model)."""
    _needs_ort()
    from edgemath.export.run import ExportConfig, run as export
    from edgemath.train import TrainConfig, run as train

    trained = train(TrainConfig(data="asdiv-a:0", out=tmp_path / "run", encoder=str(tiny_encoder), limit=32, max_steps=4,
                                batch_size=8, device="cpu", step_layers=1))
    items = _sample()[:60]
    res = parity(export(ExportConfig(run=trained, out=tmp_path / "fp32", limit=8)), items)
    assert res["tokens_equal"] == res["numbers_equal"] == res["errors_equal"] == len(items)
    assert res["equations_equal"] >= 0.99 * len(items), [m["cause"] for m in res["equation_mismatches"]]
