"""`edgemath report`: train -> compress -> export -> bench over folds and pruning ratios, then
a Markdown report with tables and plots.

Every stage is found before it is run: a finished run anywhere under ``--runs`` whose manifest
has the same settings and the same data (file hashes; for students, the same teacher weights)
is reused, wherever it was made and whoever made it. A report can therefore be stopped, resumed
and extended with more folds or ratios; only the missing runs are made.
"""
from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from edgemath.manifest import file_sha256, read_manifest

IGNORED = {"out", "teacher", "resume", "time_budget", "save_every", "device", "data_dir", "run"}
"""Settings that say where or how a run was made, not what it is (a student's teacher is matched by
its weights' hash instead; a distilled train run's ``teacher`` is kept: it changes what was trained)."""
FOLDED = {"asdiv-a", "mawps"}
"""Datasets evaluated by 5-fold cross-validation (dev split of each fold)."""


@dataclass
class ReportConfig:
    data: str = "asdiv-a"
    folds: list[int] = field(default_factory=lambda: [0])
    ratios: list[float] = field(default_factory=lambda: [0.0, 0.3, 0.5])
    """Fractions of heads removed (0: the teacher)."""
    out: Path = Path("reports/asdiv-a")
    runs: Path = Path("runs")
    """Where finished runs are looked up and new ones made (under runs/report/)."""
    epochs: int = 30
    """Teacher epochs."""
    compress_epochs: int = 6
    """Student epochs per round."""
    rounds: int = 1
    alpha: float = 0.0
    prune_ffn: float = 0.0
    """FFN neurons every student also loses (issue "Beyond heads"); 0: heads only."""
    prune_vocab: bool = False
    """Students also get their vocabulary pruned."""
    alphas: list[float] = field(default_factory=list)
    """Alpha sweep on the first fold at ``sweep_ratio`` (empty: none)."""
    ablation: bool = False
    """Prune only / one round / recursive (3 rounds) on the first fold at ``sweep_ratio``."""
    sweep_ratio: float = 0.3
    bench_problems: int = 50
    device: str = "auto"
    data_dir: str | None = None
    encoder: str | None = None
    """Teacher encoder checkpoint (default: the MiniLM package); tests use a tiny one."""
    encoder_layers: int | None = None
    """Teachers keep the encoder's first N layers (``train --encoder-layers``; Math23k's CPU plan: 6)."""
    const_min_count: int | None = None
    """Teachers' ``train --const-min-count`` (None: train's default; Math23k: 10)."""
    percent_fraction: bool = False
    """Teachers read a percent as its fraction (``train --percent-fraction``; students inherit it)."""
    step_layers: int | None = None
    """Teachers' ``train --step-layers`` (None: train's default; students inherit the decoder)."""
    init: str | None = None
    """A finished run every teacher starts from (``train --init``), e.g. a solver trained on GSM8K
    train: the "+GSM8K" protocol, extra data reported beside the standard one."""
    no_distill: bool = False
    """Also each student pruned and fine-tuned on the task loss alone (no teacher), the same rounds
    and epochs: what distillation adds at each ratio."""
    equal_budget: bool = True
    """Also train each teacher the students' epochs more (``train --init teacher``), so that a
    student above its teacher cannot come from training longer."""
    limit: int | None = None
    """Smoke runs: N train and dev problems per stage."""
    max_steps: int | None = None

    def __post_init__(self):
        if self.init and self.encoder:
            raise ValueError("--init takes the encoder from the run it starts from; drop --encoder")
        if self.data not in FOLDED and self.folds != [0]:
            raise ValueError(f"--data {self.data} has no folds (it has a public test split): leave --folds out")

    @property
    def student_epochs(self) -> int:
        """Epochs each student trains from its teacher: the equal-budget teacher's extra epochs."""
        return self.rounds * self.compress_epochs

    def spec(self, fold: int) -> str:
        """The data spec of one fold: ``asdiv-a:3``; Math23k and paths are one split, scored on test."""
        return f"{self.data}:{fold}" if self.data in FOLDED else self.data


# --- finding finished runs -----------------------------------------------------------------------

def _settings(cfg) -> dict:
    from edgemath.train import TrainConfig, recorded_config

    if isinstance(cfg, TrainConfig):  # as the manifest has it; a train run's teacher is what it distilled from
        return {k: v for k, v in recorded_config(cfg).items() if k not in IGNORED - {"teacher"}}
    return {k: v for k, v in asdict(cfg).items() if k not in IGNORED}


