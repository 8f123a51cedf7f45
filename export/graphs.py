"""The solver as three ONNX graphs with dynamic batch, sequence and quantity axes.

    encoder.onnx     input_ids [B,T], attention_mask [B,T]      -> last_hidden_state [B,T,E]
    quantities.onnx  hidden [B,T,E], pool [B,N,T], num_mask [B,N] -> q [B,M,D], q_mask [B,M]
    step.onnx        q [B,M,D], q_mask [B,M]                     -> scores, stop [B,K,M,M], cand [B,K,M,M,D]

The encoder graph uses BERT's standard input names and output (no token_type_ids: the solver
never feeds them, and MPNet has none), so third-party clients
(optimum's ORTModelForFeatureExtraction, plain onnxruntime) can load it on its own.
Export is the legacy TorchScript exporter (``dynamo=False``): ONNX Runtime's BERT fusion
recognises its attention pattern with per-layer head counts; on dynamo exports it fuses nothing.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class EncoderGraph(nn.Module):
    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids, attention_mask):
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


class QuantitiesGraph(nn.Module):
    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, hidden, pool, num_mask):
        return self.decoder.quantities(hidden, pool, num_mask)


class StepGraph(nn.Module):
    def __init__(self, decoder):
        super().__init__()
        if decoder.cfg.stop_unused:  # its stop head needs the used numbers, which the graph has no input for
            raise ValueError("this solver was trained with --stop-unused, which export (and the runtimes) do not "
                             "support yet; train without it to export")
        self.decoder = decoder

    def forward(self, q, q_mask):
        cand, scores = self.decoder.step_logits(q, q_mask)
        return scores, self.decoder.stop(cand).squeeze(-1), cand


def export_graphs(solver, out: Path, opset: int) -> dict[str, Path]:
    """Trace the three graphs on a small example and write them to ``out``."""
    solver = solver.cpu().eval()
    b, t, n = 2, 12, 3
    vocab = solver.encoder.config.vocab_size
    ids = torch.randint(1000, 2000, (b, t)) if vocab >= 2000 else torch.randint(4, vocab, (b, t))  # tiny test vocabularies
    att = torch.ones(b, t, dtype=torch.long)
    hidden = torch.randn(b, t, solver.cfg.encoder_hidden)
    pool = torch.zeros(b, n, t)
    pool[:, :, 1:4] = 1 / 3
    num_mask = torch.ones(b, n, dtype=torch.bool)
    m = n + len(solver.cfg.constants) + 1
    q = torch.randn(b, m, solver.cfg.hidden)
    q_mask = torch.ones(b, m, dtype=torch.bool)
    specs = {
        "encoder.onnx": (EncoderGraph(solver.encoder), (ids, att), ["input_ids", "attention_mask"],
                         ["last_hidden_state"],
                         {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                          "last_hidden_state": {0: "batch", 1: "sequence"}}),
        "quantities.onnx": (QuantitiesGraph(solver.decoder), (hidden, pool, num_mask), ["hidden", "pool", "num_mask"],
                            ["q", "q_mask"],
                            {"hidden": {0: "batch", 1: "sequence"}, "pool": {0: "batch", 1: "numbers", 2: "sequence"},
                             "num_mask": {0: "batch", 1: "numbers"}, "q": {0: "batch", 1: "quantities"},
                             "q_mask": {0: "batch", 1: "quantities"}}),
        "step.onnx": (StepGraph(solver.decoder), (q, q_mask), ["q", "q_mask"], ["scores", "stop", "cand"],
                      {"q": {0: "batch", 1: "quantities"}, "q_mask": {0: "batch", 1: "quantities"},
                       "scores": {0: "batch", 2: "quantities", 3: "quantities2"},
                       "stop": {0: "batch", 2: "quantities", 3: "quantities2"},
                       "cand": {0: "batch", 2: "quantities", 3: "quantities2"}}),
    }
    paths = {}
    for name, (module, args, inputs, outputs, axes) in specs.items():
        path = out / name
        with torch.no_grad():
            torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs,
                              dynamic_axes=axes, opset_version=opset, dynamo=False, do_constant_folding=True)
        paths[name] = path
    return paths
