"""A task cut to its first N labels, as a data folder of its own: issue 29's time check at 10 classes.

    python experiments/label_subset.py --task 20newsgroups --labels 10 --output runs/20newsgroups-10

Keeps the examples (train and test, in their order) whose label is among the first N of the task's labels in
sorted order, and writes them as ``OUTPUT/{train,test}.jsonl`` unchanged. The issue's time target is stated for
up to 10 classes; the shared tasks have 2 to 5 or 20 and more, so the check runs on 20newsgroups' first ten.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", required=True, help="a task folder under ../shared/data")
    parser.add_argument("--labels", type=int, required=True, help="how many labels to keep (the first, sorted)")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    splits = {name: (DATA / args.task / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
              for name in ("train", "test")}  # fmt: skip
    keep = sorted({json.loads(line)["label"] for line in splits["train"]})[: args.labels]
    args.output.mkdir(parents=True, exist_ok=True)
    for name, lines in splits.items():
        kept = [line for line in lines if json.loads(line)["label"] in keep]
        (args.output / f"{name}.jsonl").write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        print(f"{name}: {len(kept)} examples")
    print("labels:", ", ".join(keep))


if __name__ == "__main__":
    main()
