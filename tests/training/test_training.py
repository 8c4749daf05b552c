import json

import pytest

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.run.config import RunConfig

VERBALIZER = {"positive": ["great"], "negative": ["terrible"]}


def tiny_config(model_dir, task_dir, **changes) -> RunConfig:
    values = dict(model=str(model_dir), data=str(task_dir), pattern="It was [MASK].", verbalizer=VERBALIZER,
                  learning_rate=1e-3, max_steps=30, batch_size=3, eval_every=10, warmup_ratio=0.0)  # fmt: skip
    return RunConfig(**(values | changes))


@pytest.mark.slow
@pytest.mark.parametrize("model_fixture", ["tiny_bert_dir", "tiny_distilbert_dir"])
def test_pet_fits_a_tiny_task_to_100_percent(model_fixture, tiny_task_dir, request):
    config = tiny_config(request.getfixturevalue(model_fixture), tiny_task_dir, learning_rate=3e-3, max_steps=60)
    data = load_task_data(config.data)
    run = api.build(config, data)
    train = run.pvp.encode(data.splits["train"])
    run.trainer.fit(train, train)
    assert run.trainer.evaluate(train)["accuracy"] == 1.0


@pytest.mark.slow
def test_same_seed_same_numbers_other_seed_other_numbers(tiny_bert_dir, tiny_task_dir):
    config = tiny_config(tiny_bert_dir, tiny_task_dir, max_steps=6, eval_every=3)
    first, again = api.train(config), api.train(config)
    other = api.train(config.replace(seed=21))
    assert first["training"]["history"] == again["training"]["history"]
    assert first["test"] == again["test"]
    assert first["training"]["history"] != other["training"]["history"]


def test_run_folder_holds_the_four_outputs_and_reloads(tiny_bert_dir, tiny_task_dir, tmp_path):
    config = tiny_config(tiny_bert_dir, tiny_task_dir, max_steps=6)
    metrics = api.train(config, tmp_path / "run")
    files = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert files == [".promptlearn-run", "config.json", "metrics.json", "predictions.jsonl", "weights.safetensors"]
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(saved["dev"]) == set(saved["test"]) == {"accuracy", "macro_f1"}
    assert saved["test"] == metrics["test"]
    assert saved["training"]["trainable_parameters"] == saved["training"]["total_parameters"]
    lines = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 4
    assert set(lines[0]) == {"text", "gold", "predicted", "probabilities"}
    assert abs(sum(lines[0]["probabilities"].values()) - 1) < 1e-4

    reloaded = api.load_run(tmp_path / "run")
    test = load_task_data(str(tiny_task_dir)).splits["test"]
    assert reloaded.config.labels == ["positive", "negative"]
    assert [r["probabilities"] for r in reloaded.predict(test)] == [r["probabilities"] for r in lines]


def test_early_stopping_stops_before_max_steps(tiny_bert_dir, tiny_task_dir):
    config = tiny_config(tiny_bert_dir, tiny_task_dir, learning_rate=1e-9, max_steps=100, eval_every=1, patience=2)
    metrics = api.train(config)
    assert len(metrics["training"]["history"]) == 3
