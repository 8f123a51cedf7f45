"""manifest.json: what each stage read, with which settings, and what it measured."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
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


def fresh_dir(out: Path) -> Path:
    """An empty temporary sibling of ``out`` to write a stage's output into."""
    tmp = Path(out).with_name(Path(out).name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def swap_into_place(tmp: Path, out: Path) -> Path:
    """Move a finished ``tmp`` directory to ``out`` by renames, so ``out`` is never half-written."""
    out = Path(out)
    old = out.with_name(out.name + ".old")
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)
    return out


def refuse_to_replace(out: Path, *results: str) -> None:
    """A fresh run must not silently replace a finished one: hours of training may be behind it."""
    found = [name for name in results if (Path(out) / name).exists()]
    if found:
        raise FileExistsError(f"{out} already holds a run ({', '.join(found)}); a fresh run would replace it. "
                              "Choose another --out, delete the directory to start over, or pass --resume "
                              "to continue it")


def read_manifest(run: Path) -> dict:
    path = Path(run) / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def lineage(run: Path) -> list[tuple[Path, dict]]:
    """(run, manifest) from ``run`` back through the teachers of its compress stages to the
    trained one."""
    chain = []
    while True:
        doc = read_manifest(run)
        if not doc:
            raise FileNotFoundError(f"{run}/manifest.json is missing: cannot trace how this run was made")
        chain.append((Path(run), doc))
        if doc.get("stage") != "compress":
            return chain
        run = Path(doc["config"]["teacher"])
