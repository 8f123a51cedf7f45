"""The on-device solver: ONNX Runtime sessions + the deductive decoding loop in numpy.

An export directory holds ``encoder.onnx`` (input_ids, attention_mask -> last_hidden_state),
``quantities.onnx`` (hidden, pool, num_mask -> q, q_mask), ``step.onnx`` (q, q_mask -> scores,
stop, cand), ``tokenizer.json``, ``solver.json`` and ``manifest.json``. The loop here is the
same decoding as ``edgemath.model.Solver.decode``: greedy (pick the best (op, i, j), append its
vector as a new quantity, stop when the stop head fires) or, with ``beam`` > 1, beam search.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .beam import beam_decode, check_width
from .expression import ExpressionError, Tree, evaluate, to_infix, to_prefix
from .tokenize import Encoded, ProblemTokenizer

GRAPHS = ("encoder.onnx", "quantities.onnx", "step.onnx")
REQUIRED = GRAPHS + ("tokenizer.json", "solver.json")


class ModelDirError(ValueError):
    """An export directory that is missing or unreadable; the message says what to do."""


@dataclass
class Solution:
    text: str
    equation: str | None = None  # infix with the real numbers
    prefix: str | None = None
    answer: float | None = None
    latency_ms: float = 0.0
    error: str | None = None
    warning: str | None = None


def default_model_dir() -> Path:
    """The shipped models/default: ``edgemath/models/default`` in an installed package and
    ``models/default`` in the source tree, both one folder above this one."""
    return Path(__file__).resolve().parents[1] / "models" / "default"


def check_model_dir(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise ModelDirError(f"model directory {path} does not exist; make one with `edgemath export RUN --out {path}`")
    missing = [f for f in REQUIRED if not (path / f).is_file()]
    if missing:
        raise ModelDirError(f"{path} is not an edgemath export: missing {', '.join(missing)}")
    return path


def collate_np(encs: list[Encoded], pad_id: int):
    b = len(encs)
    t = max(len(e.ids) for e in encs)
    n = max(1, max(len(e.numbers) for e in encs))
    ids = np.full((b, t), pad_id, dtype=np.int64)
    att = np.zeros((b, t), dtype=np.int64)
    pool = np.zeros((b, n, t), dtype=np.float32)
    num_mask = np.zeros((b, n), dtype=bool)
    for k, e in enumerate(encs):
        ids[k, : len(e.ids)] = e.ids
        att[k, : len(e.ids)] = 1
        for x, (s, end) in enumerate(e.spans):
            if end > s:
                pool[k, x, s:end] = 1.0 / (end - s)
                num_mask[k, x] = True
    return ids, att, pool, num_mask


def session_options(threads: int | None = None, exact_int8: bool = True):
    """onnxruntime session options as the runtime uses them. ``exact_int8``: x86 CPUs without VNNI
    run int8 x uint8 products through vpmaddubsw, which sums pairs in int16 and saturates
    (255 x 127 x 2 > 32,767): the shipped encoder's hidden states came out 0.2-0.4 off. This
    option makes onnxruntime take the exact uint8 x uint8 kernel for weights outside [-64, 63]; a
    no-op on other CPUs (docs/web.md, "Why the int8 graphs part ways")."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if exact_int8:
        opts.add_session_config_entry("session.x64quantprecision", "1")
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    return opts


