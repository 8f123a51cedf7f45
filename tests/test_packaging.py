"""The wheel ships every package and data file, and building it prints no deprecation warning."""
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _source_dir(package: str) -> Path:
    for name, folder in CONFIG["package-dir"].items():
        if package == name or package.startswith(name + "."):
            return ROOT / folder / Path(*package[len(name):].split(".")[1:])
    return ROOT / Path(*package.split("."))


def test_every_python_folder_is_a_listed_package():
    listed = set(CONFIG["packages"])
    for top in ("edgemath", "edgemath.export", "edgemath.runtime"):
        for init in _source_dir(top).rglob("*.py"):
            rel = init.parent.relative_to(_source_dir(top))
            if "__pycache__" in rel.parts:
                continue
            package = ".".join([top, *rel.parts])
            assert package in listed, f"{package} holds Python files but is not in [tool.setuptools] packages"


def test_listed_packages_exist():
    for package in CONFIG["packages"]:
        assert _source_dir(package).is_dir(), f"{package}: no folder {_source_dir(package)}"


@pytest.mark.integration
def test_wheel_builds_without_warnings(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    noisy = [line for line in (out.stdout + out.stderr).splitlines()
             if "Warning" in line and "Location" not in line]  # pip's own notes on missing local indexes
    assert not noisy, "\n".join(noisy)
    wheel = next(tmp_path.glob("edgemath-*.whl"))
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert sum(n.startswith("edgemath/datasets/") and n.endswith(".csv") for n in names) == \
        len(list((ROOT / "edgemath" / "datasets").rglob("*.csv")))
    assert "edgemath/models/default/encoder.onnx" in names
    assert "edgemath/compress/run.py" in names
