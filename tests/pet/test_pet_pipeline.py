"""The PET pipeline end to end on a tiny random model: layout, resumption, zero-shot iPET's start."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import BertForMaskedLM

from promptlearn import api
from promptlearn.errors import PromptlearnError
from promptlearn.pet.ensemble import log_probs, merge, soften
from promptlearn.pet.members import EncodingCache, Labels, label_with
from promptlearn.pet.pipeline import Pipeline, run_pipeline
from promptlearn.pet.pool import read_split
from tests.helpers import pet as pet_helpers
from tests.helpers.fixtures import tiny_bert, tiny_tokenizer
from tests.helpers.pet import pet_config

pet_task = pet_helpers.pet_task  # the fixture


@pytest.mark.slow
def test_pipeline_writes_every_component(tiny_bert_dir, pet_task, tmp_path):
    out = tmp_path / "pet"
    summary = run_pipeline(pet_config(tiny_bert_dir, pet_task, generations=1), out)
    for member in ("g0/p0-r0", "g0/p1-r0", "g1/p0-r0", "g1/p1-r0"):
        assert (out / member / "metrics.json").is_file()
        assert (out / f"{member}.labels.npz").is_file()
    assert len(read_split(out / "data" / "base", "train")) == 4
    pool = (out / "data" / "pool.jsonl").read_text().splitlines()
    assert len(pool) == 20 - 8  # the train split without the 2 + 2 shots per label
    # generation 1: the 4 original examples and up to 4 x (5 - 1) = 16 pool examples (fewer: the pool is small)
    g1 = read_split(out / "data" / "g1-p0-r0", "train")
    assert g1[:4] == read_split(out / "data" / "base", "train") and 4 < len(g1) <= 4 + 12
    components = [row["component"] for row in summary["rows"]]
    assert components == ["g0/p0-r0", "g0/p1-r0", "g0/ensemble (wmean)", "g1/p0-r0", "g1/p1-r0",
                          "g1/ensemble (wmean)", "final"]  # fmt: skip
    # the final classifier learnt the last ensemble's soft labels on the whole pool, at T = 2
    final = json.loads((out / "final" / "config.json").read_text())
    assert final["mode"] == "finetune" and final["temperature"] == 2.0
    soft = [json.loads(line) for line in (out / "data" / "final" / "soft_labels.jsonl").read_text().splitlines()]
    assert len(soft) == 12 and all(abs(sum(row) - 1) < 1e-6 for row in soft)
    assert summary["rows"][-1]["train_examples"] == 12 and "test" in summary["rows"][-1]
    assert json.loads((out / "summary.json").read_text())["rows"] == summary["rows"]


class Killed(Exception):
    """Stands for a kill -9 in the middle of a training."""


@pytest.mark.slow
def test_a_killed_pipeline_resumes_without_retraining(tiny_bert_dir, pet_task, tmp_path, monkeypatch):
    out = tmp_path / "pet"
    config = pet_config(tiny_bert_dir, pet_task, generations=1)
    trained, real_train = [], api.train

    def counting_train(run_config, output, **kwargs):
        if len(trained) == 3 and not resumed:
            raise Killed  # the fourth training dies before writing anything
        trained.append(str(output))
        return real_train(run_config, output, **kwargs)

    monkeypatch.setattr(api, "train", counting_train)
    resumed = False
    with pytest.raises(Killed):
        run_pipeline(config, out)
    assert [p.removeprefix(str(out) + "/") for p in trained] == ["g0/p0-r0", "g0/p1-r0", "g1/p0-r0"]
    assert not (out / "g1" / "p1-r0").exists()

    resumed, trained[:] = True, []
    run_pipeline(config, out)
    assert [p.removeprefix(str(out) + "/") for p in trained] == ["g1/p1-r0", "final"]
    run_pipeline(config, out)  # everything done: nothing trains again
    assert len(trained) == 2


@pytest.mark.slow
def test_a_restart_with_other_settings_is_refused(tiny_bert_dir, pet_task, tmp_path):
    out = tmp_path / "pet"
    run_pipeline(pet_config(tiny_bert_dir, pet_task, patterns=["{text} it was [MASK] ."]), out)
    with pytest.raises(PromptlearnError, match=r"other settings \(repetitions\)"):
        run_pipeline(pet_config(tiny_bert_dir, pet_task, patterns=["{text} it was [MASK] ."], repetitions=2), out)


@pytest.mark.slow
def test_zero_shot_ipet_starts_from_the_untrained_ensembles_most_likely_examples(tiny_bert_dir, pet_task, tmp_path):
    out = tmp_path / "pet"
    run_pipeline(pet_config(tiny_bert_dir, pet_task, zero_shot=True, generations=1, zero_shot_start=2), out)
    assert not (out / "g0" / "p0-untrained").exists()  # generation 0 is not trained
    pool = read_split(out / "data", "pool")
    labels = Labels.load(out / "g0" / "p1-untrained.labels.npz")  # the only other model of p0-r0
    train = read_split(out / "data" / "g1-p0-r0", "train")
    assert read_split(out / "data" / "base", "train") == []
    # per label (1 each: 2 split uniformly), the most probable pool rows among those predicted as that label
    logits = labels.logits["pool"]
    predicted, confidence = logits.argmax(axis=1), logits.max(axis=1)
    rows = {ex.text_a: i for i, ex in enumerate(pool)}
    for index, label in enumerate(["positive", "negative"]):
        chosen = [rows[ex.text_a] for ex in train if ex.label == label]
        candidates = np.flatnonzero(predicted == index)
        assert len(chosen) == min(1, len(candidates))
        assert sorted(chosen) == sorted(candidates[np.argsort(-confidence[candidates], kind="stable")[: len(chosen)]])


def _members(out, generation: int) -> list[str]:
    return sorted(f"g{generation}/{p.name.removesuffix('.labels.npz')}" for p in (out / f"g{generation}").glob("*.npz"))


@pytest.mark.slow
def test_a_calibrated_pipeline_labels_and_distils_with_the_runs_calibrated_predictions(
    tiny_bert_dir, pet_task, tmp_path
):
    """Member labels, the ensemble, iPET's data and the soft labels are the calibrated runs' predict_proba."""
    out = tmp_path / "pet"
    config = pet_config(tiny_bert_dir, pet_task, base_changes={"calibrate": "content-free"}, generations=1)
    run_pipeline(config, out)
    test, pool = read_split(out / "data" / "base", "test"), read_split(out / "data", "pool")
    for generation in (0, 1):
        for member in _members(out, generation):
            run = api.load_run(out / member)
            stored = Labels.load(out / f"{member}.labels.npz")
            for split, examples in (("test", test), ("pool", pool)):
                calibrated = run.predict_proba(examples)
                raw = run.trainer.predict_proba(run.pvp.encode(examples))
                assert not np.allclose(calibrated, raw, atol=1e-3)  # calibration changes these numbers
                np.testing.assert_allclose(np.exp(stored.logits[split]), calibrated, atol=1e-5)
    g1 = _members(out, 1)
    weights = [Labels.load(out / f"{m}.labels.npz").prior_accuracy for m in g1]
    merged = merge([log_probs(api.load_run(out / m).predict_proba(pool)) for m in g1], weights)
    soft = [json.loads(line) for line in (out / "data" / "final" / "soft_labels.jsonl").read_text().splitlines()]
    np.testing.assert_allclose(soft, soften(merged, 2.0), atol=1e-6)


@pytest.mark.slow
def test_ipet_weighs_every_generation_by_untrained_accuracy_on_the_original_examples(pet_task, tmp_path):
    """PET's wmean weight, computed by hand from the masked LM's own logits: generation 1 uses the
    original labelled examples only, never its pseudo-labelled ones (that would be agreement with
    the previous ensemble)."""
    model = tmp_path / "model"  # a random model whose [MASK] prediction depends on the input
    tiny_bert(seed=1, initializer_range=0.2).save_pretrained(model)
    tiny_tokenizer().save_pretrained(model)
    out = tmp_path / "pet"
    config = pet_config(model, pet_task, base_changes={"shots": 3}, generations=1)
    state, _ = Pipeline(config, out).run()
    original = read_split(out / "data" / "base", "train")
    assert len(read_split(out / "data" / "g1-p0-r0", "train")) > len(original)
    masked_lm = BertForMaskedLM.from_pretrained(model).eval()
    tokenizer = tiny_tokenizer()
    words = tokenizer.convert_tokens_to_ids(["great", "terrible"])
    hand = []
    for pattern in config.patterns:
        right = 0
        for ex in original:
            inputs = tokenizer(pattern.replace("{text}", ex.text_a), return_tensors="pt")
            mask = int((inputs["input_ids"][0] == tokenizer.mask_token_id).nonzero())
            with torch.no_grad():
                scores = masked_lm(**inputs).logits[0, mask, words]
            right += ["positive", "negative"][int(scores.argmax())] == ex.label
        hand.append(right / len(original))
    assert hand[0] != hand[1]  # the weights tell the patterns apart
    for generation in (0, 1):
        members = state.generations[generation]
        stored = [Labels.load(m.labels_file(out)) for m in members]
        assert [labels.prior_accuracy for labels in stored] == pytest.approx(hand)
        np.testing.assert_allclose(
            state.ensemble(members, "test"), merge([labels.logits["test"] for labels in stored], hand)
        )


def test_members_sharing_a_pattern_label_with_their_own_demonstrations(tiny_bert_dir, pet_task):
    """The encoding cache is keyed on all the encoding depends on: a second member of the same pattern
    with other demonstrations must not get the first one's encoded inputs."""
    config = pet_config(tiny_bert_dir, pet_task).base.replace(
        data=str(pet_task), labels=["positive", "negative"], demonstrations=True, demonstration_sets=2,
        demonstration_length=16, max_length=32,
    )  # fmt: skip
    examples = read_split(pet_task, "train")
    cache = EncodingCache({"pool": examples[:6], "dev": [], "test": examples[6:]})
    for seed, pool in ((13, examples[:8]), (14, examples[8:])):
        run = api.build(config.replace(seed=seed))
        api.use_demonstrations(run, pool)
        labels = label_with(run, cache, [])
        for split in ("pool", "test"):
            own = run.predict_proba(cache.splits[split])
            np.testing.assert_allclose(np.exp(labels.logits[split]), own, atol=1e-6)


