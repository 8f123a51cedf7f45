"""Per-problem latency of the page in headless Chromium beside the Python runtime, one run.

    python bench/web_latency.py [--model DIR [DIR ...]] [--data asdiv-a:0] [--problems 100] [--out bench/results/web-latency.json]

Builds the site (`edgemath web`) of each model into a temporary folder, serves it on 127.0.0.1
with COOP/COEP (threaded wasm needs a cross-origin-isolated page; one thread does not), and opens
it in Debian's chromium once per thread count (?threads=1, ?threads=2). The Python runtime
(OnnxSolver) runs each model at the same thread counts in this process. After 5 warm-up solves
each, all of them take turns problem by problem, who goes first rotating (so machine drift hits
all alike), each timing its own solve: tokenize, encoder, quantities, the greedy steps, evaluation
(the page's `latency_ms` from performance.now(); Python's `latency_ms`).
"""
from __future__ import annotations

import argparse
import contextlib
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
    ap.add_argument("--model", type=Path, nargs="+", default=None,
                    help="one or more export directories, timed side by side (default: the shipped model)")
    ap.add_argument("--data", default="asdiv-a:0", help="problems: the dev split of this data spec")
    ap.add_argument("--problems", type=int, default=100)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--out", type=Path, default=Path("bench/results/web-latency.json"))
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()
    models = a.model or [default_model()]
    names = [m.name if len({x.name for x in models}) == len(models) else str(m) for m in models]
    threads = [int(t) for t in a.threads.split(",")]
    texts = [p.text for p in load_splits(a.data).dev.problems][: a.problems]
    runs = [(n, t) for n in names for t in threads]
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as servers, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(str(Path(tmp) / "profile"), executable_path=CHROMIUM,
                                                    headless=True, args=ARGS)
        infos, pages, used, py = {}, {}, {}, {}
        for name, model in zip(names, models):
            site = Path(tmp) / f"site-{len(infos)}"
            infos[name] = build(WebConfig(model=model, out=site), log=lambda m: print(m, file=sys.stderr))
            url = servers.enter_context(serve(site, isolate=True))
            for t in threads:
                py[name, t] = OnnxSolver(model, threads=t)
                page = ctx.new_page()
                page.goto(f"{url}/?threads={t}")
                page.locator("body[data-state=ready]").wait_for(timeout=60000)
                used[name, t] = page.evaluate("() => ({isolated: self.crossOriginIsolated, numThreads: window.edgemath.solver.ort.env.wasm.numThreads})")
                pages[name, t] = page
        solve_js = lambda key, text: pages[key].evaluate("async (text) => { const s = await window.edgemath.solve(text); "
                                                         "return [s.latency_ms, s.prefix]; }", text)
        for text in texts[:5]:  # warm-up
            for key in runs:
                solve_js(key, text)
                py[key].solve_one(text)
        lat = {f"{n}/{side}_{t}t": [] for n, t in runs for side in ("browser", "python")}
        same = dict.fromkeys(names, 0)
        for k, text in enumerate(texts):
            prefixes = {n: set() for n in names}
            for n, t in runs[k % len(runs):] + runs[: k % len(runs)]:  # who goes first rotates
                ms, prefix = solve_js((n, t), text)
                lat[f"{n}/browser_{t}t"].append(ms)
                sol = py[n, t].solve_one(text)
                lat[f"{n}/python_{t}t"].append(sol.latency_ms)
                prefixes[n] |= {prefix, sol.prefix}
            for n in names:
                same[n] += len(prefixes[n]) == 1
        version = ctx.browser.version if ctx.browser else subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
        ctx.close()
    first = names[0]
    res = {"command": "python bench/web_latency.py " + " ".join(sys.argv[1:]), "data": f"{a.data} dev, first {len(texts)}",
           "models": {n: str(m) for n, m in zip(names, models)}, "chromium": version,
           "onnxruntime_web": infos[first]["onnxruntime_web"],
           "page_threads": {f"{n}/{t}": used[n, t] for n, t in runs}, "cpu": platform.processor() or platform.machine(),
           "cores": os.cpu_count(), "load_avg_before_after": [load_before, os.getloadavg()],
           "same_equation_page_and_python": same,
           "site_bytes": {n: infos[n]["bytes"] for n in names}, "site_gzip_bytes": {n: infos[n]["gzip_bytes"] for n in names},
           "latency": {k: stats(v) for k, v in lat.items()}, "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
