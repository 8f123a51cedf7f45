"""How far one accuracy difference on a single split is from noise: two solvers' predictions on the
same problems, compared problem by problem.

    python bench/paired_delta.py REFERENCE.jsonl OTHER.jsonl [OTHER.jsonl ...] [--resamples 10000]
        [--out bench/results/paired-delta.json]

Each file is `edgemath evaluate`'s predictions-*.jsonl. On one fold (Math23k has one test split)
the report's "Δ points" is a single number; the problems where the two solvers disagree decide
it. Printed per OTHER: Δ (points), the problems only the reference solves and only OTHER solves,
and a 95% interval from a paired bootstrap over problems (the same resampled problems scored for
both), so "-1.5 against a target of -1.0" can be read against its own spread.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgemath.evaluate import read_predictions
from edgemath.paired import paired_delta


def correct_by_id(path: Path) -> dict[str, bool]:
    return {r["id"]: bool(r["correct"]) for r in read_predictions(path)}


def compare(ref: dict[str, bool], other: dict[str, bool], resamples: int) -> dict:
    """Δ = other - ref over the problems both files score (ids must match)."""
    if set(ref) != set(other):
        raise SystemExit(f"the two files score different problems ({len(set(ref) ^ set(other))} ids differ)")
    ids = sorted(ref)
    return paired_delta([ref[i] for i in ids], [other[i] for i in ids], resamples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reference", type=Path)
    ap.add_argument("others", type=Path, nargs="+")
    ap.add_argument("--resamples", type=int, default=10000)
    ap.add_argument("--out", type=Path, default=Path("bench/results/paired-delta.json"))
    a = ap.parse_args()
    ref = correct_by_id(a.reference)
    rows = {str(o): compare(ref, correct_by_id(o), a.resamples) for o in a.others}
    print(f"reference {a.reference}: {100 * sum(ref.values()) / len(ref):.2f}% of {len(ref)}")
    for name, r in rows.items():
        lo, hi = r["ci95_points"]
        print(f"{name}: Δ {r['delta_points']:+.2f} points (95% paired bootstrap {lo:+.2f} .. {hi:+.2f}); "
              f"only the reference solves {r['only_reference']}, only this one {r['only_other']}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"reference": str(a.reference), "resamples": a.resamples, "rows": rows}, indent=2))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
