"""Teacher-recipe screening on one GPU inside a fixed wall-clock budget (issue "stronger solver").

On 2 CPU cores one 30-epoch ASDiv-A teacher takes ~30 min, so a recipe on 5 folds of two datasets
is a day. On a GPU each run is launch-bound and small: many run at once. This starts every
(recipe, dataset, fold) as the plain `edgemath train` command, PARALLEL at a time, each with
`--time-budget` so that a run still going when the budget ends stops cleanly after an epoch;
then writes RUNS/screen-summary.json (commands, accuracy, best epoch, minutes per run).
With ``--pretrain-gsm8k E`` one solver is first trained on converted GSM8K train for E epochs
(RUNS/gsm8k-pretrain) and a recipe's flags may name it as ``{pretrain}``: "gsm8k-init=--init {pretrain}"
(the "+GSM8K" protocol: extra data).

    python bench/gpu/screen_gpu.py --encoder runs/minilm --recipes "baseline=" "elr2e-4=--encoder-lr 2e-4" \
        --data asdiv-a mawps --folds 0 1 2 3 4 --parallel 10 --budget 520 --runs runs/gpu-screen
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

T0 = time.time()
EM = [sys.executable, "-P", "-m", "edgemath.cli"]  # -P: the source tree in the cwd must not shadow the install


def jobs(args) -> list[tuple[str, list[str]]]:
    out = []
    for recipe in args.recipes:
        name, _, flags = recipe.partition("=")
        for data in args.data:
            for fold in args.folds:
                run = f"{name}-{data}-f{fold}"
                extra = shlex.split(flags.replace("{pretrain}", str(args.runs / "gsm8k-pretrain")))
                encoder = [] if "--init" in extra else ["--encoder", args.encoder]  # --init brings its own
                cmd = EM + ["train", "--data", f"{data}:{fold}", "--epochs", str(args.epochs), "--out",
                            str(args.runs / run), "--device", args.device, *encoder, "--resume",
                            *extra, *shlex.split(args.extra)]
                out.append((run, cmd))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--encoder", required=True)
    ap.add_argument("--recipes", nargs="+", required=True, help='NAME=FLAGS, e.g. "elr2e-4=--encoder-lr 2e-4"')
    ap.add_argument("--data", nargs="+", default=["asdiv-a", "mawps"])
    ap.add_argument("--folds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--parallel", type=int, default=10)
    ap.add_argument("--budget", type=float, default=520, help="seconds for the whole screen")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--runs", type=Path, default=Path("runs/gpu-screen"))
    ap.add_argument("--pretrain-gsm8k", type=int, default=0, help="epochs of one GSM8K-trained start ({pretrain}); 0: none")
    ap.add_argument("--extra", default="", help='flags for every run, one string (smoke tests: --extra="--limit 16 --max-steps 2")')
    args = ap.parse_args()
    args.runs.mkdir(parents=True, exist_ok=True)
    done = {}
    if args.pretrain_gsm8k:  # before the screen: the recipes that start from it need it finished
        cmd = EM + ["train", "--data", "gsm8k", "--epochs", str(args.pretrain_gsm8k), "--out", str(args.runs / "gsm8k-pretrain"),
                    "--device", args.device, "--encoder", args.encoder, "--resume", *shlex.split(args.extra)]
        t = time.time()
        with open(args.runs / "gsm8k-pretrain.log", "w") as log:
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
        done["gsm8k-pretrain"] = {"cmd": " ".join(cmd), "rc": rc, "seconds": round(time.time() - t, 1)}
        print(f"[{time.time() - T0:6.1f}s] end gsm8k-pretrain rc {rc}", flush=True)
    todo, running = jobs(args), {}
    while todo or running:
        while todo and len(running) < args.parallel:
            run, cmd = todo.pop(0)
            minutes = max(0.5, (args.budget - (time.time() - T0)) / 60 - 1.0)  # an epoch past it, then stop
            cmd = cmd + ["--time-budget", f"{minutes:.2f}"]
            log = open(args.runs / f"{run}.log", "w")
            running[run] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), cmd, time.time())
            print(f"[{time.time() - T0:6.1f}s] start {run}", flush=True)
        for run, (proc, cmd, t) in list(running.items()):
            if proc.poll() is not None:
                done[run] = {"cmd": " ".join(cmd), "rc": proc.returncode, "seconds": round(time.time() - t, 1)}
                del running[run]
                print(f"[{time.time() - T0:6.1f}s] end {run} rc {proc.returncode}", flush=True)
        if time.time() - T0 > args.budget + 60:  # a run that ignored its time budget
            for run, (proc, cmd, t) in running.items():
                proc.kill()
                done[run] = {"cmd": " ".join(cmd), "rc": "killed", "seconds": round(time.time() - t, 1)}
            break
        time.sleep(2)
    for run, rec in done.items():
        manifest = args.runs / run / "manifest.json"
        if manifest.is_file():
            m = json.loads(manifest.read_text())["metrics"]
            rec.update(dev_acc=m["dev_acc"], best_epoch=m["best_epoch"], epochs=len(m["history"]), finished=True)
        else:  # stopped on its budget: its best epoch so far, from the log
            accs = [float(a) for a in re.findall(r"dev (\d\.\d+)", (args.runs / f"{run}.log").read_text())]
            rec.update(dev_acc=max(accs) if accs else None, epochs=len(accs), finished=False)
    (args.runs / "screen-summary.json").write_text(json.dumps(done, indent=1) + "\n")
    print(json.dumps({r: d.get("dev_acc") for r, d in done.items()}, indent=1))


if __name__ == "__main__":
    main()
