import json

import pytest

from promptlearn.errors import PromptlearnError
from promptlearn.prompt.verbalizer import Verbalizer


def test_inline_spec_with_several_words_keeps_label_order():
    verbalizer = Verbalizer.parse("positive=great|good,negative=terrible")
    assert verbalizer.labels == ["positive", "negative"]
    assert verbalizer.words("positive") == ("great", "good")
    assert str(verbalizer) == "positive=great|good,negative=terrible"


def test_yaml_and_json_files_keyed_by_label(tmp_path):
    (tmp_path / "v.yaml").write_text("positive: [great, good]\nnegative: terrible\n")
    (tmp_path / "v.json").write_text(json.dumps({"positive": ["great", "good"], "negative": ["terrible"]}))
    from_yaml = Verbalizer.parse(str(tmp_path / "v.yaml"))
    from_json = Verbalizer.parse(str(tmp_path / "v.json"))
    assert from_yaml == from_json
    assert from_yaml.to_dict() == {"positive": ["great", "good"], "negative": ["terrible"]}


def test_label_mismatch_lists_both_sets():
    verbalizer = Verbalizer.parse("positive=great,neutral=okay")
    with pytest.raises(PromptlearnError) as err:
        verbalizer.check_labels(["negative", "positive"])
    message = str(err.value)
    assert "missing from the verbalizer: ['negative']" in message
    assert "not in the dataset: ['neutral']" in message


def test_matching_labels_in_any_order_pass():
    Verbalizer.parse("positive=great,negative=terrible").check_labels(["negative", "positive"])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("positive great", "is not 'label=word'"),
        ("positive=great,positive=good", "appears twice"),
        ("positive=,negative=bad", "needs one or more non-empty words"),
    ],
)
def test_bad_inline_specs(spec, message):
    with pytest.raises(PromptlearnError, match=message):
        Verbalizer.parse(spec)


def test_bad_files(tmp_path):
    with pytest.raises(PromptlearnError, match="does not exist"):
        Verbalizer.parse(str(tmp_path / "missing.yaml"))
    (tmp_path / "list.yaml").write_text("- great\n- terrible\n")
    with pytest.raises(PromptlearnError, match="expected a mapping"):
        Verbalizer.parse(str(tmp_path / "list.yaml"))
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(PromptlearnError, match="not valid JSON"):
        Verbalizer.parse(str(tmp_path / "broken.json"))


@pytest.mark.parametrize("spec", ["positive=great,negative=great", "positive=great|good,negative=bad|good"])
def test_a_word_shared_by_two_labels_is_refused(spec):
    with pytest.raises(PromptlearnError, match=r"same label word stands for several labels \('(great|good)' for"):
        Verbalizer.parse(spec)


def test_every_preset_verbalizer_gives_each_label_its_own_words():
    from promptlearn.prompt.presets import available_tasks, preset_words, task_verbalizer

    worded = [task for task in available_tasks() if preset_words(task) is not None]
    assert all(task_verbalizer(task).labels for task in worded)
    assert set(available_tasks()) - set(worded) == {"copa"}  # multiple choice: the choices are the words
