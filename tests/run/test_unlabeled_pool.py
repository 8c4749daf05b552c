"""The unlabelled pool (PET's pool, the auxiliary MLM texts, unlabeled calibration) leaves out the run's
train and dev texts by content: a duplicated text must not come back as an 'unlabelled' one."""

from __future__ import annotations

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.data.sampling import few_shot
from promptlearn.pet.config import PetConfig
from promptlearn.pet.pool import unlabeled_pool
from promptlearn.run.config import RunConfig
from tests.helpers.fixtures import write_task

WORDS = {"positive": ["great", "good", "fun", "loved"], "negative": ["awful", "bad", "boring", "hated"]}


def _duplicated_task(folder):
    """Every text three times (as MPQA has), and one pair of texts that differ in text_b only."""
    rows = [{"text": f"it was {w}", "text_b": "yes", "label": label} for label, ws in WORDS.items() for w in ws]
    rows += [{"text": "it was great", "text_b": "no", "label": "positive"}]
    return write_task(folder, {"train": rows * 3})


def _config(data, **changes) -> RunConfig:
    return RunConfig(
        model="unused", data=str(data), pattern="{text_a} ? [MASK] , {text_b}", verbalizer={
            "positive": ["great"], "negative": ["terrible"]}, shots=1, seed=3, **changes,
    )  # fmt: skip


def _check(pool, used) -> None:
    taken = {(ex.text_a, ex.text_b) for ex in used}
    assert pool and not taken & {(ex.text_a, ex.text_b) for ex in pool}


def test_the_runs_pool_leaves_out_every_copy_of_its_train_and_dev_texts(tmp_path):
    data = load_task_data(str(_duplicated_task(tmp_path / "task")))
    config = _config(tmp_path / "task")
    train, dev = few_shot(data, config.shots, config.seed)
    pool = api.unlabeled_pool(config, data, train + dev, limit=1000)
    _check(pool, train + dev)
    kept = {(ex.text_a, ex.text_b) for ex in data.split("train")} - {(ex.text_a, ex.text_b) for ex in train + dev}
    assert {(ex.text_a, ex.text_b) for ex in pool} == kept  # a text differing in text_b only stays


def test_pets_pool_leaves_out_every_copy_of_its_train_and_dev_texts(tmp_path):
    data = load_task_data(str(_duplicated_task(tmp_path / "task")))
    config = PetConfig(base=_config(tmp_path / "task"), patterns=["{text_a} ? [MASK] , {text_b}"])
    train, dev = few_shot(data, 1, config.base.seed)
    _check(unlabeled_pool(config, data, train + dev), train + dev)


def test_both_pools_are_the_same_seeded_sample_in_the_same_order(tmp_path):
    data = load_task_data(str(_duplicated_task(tmp_path / "task")))
    config = PetConfig(base=_config(tmp_path / "task"), patterns=["{text_a} ? [MASK] , {text_b}"], max_unlabeled=5)
    train, dev = few_shot(data, 1, config.base.seed)
    assert api.unlabeled_pool(config.base, data, train + dev, limit=5) == unlabeled_pool(config, data, train + dev)