def test_a_distilled_classifier_that_cannot_read_demonstrations_is_refused_before_training(
    tiny_bert_dir, pet_task, tmp_path
):
    config = pet_config(tiny_bert_dir, pet_task, base_changes={"demonstrations": True})
    with pytest.raises(PromptlearnError, match=r"distilled classifier \(--final-mode finetune\) has no label words"):
        run_pipeline(config, tmp_path / "pet")
    assert not (tmp_path / "pet").exists()


def test_overwrite_keeps_the_old_pipeline_until_the_new_one_is_complete(tiny_bert_dir, pet_task, tmp_path, monkeypatch):
    out = tmp_path / "pet"
    (out / "data").mkdir(parents=True)
    (out / "pipeline.json").write_text("{}")  # a pipeline folder of an earlier version: no marker
    (out / "summary.md").write_text("the old pipeline's results")

    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(api, "train", killed)
    with pytest.raises(Killed):
        run_pipeline(pet_config(tiny_bert_dir, pet_task), out, overwrite=True)
    assert (out / "summary.md").read_text() == "the old pipeline's results"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pet", "task"]  # nothing left aside or half-written


def test_a_foreign_folder_is_refused_even_with_overwrite(tiny_bert_dir, pet_task, tmp_path):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "todo.txt").write_text("mine")
    with pytest.raises(PromptlearnError, match="not written by promptlearn"):
        run_pipeline(pet_config(tiny_bert_dir, pet_task), out, overwrite=True)
    assert [p.name for p in out.iterdir()] == ["todo.txt"]
