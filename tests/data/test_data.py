import time

import pytest

from promptlearn.data.examples import Columns, Example, TaskData, load_examples, load_task_data
from promptlearn.data.sampling import few_shot
from promptlearn.errors import PromptlearnError
from promptlearn.run.config import RunConfig
from tests.helpers.fixtures import write_task


def labelled(n_per_label: int, labels=("a", "b", "c")) -> list[Example]:
    return [Example(f"{label} {i}", label=label) for label in labels for i in range(n_per_label)]


def test_loads_jsonl_folder_with_sorted_labels(tiny_task_dir):
    data = load_task_data(str(tiny_task_dir))
    assert sorted(data.splits) == ["dev", "test", "train"]
    assert data.labels == ["negative", "positive"]
    assert data.splits["train"][0] == Example("the movie was wonderful", None, "positive")
    assert not data.has_text_b


def test_loads_csv_and_tsv_with_mapped_columns(tmp_path):
    (tmp_path / "train.csv").write_text("sentence,premise,gold\nhello,world,1\nbye,all,0\n")
    (tmp_path / "test.tsv").write_text("sentence\tpremise\tgold\nhi\tthere\t1\n")
    data = load_task_data(str(tmp_path), Columns(text="sentence", text_b="premise", label="gold"))
    assert data.labels == ["0", "1"]
    assert data.has_text_b
    assert data.splits["test"] == [Example("hi", "there", "1")]


def test_loads_a_save_to_disk_folder(tmp_path):
    import datasets

    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    rows = {"text": ["good", "bad"], "label": [1, 0]}
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict(rows, features=features),
         "validation": datasets.Dataset.from_dict(rows, features=features)}
    ).save_to_disk(str(tmp_path / "saved"))  # fmt: skip
    data = load_task_data(str(tmp_path / "saved"))
    assert sorted(data.splits) == ["dev", "train"]
    assert data.splits["train"] == [Example("good", None, "pos"), Example("bad", None, "neg")]


