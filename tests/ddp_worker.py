"""Run by test_ddp under torchrun: one compress round on a tiny teacher; each rank writes the
masks (heads, FFN) it ended with and a checksum of its weights."""
import json
import sys
from pathlib import Path

import torch

from edgemath.checkpoint import load_solver
from edgemath.compress.run import CompressConfig, run_round
from edgemath.data import load_splits
from edgemath.loop import init_distributed, make_examples, world
from rich.console import Console

teacher_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
init_distributed()
rank, n = world()
torch.manual_seed(0)
teacher, tok = load_solver(teacher_dir)
splits = load_splits("asdiv-a:0")
examples, _ = make_examples(splits.train.problems[:48], tok, teacher.cfg)
cfg = CompressConfig(teacher=teacher_dir, prune_heads=0.5, prune_ffn=0.5, rounds=1, epochs=1, batch_size=8, refresh_every=1,
                     max_steps=3, device="cpu")
masks0 = {"heads": torch.ones(2, 4, dtype=torch.bool), "ffn": torch.ones(2, 64, dtype=torch.bool)}
student, masks, info = run_round(1, cfg, teacher, masks0, tok, examples, splits.dev.problems[:16], "cpu",
                                Console(stderr=True))
checksum = float(sum(p.double().sum() for p in student.parameters()))
(out / f"rank{rank}.json").write_text(json.dumps({"world": n, "mask": masks["heads"].int().tolist(), "ffn": masks["ffn"].int().tolist(), "checksum": checksum}))
