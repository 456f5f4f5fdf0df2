#!/usr/bin/env python3
"""Agreement of a second, blind labelling with the writers' labels (issue 12).

    python3 tools/danvan-letters/agreement.py \
        --second tests/corpus/letters/agreement/labels*.jsonl \
        --gold tests/corpus/letters/test/*.jsonl [--subset OUT.jsonl]

Prints, per label, the second reader's precision and recall against the writers' labels (the
writer's label is the truth, as in every figure of bench/RESULTS-tagging.md), and kind accuracy.
With --subset, also writes the gold letters that were labelled a second time (whole lines, in
the order of the second labelling), so `danvan-letters eval` can score the tagger on exactly the
same letters: the reader and the tagger side by side.
"""
import argparse
import json
import sys

FLAGS = ["complex", "group", "staff_conduct", "anonymous", "reraised"]


def read_jsonl(paths):
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as e:
                        sys.exit(f"{path}:{number}: not JSON ({e})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--second", nargs="+", required=True, help="the second labelling (JSONL: id, labels)")
    ap.add_argument("--gold", nargs="+", required=True, help="the labelled letters (JSONL: id, labels, ...)")
    ap.add_argument("--subset", help="write the gold lines of the second-labelled letters here")
    a = ap.parse_args()

    def labelled(d, where):
        # A line without an id or any of the labels compared is refused, naming the field.
        if not isinstance(d, dict) or not isinstance(d.get("id"), str):
            sys.exit(f"{where}: a line without a string 'id'")
        labels = d.get("labels")
        if not isinstance(labels, dict):
            sys.exit(f"{where}: {d['id']}: no 'labels' object")
        for field in ["kind"] + FLAGS:
            if field not in labels:
                sys.exit(f"{where}: {d['id']}: labels.{field} missing")
        return d

    gold = {d["id"]: labelled(d, "--gold") for d in read_jsonl(a.gold)}
    second = [labelled(d, "--second") for d in read_jsonl(a.second)]
    missing = [d["id"] for d in second if d["id"] not in gold]
    if missing:
        sys.exit(f"{len(missing)} second-labelled ids have no gold letter, e.g. {missing[:3]}")
    if len({d["id"] for d in second}) != len(second):
        sys.exit("an id is labelled twice in the second labelling")

    n = len(second)
    kind_agree = sum(gold[d["id"]]["labels"]["kind"] == d["labels"]["kind"] for d in second)
    print(f"letters {n}; kind accuracy of the second reader {kind_agree / n:.3f}")
    for flag in FLAGS:
        tp = fp = fn = 0
        for d in second:
            truth = bool(gold[d["id"]]["labels"][flag])
            said = bool(d["labels"][flag])
            tp += truth and said
            fp += said and not truth
            fn += truth and not said
        p = tp / (tp + fp) if tp + fp else float("nan")
        r = tp / (tp + fn) if tp + fn else float("nan")
        print(f"{flag:14s} P {p:.3f}  R {r:.3f}  (tp {tp}, fp {fp}, fn {fn}; {tp + fn} true)")

    if a.subset:
        with open(a.subset, "w", encoding="utf-8") as out:
            for d in second:
                out.write(json.dumps(gold[d["id"]], ensure_ascii=False) + "\n")
        print(f"wrote {n} gold letters to {a.subset}")


if __name__ == "__main__":
    main()
