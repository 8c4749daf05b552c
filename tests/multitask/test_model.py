"""What tasks share: the encoder always, what a mode adds only with share=all; a task trained later leaves an
earlier task's own parameters bit-identical."""

import pytest
import torch

from promptlearn.data.examples import load_task_data
from promptlearn.multitask import pipeline
from promptlearn.multitask.config import MultiTaskOptions, task_configs, task_specs
from promptlearn.multitask.trainer import TaskItem
from tests.helpers.multitask import write_tasks


@pytest.fixture()
def tasks_file(tmp_path):
    return write_tasks(tmp_path)


def build(tasks_file, model_dir, mode, share, **options):
    settings = MultiTaskOptions(tasks=str(tasks_file), share=share, **options)
    base = {"model": str(model_dir), "mode": mode, "max_steps": 3, "batch_size": 3, "learning_rate": 1e-2}
    return pipeline.build(task_configs(base, task_specs(settings)), settings)


def own(run, task):
    return {name: p for name, p in run.model.tasks[task].named_parameters() if p.requires_grad}


@pytest.mark.parametrize("mode", ["soft_prompt", "lora"])
def test_training_task_two_leaves_task_one_bit_identical(tasks_file, tiny_bert_dir, mode):
    run = build(tasks_file, tiny_bert_dir, mode, "task")
    before = {name: p.detach().clone() for name, p in own(run, "sentiment").items()}
    other = {name: p.detach().clone() for name, p in own(run, "question").items()}
    data = load_task_data(run.configs["question"].data)
    items = [TaskItem("question", e) for e in run.pvps["question"].encode(data.splits["train"])]
    run.trainer.probabilities = {"question": 1.0}
    run.trainer.fit(items, [])
    after = own(run, "sentiment")
    assert before.keys() == after.keys() and before
    assert all(torch.equal(before[name], after[name]) for name in before), "task 1 changed"
    assert any(not torch.equal(other[name], p) for name, p in own(run, "question").items()), "task 2 did not train"


def test_the_encoder_is_one_tensor_for_every_task(tasks_file, tiny_bert_dir):
    run = build(tasks_file, tiny_bert_dir, "soft_prompt", "task")
    one, two = run.model.tasks["sentiment"], run.model.tasks["question"]
    assert one.word_embeddings.weight is two.word_embeddings.weight
    assert one.mode.prompt is not two.mode.prompt


@pytest.mark.slow
def test_share_all_gives_every_task_one_prompt(tasks_file, tiny_bert_dir):
    run = build(tasks_file, tiny_bert_dir, "soft_prompt", "all")
    assert run.model.tasks["sentiment"].mode.prompt is run.model.tasks["question"].mode.prompt
    groups = run.model.mode.param_groups(run.model, None)
    assert sum(p.numel() for g in groups for p in g["params"]) == run.model.tasks["sentiment"].mode.prompt.numel()


def test_pet_trains_one_masked_lm_for_every_task(tasks_file, tiny_bert_dir):
    run = build(tasks_file, tiny_bert_dir, "pet", "task")
    one, two = run.model.tasks["sentiment"], run.model.tasks["question"]
    assert all(p is q for p, q in zip(one.backbone.parameters(), two.backbone.parameters(), strict=True))
    assert run.model.trainable_parameters() == one.trainable_parameters()
