"""Join the ckpt.tar.part* files bench/gpu/pack.py wrote, unpack them under DEST and widen the
encoder's fp16 weights back to fp32 (the rounding stays: score the unpacked model to report it).

    python bench/gpu/unpack.py FILES_DIR DEST
"""
import io
import sys
import tarfile
from pathlib import Path

from safetensors.torch import load_file, save_file

src, dest = Path(sys.argv[1]), Path(sys.argv[2])
parts = sorted(src.glob("ckpt.tar.part*"), key=lambda p: int(p.name.split("part")[1]))
tarfile.open(fileobj=io.BytesIO(b"".join(p.read_bytes() for p in parts))).extractall(dest)
for weights in dest.glob("*/encoder/model.safetensors"):
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in load_file(str(weights)).items()}
    save_file(state, str(weights), metadata={"format": "pt"})
    print("unpacked", weights.parent.parent)
