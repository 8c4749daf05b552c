"""Label-word search: candidates, PETAL's ranking, the dev-accuracy choice, and that test is never read."""

import json

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from promptlearn.cli import app
from promptlearn.experiment import Experiment, run_experiment
from promptlearn.run.word_search import candidate_ids, choose, label_sums, likelihood_ratio, lm_bff_candidates
from tests.helpers.fixtures import write_task

runner = CliRunner()

POSITIVE = ["wonderful", "fun", "great", "good", "loved", "very fun", "really good", "great fun"]
NEGATIVE = ["awful", "boring", "terrible", "bad", "hated", "very bad", "really awful", "not fun"]


def toy_splits(poisoned: bool = False) -> dict:
    """8 train examples per label; ``poisoned`` flips every test label and replaces every test text."""
    train = [{"text": f"the movie was {w}", "label": "positive"} for w in POSITIVE]
    train += [{"text": f"the film was {w}", "label": "negative"} for w in NEGATIVE]
    test = [("it was fun", "positive"), ("it was good", "positive"), ("it was bad", "negative")]
    test += [("it was boring", "negative"), ("it was awful", "negative"), ("loved it", "positive")]
    if poisoned:
        test = [("yes no maybe " * (i + 1), {"positive": "negative", "negative": "positive"}[label])
                for i, (_, label) in enumerate(test)]  # fmt: skip
    return {"train": train, "test": [{"text": text, "label": label} for text, label in test]}


def test_lm_bff_candidates_sum_log_probs_per_label_and_skip_invalid_ids():
    log_probs = np.log(
        np.array([[0.5, 0.3, 0.1, 0.1], [0.6, 0.1, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.1, 0.5, 0.3]])
    )
    gold = np.array([0, 0, 1, 1])
    valid = np.array([False, True, True, True])  # id 0 is e.g. a special token
    table = lm_bff_candidates(label_sums(iter([torch.tensor(log_probs)]), gold, 2), valid, top_k=2)
    assert table[0].tolist() == [1, 2]  # summed over label 0's rows: id 1 (0.3*0.1) beats id 2 (0.1*0.2)
    assert table[1].tolist() == [2, 3]


def test_likelihood_ratio_prefers_a_label_specific_word_over_a_common_one():
    # word 0 is likely everywhere, word 1 only on label 0's examples
    log_probs = np.log(np.array([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1], [0.7, 0.01, 0.29], [0.7, 0.01, 0.29]]))
    gold = np.array([0, 0, 1, 1])
    batches = iter([torch.tensor(log_probs[:3]), torch.tensor(log_probs[3:])])  # sums accumulate over batches
    ratio = likelihood_ratio(label_sums(batches, gold, 2), np.bincount(gold))
    assert ratio[0, 1] > ratio[0, 0] and ratio[1, 2] > ratio[1, 0]
    np.testing.assert_allclose(ratio[0], log_probs[:2].mean(0) - log_probs[2:].mean(0))


def test_choice_maximises_dev_accuracy_and_keeps_words_distinct():
    # dev: label 0 is told apart by word 2, label 1 by word 3; the first-ranked words (0, 1) do worse
    dev_lp = np.log(np.array([[0.3, 0.3, 0.3, 0.1], [0.3, 0.4, 0.35, 0.05], [0.3, 0.3, 0.1, 0.3]]))
    dev = (dev_lp, np.array([0, 0, 1]))
    chosen = choose(dev, dev, [[0, 2, 3], [1, 3, 2]], words_per_label=1)
    assert chosen == [[2], [3]]
    two = choose(dev, dev, [[0, 2, 3], [1, 3, 2]], words_per_label=2)
    assert all(len(ids) == 2 for ids in two) and len({w for ids in two for w in ids}) == 4


def test_candidates_are_single_alphabetic_non_special_tokens(tiny_bert_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir)
    valid = candidate_ids(tokenizer, after_space=True)
    allowed = {tokenizer.convert_ids_to_tokens(int(i)) for i in np.flatnonzero(valid)}
    assert "great" in allowed and "sports" in allowed
    assert not allowed & {"[MASK]", "[CLS]", "[PAD]", "##able", "?", ","}


