"""The PET / iPET pipeline: ensemble, iPET generations, distillation, summary. Resumable.

Layout of the output folder::

    pipeline.json            the PetConfig; a restart must be given the same one
    data/base/               the K-shot train, the sampled dev, the test split
    data/pool.jsonl          the unlabelled pool
    data/g<g>-<member>/      a member's training data (iPET: original + newly labelled examples)
    g<g>/<member>/           a member's run folder;  g<g>/<member>.labels.npz its pool/dev/test scores
    data/final/              the pool with the last ensemble's soft labels
    final/                   the distilled classifier (what `evaluate --run` and `predict` use)
    summary.json, summary.md

Every file and folder is written whole or not at all, and a restart skips each one that exists:
a killed pipeline continues where it stopped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from pathlib import Path

from promptlearn import api
from promptlearn.data.examples import Example, load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.outputs import PET, check_output_free, mark_output, set_aside, write_json_atomic
from promptlearn.pet import distill
from promptlearn.pet.config import PetConfig
from promptlearn.pet.ensemble import soften
from promptlearn.pet.members import EncodingCache, Member, label_with, train_member, untrained_run
from promptlearn.pet.pool import (
    POOL,
    read_hidden_labels,
    read_split,
    sampled_split,
    unlabeled_pool,
    write_data_folder,
    write_pool,
)
from promptlearn.pet.selection import added_count, select
from promptlearn.pet.state import PetState
from promptlearn.pet.summary import write_summary
from promptlearn.prompt.verbalizer import Verbalizer
from promptlearn.run.config import RunConfig
from promptlearn.tasks import get_shape, shape_for
from promptlearn.tasks.base import DEFAULT_SHAPE

logger = logging.getLogger(__name__)

PIPELINE = "pipeline.json"


def run_pipeline(config: PetConfig, output: str | Path, overwrite: bool = False) -> dict:
    """Run (or finish) the pipeline of ``config`` in ``output``; returns the summary."""
    return Pipeline(config, Path(output)).run(overwrite)[1]


class Pipeline:
    def __init__(self, config: PetConfig, root: Path):
        if not config.base.verbalizer:
            raise PromptlearnError("PET's pattern models read label words at [MASK]: give --verbalizer or --task")
        base = config.base.anchored()
        self.labels = Verbalizer.from_dict(base.verbalizer).labels
        self.config = config
        self.base = base.replace(labels=self.labels, task_type=served_shape(config, base))
        self.root = root

    def run(self, overwrite: bool = False, distill_final: bool = True) -> tuple[PetState, dict]:
        """Run the pipeline; returns its finished state (every generation trained) and the summary.
        ``overwrite`` starts over, and the folder's old content goes only once the new pipeline is
        complete (until then it is set aside, and put back if this run fails).

        ``distill_final=False`` stops at the last generation's ensemble (``fewshot``'s ``pet-ensemble``
        needs no distilled classifier, and one may not be possible)."""
        started = time.perf_counter()
        if distill_final:
            distill.check_final(self.config, self.base, self.root)
        inputs = api.input_paths(self.base) | {"--unlabeled": self.config.unlabeled}
        check_output_free(self.root, overwrite, PET, inputs, resume=True)
        restart = overwrite and self.root.is_dir() and any(self.root.iterdir())
        with set_aside(self.root) if restart else contextlib.nullcontext():
            self._claim()
            state = self._data()
            cache = EncodingCache({"pool": list(state.pool), "dev": list(state.dev), "test": list(state.test)})
            state = state.with_generation(self._first_generation(state, cache))
            for generation in range(1, self.config.generations + 1):
                members = [self._ipet_member(Member(generation, p, r), state, cache) for p, r in self._grid()]
                state = state.with_generation(members)
            if distill_final:
                distill.train_final(state)
            return state, write_summary(state, time.perf_counter() - started)

    def _grid(self) -> list[tuple[int, int]]:
        return [(p, r) for p in range(len(self.config.patterns)) for r in range(self.config.repetitions)]

    def _claim(self) -> None:
        """Start a pipeline in ``root`` (checked to be free), or continue the same pipeline in it."""
        stored = self.root / PIPELINE
        wanted = self.config.to_dict()
        if stored.is_file():
            previous = PetConfig.from_dict(_read_json(stored), str(stored)).to_dict()
            differing = sorted(k for k in wanted if k != "base" and wanted[k] != previous[k])
            differing += sorted(f"base.{k}" for k in wanted["base"] if wanted["base"][k] != previous["base"].get(k))
            differing = [d for d in differing if d not in ("base.working_dir", "base.as_given")]
            if differing:
                raise PromptlearnError(
                    f"{self.root} holds a PET pipeline with other settings ({', '.join(differing)}); "
                    "give another --output, or --overwrite to start over"
                )
            logger.info("PET: continuing the pipeline in %s", self.root)
            return
        mark_output(self.root, PET)
        write_json_atomic(stored, wanted)

    def _data(self) -> PetState:
        """The state before any generation: train, dev, test and the pool, sampled once from the task and
        kept in ``data/`` (read back on restarts)."""
        folder, pool_path = self.root / "data" / "base", self.root / "data" / f"{POOL}.jsonl"
        if not folder.is_dir() or not pool_path.is_file():
            data = load_task_data(self.base.data, api.columns_of(self.base))
            train, dev = sampled_split(self.config, data, get_shape(self.base.task_type))
            write_pool(pool_path.parent, unlabeled_pool(self.config, data, train + dev))
            write_data_folder(folder, {"train": train, "dev": dev, "test": data.splits.get("test", [])})
        pool = read_split(pool_path.parent, POOL)
        if not pool:
            raise PromptlearnError("The unlabelled pool is empty: give --unlabeled FILE with unlabelled texts")
        train, dev, test = (tuple(read_split(folder, name)) for name in ("train", "dev", "test"))
        gold = tuple(read_hidden_labels(pool_path))
        return PetState(self.config, self.base, self.root, train, dev, test, tuple(pool), gold)

    def member_config(self, member: Member, data_dir: Path):
        """The run config of ``member``: its pattern, repetition seed and data folder."""
        p = member.pattern
        return self.base.replace(
            data=str(data_dir.resolve()), shots=None, pattern=self.config.patterns[p],
            pattern_id=self.config.pattern_ids[p], seed=self.base.seed + (member.repetition or 0),
        )  # fmt: skip

    def _first_generation(self, state: PetState, cache: EncodingCache) -> list[Member]:
        if self.config.zero_shot:
            members = [Member(0, p, None) for p in range(len(self.config.patterns))]
            for member in members:
                self._label_untrained(member, state, cache)
            return members
        members = [Member(0, p, r) for p, r in self._grid()]
        folder = self.root / "data" / "base"
        for member in members:
            self._train_and_label(member, folder, state, cache)
        return members

    def _label_untrained(self, member: Member, state: PetState, cache: EncodingCache) -> None:
        path = member.labels_file(self.root)
        if path.is_file():
            return
        run = untrained_run(self.member_config(member, self.root / "data" / "base"), [], list(state.pool))
        label_with(run, cache, []).save(path)

    def _train_and_label(self, member: Member, data_dir: Path, state: PetState, cache: EncodingCache) -> None:
        """Train ``member`` on ``data_dir`` and store its labels; PET weighs every generation's models by
        their untrained accuracy on the original labelled examples (not on iPET's added ones, which
        would measure agreement with the previous ensemble)."""
        path = member.labels_file(self.root)
        if path.is_file():
            return
        config = self.member_config(member, data_dir)
        train_member(config, member.run_dir(self.root))
        run = api.load_run(member.run_dir(self.root))
        weighed = self.config.reduction == "wmean" and self.config.weights_from == "train"
        label_with(run, cache, list(state.train) if weighed else []).save(path)

    def _ipet_member(self, member: Member, state: PetState, cache: EncodingCache) -> Member:
        """Train ``member`` on the original examples plus pool examples labelled by the other models of
        the state's last generation."""
        data_dir = member.data_dir(self.root)
        if not member.labels_file(self.root).is_file() and not data_dir.is_dir():
            others = [m for m in state.generations[-1] if m.is_other_than(member)]
            probabilities = soften(state.ensemble(others, "pool"))
            config = self.config
            total = added_count(member.generation, len(state.train), config.scale_factor, config.zero_shot_start)
            seed = self.base.seed * 1000 + member.generation * 100 + member.pattern * 10 + (member.repetition or 0)
            first_zero_shot = config.zero_shot and member.generation == 1
            picks = select(probabilities, total, state.label_shares(), seed, most_likely=first_zero_shot)
            pool = state.pool
            added = [Example(pool[row].text_a, pool[row].text_b, self.labels[label]) for row, label in picks]
            # zero-shot iPET has no labelled dev: checkpoints are chosen on the training labels themselves
            splits = {"train": [*state.train, *added], "dev": list(state.dev) or added, "test": list(state.test)}
            write_data_folder(data_dir, splits)
        self._train_and_label(member, data_dir, state, cache)
        return member


def served_shape(config: PetConfig, base: RunConfig) -> str | None:
    """The ``task_type`` of every component run: the one named, else the one found in the data (None: single-label,
    whose runs name none); refuses, with one message, a shape PET or iPET cannot serve."""
    data = None if base.task_type is not None else load_task_data(base.data, api.columns_of(base))
    shape = shape_for(base.task_type, data)
    if not shape.serves_pet:
        raise PromptlearnError(
            f"promptlearn pet does not serve {shape.name} tasks (its data files keep one text pair and one label "
            "per example, not an example's choices): `promptlearn fewshot` averages a task's patterns (pattern "
            "`ensemble`), and `promptlearn train` trains one."
        )
    if config.generations and not shape.serves_ipet:
        raise PromptlearnError(
            f"iPET (--generations, --zero-shot) does not serve {shape.name} tasks: each generation adds pool "
            "examples hard-labelled with one class each, drawn per class to keep the classes' shares, which "
            f"{shape.name} labels do not have. Run PET (--generations 0): its ensemble and distillation serve them."
        )
    return None if shape.name == DEFAULT_SHAPE else shape.name


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))
