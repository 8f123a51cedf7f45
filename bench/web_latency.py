"""Per-problem latency of the page in headless Chromium beside the Python runtime, one run.

    python bench/web_latency.py [--model DIR] [--data asdiv-a:0] [--problems 100] [--out bench/results/web-latency.json]

Builds the site (`edgemath web`) into a temporary folder, serves it on 127.0.0.1 with COOP/COEP
(threaded wasm needs a cross-origin-isolated page; one thread does not), and opens it twice in
Debian's chromium: ?threads=1 and ?threads=2. The Python runtime (OnnxSolver) runs at 1 and 2
threads in this process. After 5 warm-up solves each, the four take turns problem by problem
(so machine drift hits all alike), each timing its own solve: tokenize, encoder, quantities, the
greedy steps, evaluation (the page's `latency_ms` from performance.now(); Python's `latency_ms`).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from edgemath.cli import default_model
from edgemath.data import load_splits
from edgemath.runtime.solver import OnnxSolver
from edgemath.web import WebConfig, build, serve

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def stats(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"problems": len(a), "p50_ms": round(float(np.percentile(a, 50)), 2), "p95_ms": round(float(np.percentile(a, 95)), 2),
            "mean_ms": round(float(a.mean()), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--data", default="asdiv-a:0", help="problems: the dev split of this data spec")
    ap.add_argument("--problems", type=int, default=100)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--out", type=Path, default=Path("bench/results/web-latency.json"))
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()
    model = a.model or default_model()
    threads = [int(t) for t in a.threads.split(",")]
    texts = [p.text for p in load_splits(a.data).dev.problems][: a.problems]
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        info = build(WebConfig(model=model, out=site), log=lambda m: print(m, file=sys.stderr))
        py = {t: OnnxSolver(model, threads=t) for t in threads}
        with serve(site, isolate=True) as url, sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(str(Path(tmp) / "profile"), executable_path=CHROMIUM,
                                                        headless=True, args=ARGS)
            pages, used = {}, {}
            for t in threads:
                page = ctx.new_page()
                page.goto(f"{url}/?threads={t}")
                page.locator("body[data-state=ready]").wait_for(timeout=60000)
                used[t] = page.evaluate("() => ({isolated: self.crossOriginIsolated, numThreads: window.edgemath.solver.ort.env.wasm.numThreads})")
                pages[t] = page
            solve_js = lambda t, text: pages[t].evaluate("async (text) => { const s = await window.edgemath.solve(text); "
                                                         "return [s.latency_ms, s.prefix]; }", text)
            for text in texts[:5]:  # warm-up
                for t in threads:
                    solve_js(t, text)
                    py[t].solve_one(text)
            lat = {f"browser_{t}t": [] for t in threads} | {f"python_{t}t": [] for t in threads}
            same = 0
            for text in texts:
                prefixes = set()
                for t in threads:
                    ms, prefix = solve_js(t, text)
                    lat[f"browser_{t}t"].append(ms)
                    prefixes.add(prefix)
                    sol = py[t].solve_one(text)
                    lat[f"python_{t}t"].append(sol.latency_ms)
                    prefixes.add(sol.prefix)
                same += len(prefixes) == 1
            version = ctx.browser.version if ctx.browser else subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
            ctx.close()
    res = {"command": "python bench/web_latency.py " + " ".join(sys.argv[1:]), "data": f"{a.data} dev, first {len(texts)}",
           "model": str(model), "chromium": version, "onnxruntime_web": info["onnxruntime_web"],
           "page_threads": {str(t): used[t] for t in threads}, "cpu": platform.processor() or platform.machine(),
           "cores": os.cpu_count(), "load_avg_before_after": [load_before, os.getloadavg()], "same_equation_everywhere": same,
           "site_bytes": info["bytes"], "site_gzip_bytes": info["gzip_bytes"],
           "latency": {k: stats(v) for k, v in lat.items()}, "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
