"""The import graph of edgemath/, export/ and runtime/ has no cycles and points one way.

Layers, bottom up (DESIGN.md section 1): ``runtime`` (the device solver) imports nothing else of
the project; the model layer (data, model, features, checkpoint, the encoder's layout and shapes,
evaluate, loop) never imports ``edgemath.compress``, which builds on it; only the verbs that
drive stages (cli, report, demo) import compress from outside it. Imports inside functions count
too: a late import still ties the two modules together, it only hides the tie from a reader.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREES = {"edgemath": ROOT / "edgemath", "edgemath.export": ROOT / "export", "edgemath.runtime": ROOT / "runtime"}
DRIVE_COMPRESS = {"edgemath.cli", "edgemath.report", "edgemath.demo"}
"""Modules outside the package allowed to import edgemath.compress: the verbs above it."""
KNOWN_CYCLES: dict[tuple[str, str], str] = {}
"""Import edges (importer, imported) that close a cycle and are not yet removed: each is named with
its reason, left out of the cycle search, and must still exist (delete the entry once it is gone)."""


def _modules() -> dict[str, Path]:
    mods = {}
    for prefix, tree in TREES.items():
        for f in sorted(tree.rglob("*.py")):
            rel = f.relative_to(tree).with_suffix("").parts
            if prefix == "edgemath" and rel[0] in ("export", "runtime"):
                continue
            parts = rel[:-1] if rel[-1] == "__init__" else rel
            mods[".".join((prefix, *parts))] = f
    return mods


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules ``name`` imports anywhere in its file (parent packages included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for t in targets:
            while t and t not in known:  # `import edgemath.x.y` of a name inside a module
                t = t.rpartition(".")[0]
            while t:
                found.add(t)
                t = t.rpartition(".")[0]
    found.discard(name)
    return found & known


def _graph(known: bool = False) -> dict[str, set[str]]:
    """The import graph; ``known``: without the edges of ``KNOWN_CYCLES``."""
    mods = _modules()
    graph = {name: _imports(name, path, set(mods)) for name, path in mods.items()}
    for a, b in KNOWN_CYCLES if known else ():
        graph[a].discard(b)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt, path + [nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_the_graph_is_read():
    graph = _graph()
    assert {"edgemath.compress.run", "edgemath.export.run", "edgemath.runtime.solver", "edgemath.loop"} <= set(graph)
    assert "edgemath.evaluate" in graph["edgemath.loop"]  # a late import, inside fit
    assert "edgemath.runtime.tokenize" in graph["edgemath.checkpoint"]


def test_no_import_cycles():
    graph = _graph(known=True)
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_known_cycles_are_still_there():
    graph = _graph()
    gone = [edge for edge in KNOWN_CYCLES if edge[1] not in graph[edge[0]]]
    assert not gone, f"no longer imported, delete from KNOWN_CYCLES: {gone}"


def test_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_runtime_imports_nothing_above_it():
    bad = {m: sorted(d for d in deps if not d.startswith("edgemath.runtime") and d != "edgemath")
           for m, deps in _graph().items() if m.startswith("edgemath.runtime")}
    assert not any(bad.values()), bad


def test_nothing_below_compress_imports_it():
    bad = {m: sorted(d for d in deps if d.startswith("edgemath.compress"))
           for m, deps in _graph().items() if not m.startswith("edgemath.compress") and m not in DRIVE_COMPRESS}
    assert not any(bad.values()), bad


def test_architecture_paths_live_in_the_layout():
    """Pruning and reloading reach an encoder's parts through edgemath/layout.py only, so a new
    architecture (MPNet: attention.attn.q/k/v/o) is one more layout, not edits all over."""
    import re

    paths = re.compile(r"\.(attention\.self|attention\.output|intermediate|output\.dense|encoder\.layer)\b")
    files = [*sorted((ROOT / "edgemath" / "compress").glob("*.py")), ROOT / "edgemath" / "encoder_shapes.py",
             ROOT / "edgemath" / "checkpoint.py"]
    found = [f"{f.name}:{n}" for f in files for n, line in enumerate(f.read_text().splitlines(), 1) if paths.search(line)]
    assert not found, found
