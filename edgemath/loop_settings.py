"""Settings every training loop shares: ``edgemath train`` and each ``edgemath compress`` round
run the same ``fit`` loop, so they read the same fields, checked in one place. Each subclass
restates only the defaults it changes."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LoopSettings:
    data: str = "asdiv-a:0"
    """Data spec (asdiv-a[:fold], mawps[:fold], mawps-asdiv-a, math23k, or a path)."""
    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-3
    """Decoder learning rate."""
    encoder_lr: float = 8e-5
    weight_decay: float = 0.01
    warmup: float = 0.1
    """Fraction of steps with linear warm-up."""
    eval_every: int = 1
    ema_decay: float = 0.995
    """Evaluate and save an exponential moving average of the weights (0 turns it off)."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (smoke runs)."""
    limit: int | None = None
    """Use only the first N train and dev problems (smoke runs)."""
    seed: int = 0
    device: str = "auto"
    data_dir: str | None = None
    resume: bool = False

    def loop_problems(self) -> list[str]:
        """What is wrong with the shared fields, phrased as CLI flags (empty when nothing)."""
        problems = []
        if self.epochs < 1:
            problems.append("--epochs must be at least 1")
        if self.batch_size < 1:
            problems.append("--batch-size must be at least 1")
        if self.limit is not None and self.limit < 1:
            problems.append("--limit must be at least 1")
        if self.max_steps is not None and self.max_steps < 1:
            problems.append("--max-steps must be at least 1")
        if not 0.0 <= self.warmup < 1.0:
            problems.append("--warmup must be in [0, 1)")
        if not 0.0 <= self.ema_decay < 1.0:
            problems.append("--ema-decay must be in [0, 1)")
        return problems
