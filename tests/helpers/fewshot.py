"""What the few-shot grid tests share: the words of a small task and the values of a small experiment."""

from __future__ import annotations

#: 8 texts per label: enough for K=2 train + K=2 dev per label, with texts to spare
POSITIVE = ["wonderful", "fun", "great", "good", "loved", "very fun", "really good", "great fun"]
NEGATIVE = ["awful", "boring", "terrible", "bad", "hated", "very bad", "really awful", "not fun"]


def experiment_values(model, data, output, **changes) -> dict:
    values = {
        "model": str(model),
        "output": str(output),
        "tasks": [
            {
                "name": "toy",
                "data": str(data),
                "patterns": ["{text} It was [MASK] .", "{text} ! [MASK] ."],
                "verbalizer": {"positive": ["great"], "negative": ["terrible"]},
            }
        ],
        "modes": ["zero-shot", "pet"],
        "shots": [2],
        "seeds": [13, 21],
        "train": {"max_steps": 3, "eval_every": 2, "batch_size": 2},
    }
    return values | changes


def comparable(records: list[dict]) -> dict:
    """What must not depend on interruptions: per run, status and dev/test metrics."""
    return {r["run_id"]: (r["status"], r.get("dev"), r.get("test")) for r in records}
