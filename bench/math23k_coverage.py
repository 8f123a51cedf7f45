"""What the Math23k teacher cannot be taught or cannot read, before any training: the train
problems its decoder skips, by reason, and the dev and test problems whose gold equation it
cannot produce (a ceiling on its accuracy); digits in the text that the number reader does not read
as a number; and the numbers whose tokens also cover characters beside them (the issue's
"about 11%"), with examples.

    python bench/math23k_coverage.py [--encoder runs/e5-math23k] [--const-min-count 10] [--percent-fraction] [--out bench/results/math23k-coverage.json]

The encoder folder comes from `edgemath import-e5 --out runs/e5-math23k --vocab-from math23k`
(the teacher's tokenizer); the decoder's constants are learned from train as `edgemath train
--const-min-count N` learns them. Needs ../shared/data/math23k (or --data-dir).
"""
from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from edgemath.data import load_splits
from edgemath.features import make_examples
from edgemath.model import DecoderConfig
from edgemath.runtime.numbers import extract_numbers
from edgemath.runtime.tokenize import ProblemTokenizer
from edgemath.train import learn_vocab


def spills(tok: ProblemTokenizer, text: str) -> tuple[int, list[dict]]:
    """How many numbers the text holds, and those whose first or last token starts before or
    ends after the number's characters."""
    enc = tok.tok.encode(text)
    numbers = extract_numbers(text)
    out = []
    for n in numbers:
        pieces = [(s, e) for s, e in enc.offsets if e > s and s < n.end and e > n.start]
        if pieces and (pieces[0][0] < n.start or pieces[-1][1] > n.end):
            out.append({"number": n.text, "covered": text[pieces[0][0]:pieces[-1][1]],
                        "tokens": [text[s:e] for s, e in pieces]})
    return len(numbers), out


def unread_digits(text: str) -> list[str]:
    """Runs of digits that no extracted number covers."""
    spans = [(n.start, n.end) for n in extract_numbers(text)]
    return [m.group() for m in re.finditer(r"\d+(?:\.\d+)?", text)
            if not any(s <= m.start() and m.end() <= e for s, e in spans)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--encoder", type=Path, default=Path("runs/e5-math23k"))
    ap.add_argument("--const-min-count", type=int, default=10)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--examples", type=int, default=3)
    ap.add_argument("--percent-fraction", action="store_true", help="a percent read as its fraction (train --percent-fraction)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/math23k-coverage.json"))
    a = ap.parse_args()
    splits = load_splits("math23k", a.data_dir)
    tok = ProblemTokenizer.from_file(a.encoder / "tokenizer.json", a.max_length, a.percent_fraction)
    train = splits.train.problems
    ops, consts = learn_vocab([p for p in train if p.trainable], a.const_min_count, a.percent_fraction)
    cfg = DecoderConfig(ops=ops, constants=consts, percent_fraction=a.percent_fraction)
    taught, skipped = make_examples(train, tok, cfg)
    steps = Counter(len(s) for _, s in taught)  # gold steps per taught problem
    kind = lambda r: "constant outside the decoder's set" if r.startswith("constant ") else r
    kinds = Counter(kind(r) for r in skipped.elements())
    # dev and test through the same decoder: problems whose gold equation it cannot produce
    # (a ceiling on accuracy unless another equation gives the same answer)
    held = {name: Counter(kind(r) for r in make_examples(getattr(splits, name).problems, tok, cfg)[1].elements())
            for name in ("dev", "test")}
    constants = Counter({r.split()[1]: n for r, n in skipped.items() if r.startswith("constant ")})
    numbers, spilled, examples = 0, Counter(), []
    for p in train:
        count, found = spills(tok, p.text)
        numbers += count
        for s in found:
            spilled[s["covered"].replace(s["number"], "N", 1)] += 1
            if len(examples) < a.examples:
                examples.append({"id": p.id, **s})
    unread = [(p.id, p.text, u) for p in train if (u := unread_digits(p.text))]
    total_spilled = sum(spilled.values())
    res = {"percent_fraction": a.percent_fraction, "train_problems": len(train),
           "train_steps": sum(k * n for k, n in steps.items()), "ops": ops, "constants": consts, "const_min_count": a.const_min_count,
           "skipped": sum(skipped.values()), "skipped_by_kind": dict(kinds.most_common()),
           "missing_constants": dict(constants.most_common()),
           **{f"{name}_problems": len(getattr(splits, name).problems) for name in held},
           **{f"{name}_out_of_reach": sum(c.values()) for name, c in held.items()},
           **{f"{name}_out_of_reach_by_kind": dict(c.most_common()) for name, c in held.items()},
           "problems_with_unread_digits": len(unread), "unread_digit_runs": sum(len(u) for _, _, u in unread),
           "unread_examples": [{"id": i, "text": t, "unread": u} for i, t, u in unread[: 2 * a.examples]],
           "numbers": numbers, "numbers_whose_tokens_spill": total_spilled,
           "spill_share": round(total_spilled / max(1, numbers), 4),
           "spill_patterns": dict(spilled.most_common(15)), "spill_examples": examples}
    print(f"train {len(train)}: {res['skipped']} skipped, {res['train_steps']} gold steps; constants {consts}")
    for k, n in kinds.most_common():
        print(f"  {n:5d}  {k}")
    print("  missing constants:", ", ".join(f"{c} ({n})" for c, n in constants.most_common(12)))
    for name, c in held.items():
        print(f"{name} {res[name + '_problems']}: {sum(c.values())} whose gold equation the decoder cannot produce:",
              ", ".join(f"{k} {n}" for k, n in c.most_common()))
    print(f"{len(unread)} problems hold digits the number reader does not read ({res['unread_digit_runs']} runs), e.g.",
          "; ".join(f"{t[:40]!r}: {u}" for _, t, u in unread[:4]))
    print(f"numbers {numbers}: {total_spilled} ({res['spill_share']:.2%}) share a token with the characters beside them")
    print("  most common (N = the number):", ", ".join(f"{k!r} {n}" for k, n in spilled.most_common(8)))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