def test_missing_columns_and_folders_are_clear_errors(tmp_path):
    write_task(tmp_path / "t", {"train": [{"sentence": "x", "label": "a"}]})
    with pytest.raises(PromptlearnError, match=r"no column 'text'.*--text-column"):
        load_task_data(str(tmp_path / "t"))
    with pytest.raises(PromptlearnError, match="does not exist"):
        load_task_data(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(PromptlearnError, match="has no train/dev/test file"):
        load_task_data(str(tmp_path / "empty"))


def test_unlabelled_file_loads_for_prediction(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"text": "fun"}\n')
    assert load_examples(tmp_path / "in.jsonl") == [Example("fun")]


def test_hub_dataset_offline_fails_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(PromptlearnError, match=r"HF_HUB_OFFLINE is set.*pass a local folder"):
        load_task_data("glue")
    assert time.perf_counter() - started < 5


def test_few_shot_takes_k_per_label_and_is_deterministic():
    data = TaskData(splits={"train": labelled(20)}, labels=["a", "b", "c"], source="x")
    train, dev = few_shot(data, shots=4, seed=13)
    assert sorted(ex.label for ex in train) == ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    assert sorted(ex.label for ex in dev) == ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    assert not set(train) & set(dev), "dev must come from the rest of train"
    assert (train, dev) == few_shot(data, shots=4, seed=13)
    assert few_shot(data, shots=4, seed=21)[0] != train


def test_few_shot_samples_dev_from_train_even_when_a_dev_split_exists():
    data = TaskData(splits={"train": labelled(5), "dev": labelled(100)}, labels=["a", "b", "c"], source="x")
    train, dev = few_shot(data, shots=2, seed=1)
    assert len(dev) == 6 and set(dev) <= set(data.splits["train"]) and not set(train) & set(dev)
    assert few_shot(data, shots=2, seed=1, dev_split="given")[1] == data.splits["dev"]


def test_full_train_selects_on_the_given_dev_or_a_slice_of_train():
    with_dev = TaskData(splits={"train": labelled(10), "dev": labelled(1)}, labels=["a", "b", "c"], source="x")
    assert few_shot(with_dev, shots=None, seed=1) == (with_dev.splits["train"], with_dev.splits["dev"])
    without = TaskData(splits={"train": labelled(10)}, labels=["a", "b", "c"], source="x")
    train, dev = few_shot(without, shots=None, seed=1)
    assert (len(train), len(dev)) == (27, 3) and not set(train) & set(dev)


def test_given_dev_split_must_exist_and_dev_split_is_checked():
    data = TaskData(splits={"train": labelled(5)}, labels=["a", "b", "c"], source="toy")
    with pytest.raises(PromptlearnError, match="--dev-split given: the data in toy has no dev split"):
        few_shot(data, shots=2, seed=1, dev_split="given")
    with pytest.raises(PromptlearnError, match="--dev-split must be one of sampled, given"):
        RunConfig(model="m", data="d", pattern="[MASK]", dev_split="train")


def test_config_json_with_the_old_dev_from_train_flag_still_loads():
    old = {"model": "m", "data": "d", "pattern": "[MASK]"}
    assert RunConfig.from_dict(old | {"dev_from_train": True}).dev_split == "sampled"
    assert RunConfig.from_dict(old | {"dev_from_train": False}).dev_split == "given"


def test_asking_for_more_shots_than_a_label_has_is_an_error():
    data = TaskData(splits={"train": labelled(5)}, labels=["a", "b", "c"], source="x")
    with pytest.raises(PromptlearnError, match=r"--shots 3 needs 6 distinct training texts.*a: 5, b: 5, c: 5"):
        few_shot(data, shots=3, seed=1)


@pytest.mark.parametrize("dev_split", ["sampled", "given"])
def test_a_label_missing_from_train_is_refused_not_trained_on_zero_examples(dev_split):
    splits = {"train": labelled(8, ("a", "b")), "dev": labelled(8, ("a", "b")), "test": labelled(2)}
    data = TaskData(splits=splits, labels=["a", "b", "c"], source="x")
    needed = 8 if dev_split == "sampled" else 4
    with pytest.raises(PromptlearnError, match=rf"--shots 4 needs {needed} distinct training texts.*got c: 0"):
        few_shot(data, shots=4, seed=1, dev_split=dev_split)


#: today's split of a duplicate-free train set (7 per label), pinned: the same seed must keep giving it
PINNED_SPLITS = {
    13: (
        ["b 5", "a 6", "c 5", "c 0", "b 6", "c 2", "a 2", "a 1", "b 1"],
        ["a 4", "a 5", "a 0", "b 4", "b 0", "b 2", "c 3", "c 4", "c 6"],
    ),
    21: (
        ["b 6", "c 0", "b 3", "a 1", "b 4", "c 5", "c 6", "a 5", "a 3"],
        ["a 2", "a 6", "a 0", "b 1", "b 2", "b 0", "c 2", "c 3", "c 1"],
    ),
}


@pytest.mark.parametrize("seed", sorted(PINNED_SPLITS))
def test_the_split_of_data_without_duplicates_is_unchanged(seed):
    data = TaskData(splits={"train": labelled(7)}, labels=["a", "b", "c"], source="x")
    train, dev = few_shot(data, shots=3, seed=seed)
    assert ([ex.text_a for ex in train], [ex.text_a for ex in dev]) == PINNED_SPLITS[seed]
    assert [ex.text_a for ex in few_shot(data, shots=None, seed=13)[1]] == ["b 6", "c 4"]


@pytest.mark.parametrize("seed", range(20))
def test_duplicated_texts_never_reach_both_train_and_dev(seed):
    rows = labelled(3, ("a", "b")) * 3 + [Example("a 0", label="b"), Example("b 1", label="a")]
    data = TaskData(splits={"train": rows}, labels=["a", "b"], source="x")
    train, dev = few_shot(data, shots=1, seed=seed)
    assert not {ex.text_a for ex in train} & {ex.text_a for ex in dev}
    assert len({ex.text_a for ex in dev}) == len(dev) == 2
    full_train, full_dev = few_shot(TaskData(splits={"train": labelled(10) * 2}, labels=["a", "b", "c"]), None, seed)
    assert not {ex.text_a for ex in full_train} & {ex.text_a for ex in full_dev}


def test_a_text_under_two_labels_that_leaves_a_label_short_is_refused():
    rows = [Example("a 0", label="a"), Example("x", label="a"), Example("b 0", label="b"), Example("x", label="b")]
    data = TaskData(splits={"train": rows}, labels=["a", "b"], source="x")
    with pytest.raises(PromptlearnError, match="label 'b' has too few texts that no other label's sample"):
        few_shot(data, shots=1, seed=0)


def test_a_split_that_draws_no_duplicated_text_is_todays():
    """Duplicates elsewhere in train change nothing: only a draw that holds one text twice is redrawn."""
    rows = labelled(9)
    data = TaskData(splits={"train": rows}, labels=["a", "b", "c"], source="x")
    train, dev = few_shot(data, shots=3, seed=13)
    drawn = {ex.text_a for ex in train + dev}
    spare = [i for i, ex in enumerate(rows) if ex.text_a not in drawn and ex.label == "a"]
    assert len(spare) >= 2  # two undrawn rows of one label: the second becomes a copy of the first
    rows_with_copy = list(rows)
    rows_with_copy[spare[1]] = Example(rows[spare[0]].text_a, label="a")
    again = few_shot(TaskData(splits={"train": rows_with_copy}, labels=["a", "b", "c"], source="x"), 3, 13)
    assert (again[0], again[1]) == (train, dev)


def test_duplicates_do_not_count_towards_the_shots():
    data = TaskData(splits={"train": labelled(3) * 4}, labels=["a", "b", "c"], source="x")
    with pytest.raises(PromptlearnError, match="got a: 3, b: 3, c: 3"):
        few_shot(data, shots=2, seed=1)


def test_a_save_to_disk_folder_missing_a_split_is_one_message(tmp_path):
    import shutil

    import datasets

    rows = datasets.Dataset.from_dict({"text": ["good", "bad"], "label": ["pos", "neg"]})
    datasets.DatasetDict({"train": rows, "test": rows}).save_to_disk(str(tmp_path / "saved"))
    shutil.rmtree(tmp_path / "saved" / "test")
    with pytest.raises(PromptlearnError, match=rf"Could not read the save_to_disk folder {tmp_path / 'saved'}: "):
        load_task_data(str(tmp_path / "saved"))
