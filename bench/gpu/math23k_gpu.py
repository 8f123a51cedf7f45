"""Issue "Math23k" on one GPU inside a fixed wall-clock budget.

A lent GPU comes for minutes, once: there is no second try to find out how many epochs fit. So
this script first measures (60 training steps and one decode of the dev set, in this process),
then sizes the teacher's epochs to the time left, and runs every stage as the ``edgemath``
command a user would type:

    train (e5 encoder) -> evaluate --split test
    -> compress 30% heads, distilled and not (both at once on the GPU) -> evaluate --split test

Stages that outrun the budget are stopped; what finished is kept. The commands, the measured
times and every result go to RUNS/gpu-summary.json; each stage's output to RUNS/STAGE.log. Usage
(on a GPU machine: bench/gpu/device_run.sh, which installs the packages first):

    python bench/gpu/math23k_gpu.py --encoder runs/e5-math23k --data-dir ../shared/data --budget 520
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

T0 = time.time()
EM = [sys.executable, "-P", "-m", "edgemath.cli"]  # -P: the source tree in the cwd must not shadow the install


def left(budget: float) -> float:
    return budget - (time.time() - T0)


def log(msg: str) -> None:
    print(f"[{time.time() - T0:6.1f}s] {msg}", flush=True)


def calibrate(args) -> dict:
    """Seconds per training step at the teacher's batch size and seconds per dev decode, measured
    with the same loop and model `edgemath train` uses."""
    import torch

    from edgemath.evaluate import accuracy, predict
    from edgemath.loop import fit
    from edgemath.train import TrainConfig, prepare

    t = time.time()
    cfg = TrainConfig(data="math23k", data_dir=args.data_dir, encoder=args.encoder, batch_size=args.batch_size,
                      lr=args.lr, encoder_lr=args.encoder_lr, const_min_count=args.const_min_count,
                      epochs=1, max_steps=args.calib_steps, limit=args.limit, out=Path(args.runs) / "calibration")
    prepared = prepare(cfg)
    solver, tok, examples, dev = prepared.solver, prepared.tok, prepared.examples, prepared.dev
    solver.to(args.device)
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    setup_s = time.time() - t
    decode = []

    def timed_eval():
        sync()
        s = time.time()
        acc = accuracy(predict(solver, tok, dev, device=args.device))
        sync()
        decode.append(time.time() - s)
        return acc

    from rich.console import Console

    t = time.time()
    fit(solver, tok, examples, dev, cfg, args.device, Console(stderr=True), lambda a, e: None,
        evaluate_fn=timed_eval, label="calibrate")
    sync()
    step_s = (time.time() - t - decode[0]) / args.calib_steps
    torch.cuda.empty_cache()
    return {"setup_s": round(setup_s, 1), "step_s": round(step_s, 4), "dev_decode_s": round(decode[0], 1),
            "steps_per_epoch": math.ceil(len(examples) / args.batch_size), "train_problems": len(examples),
            "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"}


def start(cmd: list[str], log_path: Path) -> subprocess.Popen:
    """Run one `edgemath` command in the background, its output to ``log_path``."""
    log(" ".join(["edgemath"] + cmd))
    return subprocess.Popen(EM + cmd, stdout=open(log_path, "w"), stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen, timeout: float, name: str) -> int | None:
    """Wait up to ``timeout`` seconds; stop the stage past it (None)."""
    try:
        rc = proc.wait(timeout=max(1.0, timeout))
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log(f"{name}: stopped at the budget")
        return None
    log(f"{name}: exit {rc}")
    return rc


def json_lines(path: Path) -> list[dict]:
    """The JSON lines `edgemath evaluate` prints, one per beam width."""
    return [json.loads(line) for line in path.read_text(errors="replace").splitlines() if line.startswith("{")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--encoder", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--runs", default="runs/gpu")
    ap.add_argument("--budget", type=float, default=520, help="Seconds for everything, from start.")
    ap.add_argument("--compress-budget", type=float, default=230, help="Seconds kept for the compress stage.")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--compress-batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--encoder-lr", type=float, default=1.6e-4)
    ap.add_argument("--const-min-count", type=int, default=10)
    ap.add_argument("--calib-steps", type=int, default=60)
    ap.add_argument("--max-epochs", type=int, default=60)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--beam", type=int, default=5, help="Test scores also with this beam width (1: greedy only).")
    ap.add_argument("--limit", type=int, default=None, help="First N problems of each split (smoke runs).")
    args = ap.parse_args()
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    summary: dict = {"args": vars(args), "commands": {}, "results": {}}
    out = runs / "gpu-summary.json"

    def save():
        summary["elapsed_s"] = round(time.time() - T0, 1)
        out.write_text(json.dumps(summary, indent=2, ensure_ascii=False))

    cal = summary["calibration"] = calibrate(args)
    log(f"calibration: {cal}")
    save()
    data = ["--data", "math23k", "--data-dir", args.data_dir]
    dev_flag = ["--device", args.device]
    lim = ["--limit", str(args.limit)] if args.limit else []
    # Teacher: what is left after the compress stage, two test decodes and a margin.
    after = args.compress_budget + 2 * (cal["setup_s"] + 2 * cal["dev_decode_s"]) + 20
    train_s = left(args.budget) - after - cal["setup_s"]
    epoch_s = cal["steps_per_epoch"] * cal["step_s"]
    epochs = int(max(1, min(args.max_epochs, train_s // (epoch_s + cal["dev_decode_s"]))))  # dev scored every epoch
    summary["plan"] = {"teacher_epochs": epochs, "train_s": round(train_s, 1), "epoch_s": round(epoch_s, 1)}
    log(f"plan: {summary['plan']}")
    T = str(runs / "teacher-math23k")
    cmd = ["train", *data, "--encoder", args.encoder, "--const-min-count", str(args.const_min_count),
           "--epochs", str(epochs), "--batch-size", str(args.batch_size), "--lr", str(args.lr),
           "--encoder-lr", str(args.encoder_lr), *dev_flag, *lim, "--out", T,
           "--time-budget", f"{max(1.0, train_s * 1.1 / 60):.2f}"]
    summary["commands"]["teacher"] = "edgemath " + " ".join(cmd)
    save()
    finish(start(cmd, runs / "teacher.log"), left(args.budget) - after + 30, "teacher")
    if not (Path(T) / "checkpoint" / "solver.json").is_file():
        summary["results"]["teacher"] = "no checkpoint"
        save()
        return
    if (Path(T) / "manifest.json").is_file():
        summary["results"]["teacher_train"] = json.loads((Path(T) / "manifest.json").read_text())["metrics"]

    # Compress: distilled and not, at once; the teacher's test score meanwhile.
    # a distilled step costs ~1.5x a training step (H100, 2026-11-26: 50 s per epoch of 327 steps at
    # 0.105 s); 2x leaves room for the runs sharing the GPU
    steps_c = math.ceil(cal["train_problems"] / args.compress_batch_size) * cal["step_s"] * 2.0
    c_epochs = int(max(1, min(6, (args.compress_budget - 3 * cal["setup_s"] - 4 * cal["dev_decode_s"]) // steps_c)))
    summary["plan"]["compress_epochs"] = c_epochs
    widths = [str(w) for w in dict.fromkeys([1, args.beam])]

    def test_score(name: str, run: str) -> tuple[str, subprocess.Popen, Path]:
        """Greedy and (with --beam above 1) beam-search test scores: one `evaluate`, one encoding."""
        log_path = runs / f"{name}_test.log"
        beams = [flag for w in widths for flag in ("--beam", w)]
        return name, start(["evaluate", run, *data, "--split", "test", *beams, *dev_flag], log_path), log_path

    def record_test(score: tuple[str, subprocess.Popen, Path], timeout: float) -> None:
        name, proc, log_path = score
        if finish(proc, timeout, f"{name}_test") == 0:
            for line in json_lines(log_path):
                summary["results"][f"{name}_test" + (f"_beam{line['beam']}" if line["beam"] > 1 else "")] = line
        save()

    teacher_test = test_score("teacher", T)
    students = {"h0.3-r1": [], "h0.3-nodistill": ["--no-distill"]}
    procs = {}
    for name, extra in students.items():
        S = str(runs / f"math23k-{name}")
        cmd = ["compress", "--teacher", T, *data, "--prune-heads", "0.3", "--rounds", "1", "--epochs", str(c_epochs),
               "--batch-size", str(args.compress_batch_size), *extra, *dev_flag, *lim, "--out", S]
        summary["commands"][name] = "edgemath " + " ".join(cmd)
        procs[name] = start(cmd, runs / f"{name}.log")
    save()
    record_test(teacher_test, left(args.budget))
    tests = {}
    for name, proc in procs.items():
        S = runs / f"math23k-{name}"
        rc = finish(proc, left(args.budget) - cal["setup_s"] - cal["dev_decode_s"] - 10, name)
        if rc == 0 and (S / "manifest.json").is_file():
            m = json.loads((S / "manifest.json").read_text())["metrics"]
            summary["results"][name] = {k: m[k] for k in ("before", "after", "bake_check", "rounds")}
            tests[name] = test_score(name, str(S))
        save()
    for scores in tests.values():
        record_test(scores, left(args.budget))
    log("done")


if __name__ == "__main__":
    main()
