"""Few-shot sampling: the K-shot train/dev split of a task (LM-BFF), and unlabelled samples by content."""

from __future__ import annotations

import random
from collections import defaultdict

from promptlearn.data.examples import Example, TaskData
from promptlearn.errors import PromptlearnError

#: where dev comes from: "sampled" = K per label from the rest of train (LM-BFF), "given" = the data's dev split
DEV_SPLITS = ("sampled", "given")
DEFAULT_DEV_SPLIT = "sampled"
#: the five seeds of LM-BFF's few-shot samples, an experiment's default
LM_BFF_SEEDS = (13, 21, 42, 87, 100)


def check_dev_split(dev_split: str) -> None:
    """Refuse a ``--dev-split`` that is not one of :data:`DEV_SPLITS` (RunConfig and every sampler ask here)."""
    if dev_split not in DEV_SPLITS:
        raise PromptlearnError(f"--dev-split must be one of {', '.join(DEV_SPLITS)}, got {dev_split!r}")


def checked_request(data: TaskData, shots: int, dev_split: str, unit: str = "K per label") -> bool:
    """Refuse a K-shot request no sample can meet (``shots`` below 1, ``dev_split="given"`` on data without a dev
    split); returns whether dev is sampled from train. ``unit``: what a sampled dev takes, for the message. Every
    task shape's sampler asks it, so the rules and their words are one."""
    check_dev_split(dev_split)
    if shots < 1:
        raise PromptlearnError(f"--shots must be at least 1, got {shots}")
    sample_dev = dev_split == "sampled"
    if not sample_dev and "dev" not in data.splits:
        raise PromptlearnError(
            f"--dev-split given: the data in {data.source} has no dev split. "
            f"Add a dev file, or use --dev-split sampled to take {unit} from the rest of train."
        )
    return sample_dev


def few_shot(
    data: TaskData, shots: int | None, seed: int, dev_split: str = DEFAULT_DEV_SPLIT
) -> tuple[list[Example], list[Example]]:
    """The (train, dev) pair; dev is the set the best checkpoint is selected on.

    With ``shots=K``: K examples per label for train, and for dev either K per label from the
    *rest* of train (``dev_split="sampled"``, the LM-BFF protocol and the default) or the data's
    dev split (``"given"``; an error when the data has none). Selecting on a large given dev split
    makes a "K-shot" result use far more labelled data than K, so it must be asked for.
    Without ``shots``: the full train split, and the given dev split (a 10 % slice of train when
    the data has none), whatever ``dev_split`` says. Deterministic for a given seed.
    """
    train = data.split("train")
    if shots is None:
        check_dev_split(dev_split)
        if "dev" in data.splits:
            return train, data.splits["dev"]
        rng = random.Random(seed)
        order = list(range(len(train)))
        rng.shuffle(order)
        cut = max(1, len(train) // 10)
        dev = [train[i] for i in sorted(order[:cut])]
        held_out = {_text_of(ex) for ex in dev}  # every copy of a dev text leaves train
        return [train[i] for i in sorted(order[cut:]) if _text_of(train[i]) not in held_out], dev
    sample_dev = checked_request(data, shots, dev_split)
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(train):
        by_label[ex.label].append(i)
    needed = shots * (2 if sample_dev else 1)
    counts = {
        label: len({_text_of(train[i]) for i in by_label.get(label, ())}) for label in sorted({*data.labels, *by_label})
    }
    short = {label: count for label, count in counts.items() if count < needed}
    if short:
        absent = [label for label, count in short.items() if count == 0]
        advice = "Lower --shots"
        if sample_dev and "dev" in data.splits:
            advice += ", or select on the data's dev split with --dev-split given"
        if absent:
            advice = "Add training examples of every label (a K-shot run cannot learn a label from none)"
        raise PromptlearnError(
            f"--shots {shots} needs {needed} distinct training texts per label"
            f"{' (K for train + K for dev, sampled from train)' if sample_dev else ''}, "
            f"got {', '.join(f'{label}: {count}' for label, count in short.items())}"
            f"{f' ({_names(absent)} not in the train split)' if absent else ''}. {advice}."
        )
    rng = random.Random(seed)
    train_idx, dev_idx = [], []
    taken: set[tuple[str, str | None]] = set()
    for label in sorted(by_label):
        picked = _distinct_draw(train, by_label[label], needed, taken, rng, data.source)
        train_idx += picked[:shots]
        dev_idx += picked[shots:]
    rng.shuffle(train_idx)
    few_train = [train[i] for i in train_idx]
    dev = [train[i] for i in dev_idx] if sample_dev else data.splits["dev"]
    return few_train, dev


def unused_sample(examples: list[Example], used: list[Example], limit: int, seed: int) -> list[Example]:
    """``examples`` without any whose texts (``text_a``, ``text_b``) one of ``used`` has, cut to ``limit``
    by a sample fixed by ``seed``, in their original order.

    Compared by content, not identity: a dataset with duplicated rows (MPQA) holds the same text in
    several rows, and a run's train or dev text must not come back as an unlabelled one.
    """
    taken = {(ex.text_a, ex.text_b) for ex in used}
    kept = [ex for ex in examples if (ex.text_a, ex.text_b) not in taken]
    if len(kept) > limit:
        kept = [kept[i] for i in sorted(random.Random(seed).sample(range(len(kept)), limit))]
    return kept


def _text_of(example: Example) -> tuple[str, str | None]:
    return example.text_a, example.text_b


def _distinct_draw(
    rows: list[Example], candidates: list[int], needed: int, taken: set, rng: random.Random, source: str
) -> list[int]:
    """``needed`` of ``candidates`` (indices into ``rows``) whose texts are new to ``taken`` (which grows).

    The draw is the plain ``rng.sample`` unless it holds a text drawn before (a duplicated row, or the
    same text under another label); only then is each such row replaced by a further draw from the rest.
    So a split changes only where it held one text twice, in train and dev or twice in one of them.
    """
    picked = []
    for i in rng.sample(candidates, needed):
        if _text_of(rows[i]) not in taken:
            taken.add(_text_of(rows[i]))
            picked.append(i)
    if len(picked) < needed:
        chosen = set(picked)
        for i in rng.sample(candidates, len(candidates)):
            if len(picked) == needed:
                break
            if i not in chosen and _text_of(rows[i]) not in taken:
                taken.add(_text_of(rows[i]))
                picked.append(i)
    if len(picked) < needed:
        raise PromptlearnError(
            f"{source}: label {rows[candidates[0]].label!r} has too few texts that no other label's sample "
            f"already holds ({len(picked)} of {needed}): the same texts sit under several labels. Remove the "
            "conflicting rows or lower --shots."
        )
    return picked


def _names(labels: list[str]) -> str:
    return labels[0] + " is" if len(labels) == 1 else ", ".join(labels) + " are"
