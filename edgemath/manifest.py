"""manifest.json: what each stage read, with which settings, and what it measured."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(out: Path, **fields) -> Path:
    """Atomically write ``out/manifest.json`` with the given fields plus machine and time."""
    from edgemath import __version__

    doc = {"edgemath": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "machine": {"platform": platform.platform(), "processor": platform.processor(),
                       "cpus": os.cpu_count()}, **fields}
    path = Path(out) / "manifest.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=str))
    os.replace(tmp, path)
    return path


def read_manifest(run: Path) -> dict:
    path = Path(run) / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else {}
