"""Does GSM8K train hold problems of a fold's dev split? For the "+GSM8K" protocol (extra data):
each dev problem's closest GSM8K train question by word-set Jaccard similarity, and those above
a threshold listed with both texts.

    python bench/gsm8k_overlap.py [--data asdiv-a] [--folds 0 1] [--threshold 0.6] [--out bench/results/gsm8k-overlap.json]
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from edgemath.data import gsm8k_texts, load_splits


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="asdiv-a")
    ap.add_argument("--folds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--threshold", type=float, default=0.6)
    ap.add_argument("--out", type=Path, default=Path("bench/results/gsm8k-overlap.json"))
    a = ap.parse_args()
    train = gsm8k_texts("train")
    sets = [words(t) for t in train]
    res = {}
    for fold in a.folds:
        dev = load_splits(f"{a.data}:{fold}").dev.problems
        close = []
        for p in dev:
            w = words(p.text)
            sim, k = max((len(w & x) / len(w | x), k) for k, x in enumerate(sets))
            if sim > a.threshold:
                close.append({"id": p.id, "similarity": round(sim, 3), "dev": p.text, "gsm8k_train": train[k]})
        res[f"{a.data}:{fold}"] = {"dev": len(dev), "above_threshold": len(close), "pairs": close}
        print(f"{a.data}:{fold} dev {len(dev)}: {len(close)} with a GSM8K train question above Jaccard {a.threshold}")
        for c in close:
            print(f"  {c['similarity']:.2f}  {c['dev'][:70]!r}\n        {c['gsm8k_train'][:70]!r}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"threshold": a.threshold, "folds": res}, indent=1) + "\n")


if __name__ == "__main__":
    main()
