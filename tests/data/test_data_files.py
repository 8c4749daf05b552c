"""Bad data files: each gives one message naming the file (and row), never a traceback or a wrong value."""

import json

import pytest

from promptlearn.data.examples import Example, load_examples, load_task_data
from promptlearn.errors import PromptlearnError
from tests.helpers.fixtures import write_task

GOOD = [{"text": "fun", "label": "positive"}, {"text": "dull", "label": "negative"}]


def task_with(tmp_path, name: str, content: bytes):
    write_task(tmp_path, {"train": GOOD})
    (tmp_path / name).write_bytes(content)
    return str(tmp_path)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [{"text": "a", "label": "positive"}, {"text": None, "label": "negative"}],
            r"row 2 has no value in column 'text'",
        ),
        ([{"text": "a", "label": "positive"}, {"text": "b", "label": None}], r"row 2 has no value in column 'label'"),
        ([{"text": "a", "label": None}, {"text": "b"}, {"text": "c", "label": "x"}], r"rows 1, 2 \(2\) have no value"),
    ],
)
def test_null_text_or_label_is_refused_at_load_naming_file_and_row(tmp_path, rows, message):
    write_task(tmp_path, {"train": GOOD, "dev": rows})
    with pytest.raises(PromptlearnError, match=message) as caught:
        load_task_data(str(tmp_path))
    assert str(tmp_path / "dev.jsonl") in str(caught.value)


def test_test_split_is_labelled_in_every_row_or_in_none(tmp_path):
    write_task(tmp_path, {"train": GOOD, "test": [{"text": "a"}, {"text": "b"}]})
    assert load_task_data(str(tmp_path)).splits["test"] == [Example("a"), Example("b")]
    write_task(tmp_path, {"train": GOOD, "test": [{"text": "a", "label": "positive"}, {"text": "b"}]})
    with pytest.raises(PromptlearnError, match=r"test.jsonl: row 2 .*labelled in every row or in none"):
        load_task_data(str(tmp_path))


def test_missing_class_label_is_not_read_as_the_last_class(tmp_path):
    import datasets

    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict({"text": ["good", "bad"], "label": [1, 0]}, features=features),
         "test": datasets.Dataset.from_dict({"text": ["meh"], "label": [-1]}, features=features)}
    ).save_to_disk(str(tmp_path / "saved"))  # fmt: skip
    assert load_task_data(str(tmp_path / "saved")).splits["test"] == [Example("meh")]


@pytest.mark.parametrize("name", ["train.jsonl", "dev.csv"])
def test_non_utf8_file_names_the_file_the_byte_and_how_to_convert(tmp_path, name):
    row = (
        '{"text": "caf\u00e9", "label": "positive"}\n' if name.endswith("jsonl") else "text,label\ncaf\u00e9,positive\n"
    )
    source = task_with(tmp_path, name, row.encode("latin-1"))
    with pytest.raises(
        PromptlearnError, match=r"is not UTF-8 text: byte 0xe9 on line (1|2) .*iconv -f LATIN1"
    ) as caught:
        load_task_data(source)
    assert str(tmp_path / name) in str(caught.value)


def test_utf16_file_is_named_as_such(tmp_path):
    source = task_with(tmp_path, "train.jsonl", json.dumps(GOOD[0]).encode("utf-16"))
    with pytest.raises(PromptlearnError, match=r"is UTF-16 text.*iconv -f UTF-16 -t UTF-8"):
        load_task_data(source)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("test.jsonl", b"", r"test.jsonl is empty: a split file needs at least one example"),
        ("dev.jsonl", b"\n\n  \n", r"dev.jsonl is only blank lines"),
        ("dev.csv", b"text,label\n", r"dev.csv has a header line but no examples"),
        ("dev.jsonl", b'{"text": "a", "label": "x"}\n{"text": "a", "label": \n', r"dev.jsonl, line 2: not valid JSON"),
        ("dev.jsonl", b'["a", "x"]\n', r"dev.jsonl, line 1: a JSON list, not an object"),
        ("dev.csv", b'text,label\n"a,x\n', r"Could not read .*dev.csv: .+"),
    ],
)
def test_empty_blank_or_broken_split_file_says_what_is_wrong(tmp_path, name, content, message):
    with pytest.raises(PromptlearnError, match=message):
        load_task_data(task_with(tmp_path, name, content))


def test_a_file_given_as_data_is_told_to_go_in_a_folder(tmp_path):
    write_task(tmp_path, {"train": GOOD})
    with pytest.raises(PromptlearnError, match=r"--data takes a folder, and .*train.jsonl is a file"):
        load_task_data(str(tmp_path / "train.jsonl"))


def test_prediction_input_may_lack_labels_but_not_texts(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"text": "fun"}\n{"text": null}\n')
    with pytest.raises(PromptlearnError, match=r"in.jsonl: row 2 has no value in column 'text'"):
        load_examples(tmp_path / "in.jsonl")


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["train.jsonl", "train.csv"], r"2 files for the train split: .*train\.jsonl and .*train\.csv"),
        (["dev.jsonl", "validation.jsonl"], r"2 files for the dev split: .*dev\.jsonl and .*validation\.jsonl"),
    ],
)
def test_two_files_for_one_split_are_refused_naming_both(tmp_path, names, message):
    write_task(tmp_path, {"train": [{"text": "a", "label": "x"}]})
    for name in names:
        (tmp_path / name).write_text("text,label\na,x\n" if name.endswith(".csv") else '{"text": "a", "label": "x"}\n')
    with pytest.raises(PromptlearnError, match=message):
        load_task_data(str(tmp_path))