def _matches(doc: dict, stage: str, want: dict, defaults: dict, inputs: dict) -> bool:
    if doc.get("stage") != stage or not doc.get("metrics"):
        return False
    have = doc.get("config", {})
    for k, v in want.items():
        got = have.get(k, defaults.get(k))  # a setting added later had its default before
        if got != v and not (isinstance(v, (float, int)) and isinstance(got, (float, int)) and math.isclose(got, v)):
            return False
    return all(doc.get("inputs", {}).get(k) == v for k, v in inputs.items())


def find_run(root: Path, stage: str, cfg, inputs: dict) -> Path | None:
    """A finished run under ``root`` with ``cfg``'s settings and these input hashes."""
    want = _settings(cfg)
    defaults = {f.name: f.default for f in fields(cfg) if not callable(f.default)}
    for m in sorted(Path(root).glob("**/manifest.json")):
        if ".tmp" in m.parent.name or ".old" in m.parent.name:
            continue
        try:
            doc = json.loads(m.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if _matches(doc, stage, want, defaults, inputs):
            return m.parent
    return None


def free_dir(out: Path) -> Path:
    """``out``, or ``out-2``, ``out-3``... past folders holding a finished run: that run has other
    settings (find_run would have reused it), e.g. a report before with another ``--epochs``, and
    must be neither resumed into nor refused on."""
    n, free = 1, out
    while (free / "manifest.json").is_file():
        n += 1
        free = out.with_name(f"{out.name}-{n}")
    return free


def _data_inputs(spec: str, data_dir) -> dict:
    from edgemath.data import load_splits

    return {str(f): file_sha256(f) for f in load_splits(spec, data_dir).files}


# --- the stages ----------------------------------------------------------------------------------

class Runner:
    """Makes (or finds) teachers, students, exports and bench results, logging what it did."""

    def __init__(self, cfg: ReportConfig, console):
        self.cfg, self.console, self.log = cfg, console, []

    def _note(self, what: str, path: Path, reused: bool, t0: float):
        self.log.append({"what": what, "path": str(path), "reused": reused, "wall_s": time.time() - t0})
        self.console.print(f"{'reused' if reused else 'made'} {what}: {path}")

    def _fold_dir(self, fold: int) -> Path:
        return self.cfg.runs / "report" / self.cfg.spec(fold).replace(":", "-")

    def _find_or_make(self, what: str, stage: str, cfg, inputs: dict, make) -> Path:
        t0 = time.time()
        found = find_run(self.cfg.runs, stage, cfg, inputs)
        if not found:
            cfg = replace(cfg, out=free_dir(cfg.out))
            make(cfg, self.console)
        self._note(what, found or cfg.out, bool(found), t0)
        return found or cfg.out

    def teacher(self, fold: int) -> Path:
        spec = self.cfg.spec(fold)
        name = "teacher" + ("-init-" + Path(self.cfg.init).name if self.cfg.init else "")
        shape = {k: v for k, v in (("encoder_layers", self.cfg.encoder_layers),
                                   ("const_min_count", self.cfg.const_min_count),
                                   ("step_layers", self.cfg.step_layers),
                                   ("percent_fraction", self.cfg.percent_fraction or None)) if v is not None}
        return self._train(f"teacher {spec}", spec, self._fold_dir(fold) / name, self.cfg.epochs,
                           encoder=self.cfg.encoder, init=self.cfg.init, **shape)

    def budget_teacher(self, fold: int, teacher: Path) -> Path:
        """The teacher trained as many epochs more as each student trains (a fresh schedule)."""
        n = self.cfg.student_epochs
        spec = self.cfg.spec(fold)
        return self._train(f"teacher {spec} +{n} epochs", spec, self._fold_dir(fold) / f"teacher-plus{n}", n,
                           init=str(teacher))

    def _train(self, what: str, spec: str, out: Path, epochs: int, encoder: str | None = None,
               init: str | None = None, **shape) -> Path:
        from edgemath.train import TrainConfig, run

        tcfg = TrainConfig(data=spec, out=out, epochs=epochs, device=self.cfg.device, data_dir=self.cfg.data_dir,
                           encoder=encoder, init=init, limit=self.cfg.limit, max_steps=self.cfg.max_steps, resume=True,
                           **shape)
        return self._find_or_make(what, "train", tcfg, _data_inputs(spec, self.cfg.data_dir), run)

    def student(self, fold: int, teacher: Path, ratio: float, name: str, **over) -> Path:
        from edgemath.compress.run import CompressConfig, run

        spec = self.cfg.spec(fold)
        out = self._fold_dir(fold) / name
        settings = dict(data=spec, prune_heads=ratio, prune_ffn=self.cfg.prune_ffn, prune_vocab=self.cfg.prune_vocab,
                        rounds=self.cfg.rounds, alpha=self.cfg.alpha, epochs=self.cfg.compress_epochs,
                        limit=self.cfg.limit, max_steps=self.cfg.max_steps)
        settings.update(over)
        ccfg = CompressConfig(teacher=teacher, out=out, device=self.cfg.device, data_dir=self.cfg.data_dir,
                              resume=True, **settings)
        ckpt = teacher / "checkpoint" if (teacher / "checkpoint").is_dir() else teacher
        inputs = {"teacher_decoder": file_sha256(ckpt / "decoder.safetensors"), **_data_inputs(spec, self.cfg.data_dir)}
        return self._find_or_make(f"student {spec} {name}", "compress", ccfg, inputs, run)

    def export(self, run_dir: Path, int8: bool) -> Path:
        from edgemath.export.run import ExportConfig, run

        out = run_dir / ("export-int8" if int8 else "export-fp32")
        t0 = time.time()
        # the report measures int8's accuracy cost rather than refusing it
        ecfg = ExportConfig(run=run_dir, out=out, int8=int8, max_int8_drop=100.0, limit=self.cfg.limit,
                            data_dir=self.cfg.data_dir)
        made = read_manifest(out)
        if (made.get("stage") == "export" and made.get("config", {}).get("run") == str(run_dir)
                and all(made["config"].get(k) == v for k, v in ecfg.graph_settings().items())):
            self._note("export", out, True, t0)
            return out
        run(ecfg, self.console)  # absent, or made with other graph settings (an older default): remade
        self._note("export", out, False, t0)
        return out

    def bench(self, fold: int, exports: list[Path]) -> dict:
        from edgemath.bench import BenchConfig, run

        out = self.cfg.out / f"bench-fold{fold}.json"
        t0 = time.time()
        if out.is_file():
            doc = json.loads(out.read_text())
            if (sorted(r["dir"] for r in doc["rows"].values()) == sorted(map(str, exports))
                    and all(out.stat().st_mtime >= (e / "manifest.json").stat().st_mtime for e in exports)):
                self._note(f"bench fold {fold}", out, True, t0)
                return doc
        doc = run(BenchConfig(exports=exports, data=self.cfg.spec(fold), problems=self.cfg.bench_problems,
                              threads=(1,), out=out, data_dir=self.cfg.data_dir), self.console)
        self._note(f"bench fold {fold}", out, False, t0)
        return doc


def dev_seq_len(teacher: Path, spec: str, data_dir) -> float:
    """Mean tokens per dev problem under the teacher's own tokenizer: the length FLOPs are
    counted at (the same count the compress stage records as seq_len_mean)."""
    from edgemath.checkpoint import check_checkpoint_dir
    from edgemath.data import load_splits
    from edgemath.runtime.tokenize import ProblemTokenizer

    tok = ProblemTokenizer.from_file(check_checkpoint_dir(teacher) / "tokenizer.json")
    dev = load_splits(spec, data_dir).dev.problems
    return sum(len(tok.encode(p.text).ids) for p in dev) / max(1, len(dev))


def dev_accuracy(doc: dict) -> float:
    """A train or compress manifest's dev accuracy (a student's: after its last round)."""
    m = doc["metrics"]
    return m["dev_acc"] if doc["stage"] == "train" else m["after"]["dev_acc"]


def _row(run_dir: Path, fp32: Path, int8: Path, bench: dict, seq_len: float) -> dict:
    """One (fold, ratio) cell: accuracy, size, cost and latency. Accuracy is the run's dev accuracy,
    or, where the data has a test split (Math23k), the fp32 export's test accuracy (the export
    gives the same equations as PyTorch: checked at export)."""
    doc = read_manifest(run_dir)
    m, acc = doc["metrics"], dev_accuracy(doc)
    if doc["stage"] == "train":
        from edgemath.checkpoint import load_solver
        from edgemath.compress.structure import encoder_flops, heads_per_layer, param_counts

        solver, _ = load_solver(run_dir)
        params, flops = param_counts(solver.encoder), encoder_flops(solver.encoder, seq_len)
        kept = heads_per_layer(solver.encoder)
    else:
        params, flops = m["after"]["params"], m["after"]["flops"]
        kept = m["rounds"][-1]["kept_per_layer"] if m["rounds"] else None
    by_dir = {r["dir"]: r for r in bench["rows"].values()}
    f, q = by_dir[str(fp32)], by_dir[str(int8)]
    row = {"run": str(run_dir), "accuracy": acc, "int8_accuracy": q["accuracy"], "params": params, "flops": flops,
           "heads_per_layer": kept, "fp32_ms": f["encoder_t1"]["p50_ms"], "int8_ms": q["encoder_t1"]["p50_ms"],
           "int8_bytes": q["bytes"], "wall_time_s": doc.get("wall_time_s")}
    if bench.get("split") == "test":  # one split: its per-problem marks give Δ's paired interval
        row.update(accuracy=f["accuracy"], correct=f.get("correct"))
    return row


def build(cfg: ReportConfig, console=None) -> Path:
    """Run (or reuse) every stage, then write ``cfg.out/README.md``, ``results.json`` and plots."""
    from rich.console import Console

    from edgemath.report_write import write_report

    console = console or Console(stderr=True)
    cfg.out.mkdir(parents=True, exist_ok=True)
    r = Runner(cfg, console)
    t0 = time.time()
    cells: dict[int, dict[float, dict]] = {}
    held_out: dict[int, dict] = {}
    sweeps: dict[str, dict] = {}
    budget: dict[int, dict] = {}
    plain: dict[int, dict[float, dict]] = {}
    extra_name = (f"-ffn{cfg.prune_ffn:g}" if cfg.prune_ffn else "") + ("-vocab" if cfg.prune_vocab else "")

    def student_name(ratio: float) -> str:  # a student without distillation adds "-nodistill" to this
        return f"heads{ratio:g}-a{cfg.alpha:g}-r{cfg.rounds}{extra_name}"

    for i, fold in enumerate(cfg.folds):
        teacher = r.teacher(fold)
        if cfg.equal_budget and any(x > 0 for x in cfg.ratios):
            budget[fold] = {"run": str(r.budget_teacher(fold, teacher)), "epochs": cfg.student_epochs}
        runs = {0.0: teacher} if 0.0 in cfg.ratios else {}
        for ratio in (x for x in cfg.ratios if x > 0):
            runs[ratio] = r.student(fold, teacher, ratio, student_name(ratio))
        undistilled = {ratio: r.student(fold, teacher, ratio, student_name(ratio) + "-nodistill", distill=False)
                       for ratio in runs if ratio > 0 and cfg.no_distill}
        extra = {}
        if i == 0:
            for a in cfg.alphas:
                extra[f"alpha {a:g}"] = r.student(fold, teacher, cfg.sweep_ratio, f"heads{cfg.sweep_ratio:g}-a{a:g}-r{cfg.rounds}", alpha=a)
            if cfg.ablation:
                for label, over in (("prune only", {"distill": False, "rounds": 1}), ("one round", {"rounds": 1}),
                                    ("recursive (3 rounds)", {"rounds": 3, "epochs": max(1, cfg.compress_epochs // 3)})):
                    name = f"heads{cfg.sweep_ratio:g}-a{cfg.alpha:g}-r{over['rounds']}" + ("-nodistill" if not over.get("distill", True) else "")
                    extra[label] = r.student(fold, teacher, cfg.sweep_ratio, name, **over)
        all_runs = list(runs.values()) + list(undistilled.values()) + list(extra.values())
        pairs = {p: (r.export(p, False), r.export(p, True)) for p in dict.fromkeys(all_runs)}
        bench = r.bench(fold, [e for pair in pairs.values() for e in pair])
        seq = dev_seq_len(teacher, cfg.spec(fold), cfg.data_dir)
        held_out[fold] = {"split": bench.get("split", "dev"), "problems": bench.get("scored_problems")}
        cells[fold] = {ratio: _row(p, *pairs[p], bench, seq) for ratio, p in runs.items()}
        if undistilled:
            plain[fold] = {ratio: _row(p, *pairs[p], bench, seq) for ratio, p in undistilled.items()}
        if fold in budget:  # dev accuracies throughout: the split every run picked its checkpoint on
            budget[fold].update(accuracy=dev_accuracy(read_manifest(Path(budget[fold]["run"]))),
                                teacher=dev_accuracy(read_manifest(teacher)),
                                students={ratio: dev_accuracy(read_manifest(p)) for ratio, p in runs.items() if ratio > 0})
        for label, p in extra.items():
            sweeps[label] = _row(p, *pairs[p], bench, seq)
    doc = {"config": {**asdict(cfg), "out": str(cfg.out), "runs": str(cfg.runs)}, "cells": cells, "sweeps": sweeps,
           "no_distill": plain, "equal_budget": budget, "held_out": held_out, "log": r.log, "wall_time_s": time.time() - t0,
           "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                       "cpus": __import__("os").cpu_count()}}
    (cfg.out / "results.json").write_text(json.dumps(doc, indent=2, default=str))
    write_report(doc, cfg.out)
    console.print(f"wrote {cfg.out / 'README.md'}")
    return cfg.out
