"""Bring one solver checkpoint back from the GPU machine, whose return path holds 8 files of at
most 16 MiB: the encoder's weights in fp16 (half the bytes), the rest as is, one tar cut in 15 MiB
parts. The first finished of: the distilled 30% student, the prune-only one, the teacher.

    python bench/gpu/pack.py RUNS OUT    (bench/gpu/unpack.py reverses it)
"""
import io
import shutil
import sys
import tarfile
from pathlib import Path

from safetensors.torch import load_file, save_file

PART = 15 * 2**20

runs, out = Path(sys.argv[1]), Path(sys.argv[2])
name = next((n for n in ("math23k-h0.3-r1", "math23k-h0.3-nodistill", "teacher-math23k")
             if (runs / n / "checkpoint" / "solver.json").is_file()), None)
if name is None:
    sys.exit("no checkpoint to bring back")
tmp = Path("/tmp/pack") / name
shutil.rmtree(tmp, ignore_errors=True)
shutil.copytree(runs / name / "checkpoint", tmp)
weights = tmp / "encoder" / "model.safetensors"
state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in load_file(str(weights)).items()}
save_file(state, str(weights), metadata={"format": "pt"})
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    t.add(tmp, arcname=name)
data = buf.getvalue()
for i in range(0, len(data), PART):
    (out / f"ckpt.tar.part{i // PART}").write_bytes(data[i:i + PART])
print(f"packed {name}: {len(data) / 2**20:.1f} MiB in {-(-len(data) // PART)} parts")