def search(model, data, output):
    return runner.invoke(app, ["search-verbalizer", "--model", str(model), "--data", str(data), "--pattern",
                               "{text} It was [MASK] .", "--shots", "2", "--seed", "21", "--top-k", "6",
                               "--output", str(output)])  # fmt: skip


@pytest.mark.slow
def test_search_never_reads_test(tiny_bert_dir, tmp_path):
    clean = write_task(tmp_path / "clean", toy_splits())
    poisoned = write_task(tmp_path / "poisoned", toy_splits(poisoned=True))
    first = search(tiny_bert_dir, clean, tmp_path / "a.yaml")
    second = search(tiny_bert_dir, poisoned, tmp_path / "b.yaml")
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    words = yaml.safe_load((tmp_path / "a.yaml").read_text())
    assert set(words) == {"positive", "negative"} and all(len(w) == 1 for w in words.values())
    assert (tmp_path / "a.yaml").read_text().replace("clean", "X") == (tmp_path / "b.yaml").read_text().replace(
        "poisoned", "X"
    )
    # the file is a verbalizer the other commands read
    zero_shot = runner.invoke(app, ["evaluate", "--model", str(tiny_bert_dir), "--data", str(clean), "--pattern",
                                    "{text} It was [MASK] .", "--verbalizer", str(tmp_path / "a.yaml")])  # fmt: skip
    assert zero_shot.exit_code == 0, zero_shot.output


def auto_experiment(model, data, output) -> dict:
    return {
        "model": str(model),
        "output": str(output),
        "tasks": [{"name": "toy", "data": str(data), "patterns": ["{text} It was [MASK] ."], "verbalizer": "auto"}],
        "modes": ["pet"],
        "shots": [2],
        "seeds": [13, 21],
        "train": {"max_steps": 2, "eval_every": 2, "batch_size": 2},
    }


@pytest.mark.slow
def test_fewshot_auto_verbalizer_searches_inside_each_split_and_never_reads_test(tiny_bert_dir, tmp_path):
    clean = write_task(tmp_path / "clean", toy_splits())
    poisoned = write_task(tmp_path / "poisoned", toy_splits(poisoned=True))
    records = {}
    for name, data in (("clean", clean), ("poisoned", poisoned)):
        records[name] = run_experiment(
            Experiment.from_dict(auto_experiment(tiny_bert_dir, data, tmp_path / f"{name}-out"))
        )
        assert all(r["status"] == "ok" for r in records[name]), records[name]
    for a, b in zip(records["clean"], records["poisoned"], strict=True):
        assert a["config"]["verbalizer"] == b["config"]["verbalizer"] and a["config"]["verbalizer"]
        assert a["dev"] == b["dev"]
    assert [r["test"] for r in records["clean"]] != [r["test"] for r in records["poisoned"]]
    stored = json.loads((tmp_path / "clean-out" / "runs" / records["clean"][0]["run_id"] / "config.json").read_text())
    assert stored["verbalizer"] == records["clean"][0]["config"]["verbalizer"]


def test_auto_verbalizer_is_refused_for_zero_shot(tiny_bert_dir, tmp_path):
    values = auto_experiment(tiny_bert_dir, write_task(tmp_path / "clean", toy_splits()), tmp_path / "out")
    with pytest.raises(Exception, match="zero-shot has none"):
        Experiment.from_dict(values | {"modes": ["zero-shot"]})


@pytest.mark.slow
def test_train_with_verbalizer_auto_stores_the_searched_words(tiny_bert_dir, tmp_path):
    data = write_task(tmp_path / "clean", toy_splits())
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--model", str(tiny_bert_dir), "--data", str(data), "--pattern",
                                 "{text} It was [MASK] .", "--verbalizer", "auto", "--shots", "2", "--max-steps", "2",
                                 "--batch-size", "2", "--output", str(run)])  # fmt: skip
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    searched = json.loads((run / "metrics.json").read_text())["label_search"]
    assert set(config["verbalizer"]) == {"positive", "negative"} and config["verbalizer_search"] == {}
    assert set(searched["candidates"]) == {"positive", "negative"}
    assert runner.invoke(app, ["evaluate", "--run", str(run)]).exit_code == 0
