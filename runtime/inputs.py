"""Problem inputs for `edgemath solve`: JSONL, CSV or plain lines, from a file or stdin.

Every input line becomes one item, in order; a line that cannot be read becomes an item with
``error`` set instead of stopping the batch, so no line is ever lost.
"""
from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Item:
    id: str
    text: str
    error: str | None = None


def _decode(raw: bytes) -> tuple[str, bool]:
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), True


def read_items(source: str) -> list[Item]:
    """``source`` is a path (``.jsonl``, ``.csv``, anything else = one problem per line) or ``-``."""
    if source == "-":
        raw, kind = sys.stdin.buffer.read(), "auto"
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"input file {path} does not exist")
        raw, kind = path.read_bytes(), path.suffix.lower()
    lines = raw.splitlines()
    if kind == "auto":
        first = next((l for l in lines if l.strip()), b"")
        kind = ".jsonl" if first.lstrip().startswith(b"{") else ".txt"
    if kind == ".csv":
        return _read_csv(raw)
    items = []
    for n, line in enumerate(lines, 1):
        text, bad_bytes = _decode(line)
        if not text.strip():
            continue
        if kind == ".jsonl":
            try:
                obj = json.loads(text)
                if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                    raise ValueError('expected an object with a "text" string')
                items.append(Item(str(obj.get("id", n)), obj["text"]))
            except (json.JSONDecodeError, ValueError) as e:
                items.append(Item(str(n), text, f"line {n}: malformed JSONL ({e})"))
                continue
        else:
            items.append(Item(str(n), text))
        if bad_bytes:
            items[-1].error = f"line {n}: undecodable bytes (not UTF-8)"
    return items


def _read_csv(raw: bytes) -> list[Item]:
    text, bad = _decode(raw)
    reader = csv.DictReader(io.StringIO(text))
    col = next((c for c in ("text", "Question", "question") if c in (reader.fieldnames or [])), None)
    if col is None:
        raise ValueError(f"CSV input needs a 'text' or 'Question' column (found {reader.fieldnames})")
    items = []
    for n, row in enumerate(reader, 1):
        item = Item(str(row.get("id") or n), row.get(col) or "")
        if "\ufffd" in item.text and bad:
            item.error = f"row {n}: undecodable bytes (not UTF-8)"
        items.append(item)
    return items


def latency_summary(latencies_ms: list[float]) -> dict:
    """p50/p95/p99 per problem and throughput, from per-problem wall times."""
    import numpy as np

    if not latencies_ms:
        return {"problems": 0}
    a = np.asarray(latencies_ms)
    return {"problems": len(a), "p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
            "p99_ms": float(np.percentile(a, 99)), "mean_ms": float(a.mean()),
            "throughput_per_s": float(1000.0 * len(a) / a.sum()) if a.sum() > 0 else 0.0}