class OnnxSolver:
    """Solve word problems with an exported model; no torch needed."""

    def __init__(self, model_dir: str | Path, threads: int | None = None, provider: str = "auto", beam: int = 1,
                 exact_int8: bool = True):
        import onnxruntime as ort

        self.beam = check_width(beam)

        self.dir = check_model_dir(model_dir)
        try:
            self.meta = json.loads((self.dir / "solver.json").read_text())
            self.manifest = json.loads((self.dir / "manifest.json").read_text()) if (self.dir / "manifest.json").is_file() else {}
        except json.JSONDecodeError as e:
            raise ModelDirError(f"{self.dir}/solver.json is not valid JSON: {e}") from e
        self.ops: list[str] = self.meta["ops"]
        self.constants: list[str] = self.meta["constants"]
        self.max_steps: int = self.meta["max_steps"]
        self.max_numbers: int = self.meta.get("max_numbers", 24)
        self.tok = ProblemTokenizer.of_model(self.dir, self.meta)
        opts = session_options(threads, exact_int8)
        self.threads = threads
        self.providers = self._providers(provider, ort)
        try:
            self.sessions = {g: ort.InferenceSession(str(self.dir / g), opts, providers=self.providers) for g in GRAPHS}
        except Exception as e:  # onnxruntime raises its own exception types for corrupt files
            raise ModelDirError(f"{self.dir}: cannot load the ONNX graphs ({e.__class__.__name__}: {e})") from e
        self._wants_token_types = "token_type_ids" in {i.name for i in self.sessions["encoder.onnx"].get_inputs()}

    @staticmethod
    def _providers(provider: str, ort) -> list[str]:
        have = ort.get_available_providers()
        if provider == "cpu":
            return ["CPUExecutionProvider"]
        if provider == "cuda":
            if "CUDAExecutionProvider" not in have:
                raise ModelDirError("--provider cuda needs onnxruntime-gpu and a GPU (pip install 'edgemath[gpu]')")
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        if provider != "auto":
            raise ModelDirError(f"unknown provider {provider!r}: use auto, cpu or cuda")
        return (["CUDAExecutionProvider"] if "CUDAExecutionProvider" in have else []) + ["CPUExecutionProvider"]

    def hidden(self, ids: np.ndarray, att: np.ndarray) -> np.ndarray:
        sess = self.sessions["encoder.onnx"]
        feed = {"input_ids": ids, "attention_mask": att}
        if self._wants_token_types:  # encoders exported by other tools (optimum) take token_type_ids
            feed["token_type_ids"] = np.zeros_like(ids)
        return sess.run(None, feed)[0]

    def decode(self, encs: list[Encoded]) -> list[Tree]:
        """Deductive decoding for a batch of encoded problems: greedy, or a beam per problem."""
        ids, att, pool, num_mask = collate_np(encs, self.tok.pad_id)
        h = self.hidden(ids, att)
        q, qmask = self.sessions["quantities.onnx"].run(None, {"hidden": h, "pool": pool, "num_mask": num_mask})
        b, n_num = len(encs), num_mask.shape[1]
        leaves = [f"n{k}" for k in range(n_num)] + list(self.constants)
        if self.beam > 1:
            step = self.sessions["step.onnx"]
            return [beam_decode(lambda q, m: step.run(None, {"q": q, "q_mask": m}), q[k : k + 1], qmask[k : k + 1],
                                self.ops, leaves, self.max_steps, self.beam) for k in range(b)]
        trees = [list(leaves) for _ in range(b)]
        answer: list[Tree | None] = [None] * b
        done = np.zeros(b, dtype=bool)
        ar = np.arange(b)
        for t in range(self.max_steps):
            scores, stop, cand = self.sessions["step.onnx"].run(None, {"q": q, "q_mask": qmask})
            m = q.shape[1]
            best = scores.reshape(b, -1).argmax(1)
            op, rest = best // (m * m), best % (m * m)
            i, j = rest // m, rest % m
            fire = stop[ar, op, i, j] > 0.0
            for k in range(b):
                node = (self.ops[op[k]], trees[k][i[k]], trees[k][j[k]])
                trees[k].append(node)
                if not done[k] and (fire[k] or t == self.max_steps - 1):
                    answer[k] = node
            done |= fire
            if done.all():
                break
            q = np.concatenate([q, cand[ar, op, i, j][:, None]], 1)
            qmask = np.concatenate([qmask, np.ones((b, 1), dtype=bool)], 1)
        return answer

    def score(self, texts: list[str], answers: list[float], batch_size: int = 32) -> float:
        """Answer accuracy on labelled problems, decoded in batches."""
        return sum(self.marks(texts, answers, batch_size)) / max(1, len(texts))

    def marks(self, texts: list[str], answers: list[float], batch_size: int = 32) -> list[bool]:
        """Right or wrong per problem, in order: what two solvers' accuracies differ by."""
        from .expression import answers_match

        right = []
        for s in range(0, len(texts), batch_size):
            encs = [self.tok.encode(t) for t in texts[s : s + batch_size]]
            for e, gold, tree in zip(encs, answers[s : s + batch_size], self.decode(encs)):
                try:
                    right.append(bool(answers_match(evaluate(tree, [n.value for n in e.numbers]), gold)))
                except ExpressionError:
                    right.append(False)
        return right

    def solve(self, texts: list[str]) -> list[Solution]:
        """One problem at a time (batch 1, what a device does); bad input gives ``error``."""
        return [self.solve_one(t) for t in texts]

    def solve_one(self, text: str) -> Solution:
        t0 = time.perf_counter()
        sol = Solution(text)
        if not isinstance(text, str) or not text.strip():
            sol.error = "empty text"
            return sol
        enc = self.tok.encode(text)
        if not enc.numbers:
            sol.error = "no numbers in the text"
            return sol
        if len(enc.numbers) > self.max_numbers:
            sol.error = f"more numbers ({len(enc.numbers)}) than the model's {self.max_numbers} number slots"
            return sol
        if enc.truncated:
            sol.warning = f"text longer than {self.tok.max_length} tokens: truncated"
        if not any(e > s for s, e in enc.spans):
            sol.error = "every number lies beyond the model's length limit"
            return sol
        tree = self.decode([enc])[0]
        nums = [n.value for n in enc.numbers]
        sol.prefix = " ".join(to_prefix(tree))
        sol.equation = to_infix(tree, nums)
        try:
            sol.answer = evaluate(tree, nums)
        except ExpressionError as e:
            sol.error = f"the predicted equation cannot be evaluated: {e}"
        sol.latency_ms = (time.perf_counter() - t0) * 1000
        return sol
