"""Demonstrations: one per label, never the query, own budgets, the query's mask never cut; runs keep them."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from promptlearn import api
from promptlearn.cli import app
from promptlearn.data.examples import Example
from promptlearn.errors import PromptlearnError
from promptlearn.prompt.demonstrations import Demonstrations
from promptlearn.prompt.pattern import Pattern
from promptlearn.prompt.pvp import PVP
from promptlearn.prompt.verbalizer import Verbalizer
from tests.helpers.fixtures import tiny_tokenizer

runner = CliRunner()
WORDS = Verbalizer.from_dict({"positive": ["great"], "negative": ["terrible"]})
POOL = [
    Example("the movie was wonderful", label="positive"),
    Example("loved the story", label="positive"),
    Example("the film was awful", label="negative"),
    Example("hated the acting", label="negative"),
]


def pvp(max_length=16, pattern="{text} it was [MASK] ."):
    return PVP(Pattern.parse(pattern), WORDS, tiny_tokenizer(), max_length=max_length)


def test_each_input_gets_one_demonstration_per_label_never_itself_and_its_own_ids_unchanged():
    plain, with_demos = pvp(), pvp()
    with_demos.demonstrations = Demonstrations(POOL, length=12, seed=3)
    tokenizer = with_demos.tokenizer
    great, terrible = (tokenizer.convert_tokens_to_ids(w) for w in ("great", "terrible"))
    for draw in range(8):
        for query, alone, full in zip(POOL, plain.encode(POOL), with_demos.encode(POOL, draw=draw), strict=True):
            assert full.input_ids[: len(alone.input_ids)] == alone.input_ids  # the query exactly as without
            assert full.mask_position == alone.mask_position
            tail = " ".join(tokenizer.convert_ids_to_tokens(full.input_ids[len(alone.input_ids) :]))
            assert query.text_a not in tail
            demos = [d.strip() for d in tail.split("[SEP]") if d.strip()]
            assert len(demos) == 2 and demos[0].endswith("it was great .") and demos[1].endswith("it was terrible .")
            assert full.input_ids.count(great) == 1 and full.input_ids.count(terrible) == 1
            assert len(full.token_type_ids) == len(full.input_ids)


def test_a_long_query_keeps_its_mask_and_each_demonstration_its_own_budget():
    long_query = Example(" ".join(["the movie was really very fun"] * 10), label="positive")
    long_pool = [Example(" ".join(["the film was awful"] * 10), label="negative"), *POOL[:2]]
    encoder = pvp(max_length=12)
    encoder.demonstrations = Demonstrations(long_pool, length=8, seed=0)
    (full,) = encoder.encode([long_query])
    tokens = encoder.tokenizer.convert_ids_to_tokens(full.input_ids)
    assert tokens[full.mask_position] == "[MASK]"
    assert full.mask_position < 12 and tokens[:12][-4:] == ["was", "[MASK]", ".", "[SEP]"]
    demos = " ".join(tokens[12:]).split("[SEP]")[:-1]
    assert len(demos) == 2
    assert all(len(d.split()) + 1 <= 8 for d in demos)  # each within its budget, its [SEP] counted
    assert "terrible" in demos[1] and demos[1].split()[-2:] == ["terrible", "."]  # cut text, never the word


def test_a_label_whose_only_example_is_the_query_gets_no_demonstration():
    encoder = pvp()
    encoder.demonstrations = Demonstrations(POOL[:3], length=12)
    (full,) = encoder.encode([POOL[2]])  # the only negative example
    assert encoder.tokenizer.decode(full.input_ids).count("[SEP]") == 2  # the query's and the positive one's


def test_similar_demonstrations_come_from_the_closer_half():
    vectors = {"the movie was wonderful": [1.0, 0.0], "loved the story": [0.0, 1.0], "it was fun": [1.0, 0.1]}
    vectors |= {"the film was awful": [1.0, 0.0], "hated the acting": [0.0, 1.0]}

    def embed(examples):
        return np.array([vectors[ex.text_a] for ex in examples])

    encoder = pvp()
    encoder.demonstrations = Demonstrations(POOL, length=12, similar=True, embed=embed)
    for draw in range(6):
        text = encoder.tokenizer.decode(encoder.encode([Example("it was fun")], draw=draw)[0].input_ids)
        assert "wonderful" in text and "awful" in text and "story" not in text and "acting" not in text


def test_demonstrations_are_refused_where_they_cannot_work():
    soft = pvp(pattern="{text} [SOFT:2] it was [MASK] .")
    with pytest.raises(PromptlearnError, match=r"\[SOFT\] tokens"):
        Demonstrations(POOL).check(soft, None)
    with pytest.raises(PromptlearnError, match="more than the model's 40 positions"):
        Demonstrations(POOL, length=16).check(pvp(max_length=16), 40)
    with pytest.raises(PromptlearnError, match="--demonstration-length 3 is too short"):
        Demonstrations(POOL, length=3).check(pvp(), None)


@pytest.mark.slow
def test_a_run_with_demonstrations_stores_its_pool_and_predicts_with_it(tiny_bert_dir, tiny_task_dir, tmp_path):
    run_dir = tmp_path / "run"
    args = ["train", "--model", str(tiny_bert_dir), "--data", str(tiny_task_dir), "--pattern", "It was [MASK].",
            "--verbalizer", "positive=great,negative=terrible", "--max-steps", "2", "--batch-size", "3",
            "--max-length", "24", "--demonstrations", "--demonstration-length", "16", "--demonstration-sets", "3",
            "--similar-demonstrations", "--output", str(run_dir)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    pool = [json.loads(line) for line in (run_dir / api.DEMONSTRATIONS).read_text().splitlines()]
    assert [row["text"] for row in pool] and {row["label"] for row in pool} == {"positive", "negative"}
    loaded = api.load_run(run_dir)
    assert loaded.pvp.demonstrations.sets == 3 and len(loaded.pvp.demonstrations.pool) == len(pool)
    test = [json.loads(line) for line in (tiny_task_dir / "test.jsonl").read_text().splitlines()]
    stored = json.loads((run_dir / "metrics.json").read_text())["test"]["accuracy"]
    evaluated = runner.invoke(app, ["evaluate", "--run", str(run_dir)])
    assert evaluated.exit_code == 0 and json.loads(evaluated.output)["accuracy"] == pytest.approx(stored)
    predicted = runner.invoke(app, ["predict", "--run", str(run_dir)], input=json.dumps(test[0]) + "\n")
    assert predicted.exit_code == 0, predicted.output


def test_show_pattern_shows_the_demonstrations(tiny_bert_dir, tiny_task_dir):
    args = ["show-pattern", "--model", str(tiny_bert_dir), "--data", str(tiny_task_dir), "--demonstrations",
            "--pattern", "{text} it was [MASK] .", "--verbalizer", "positive=great,negative=terrible"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "+ 2 demonstrations x 64" in result.output and ":great" in result.output and ":terrible" in result.output
    assert runner.invoke(app, [a for a in args if a not in ("--data", str(tiny_task_dir))]).exit_code == 2


def test_multi_token_words_fill_the_demonstration_masks():
    words = Verbalizer.from_dict({"positive": ["unbelievable"], "negative": ["terrible"]})
    encoder = PVP(Pattern.parse("{text} it was [MASK] ."), words, tiny_tokenizer(), max_length=16)
    assert encoder.mask_count == 3
    encoder.demonstrations = Demonstrations(POOL, length=12, seed=1)
    (full,) = encoder.encode([Example("it was fun")])
    tokens = encoder.tokenizer.convert_ids_to_tokens(full.input_ids)
    assert tokens[full.mask_position : full.mask_position + 3] == ["[MASK]"] * 3  # the query keeps its masks
    demos = " ".join(tokens[full.mask_position + 5 :]).split("[SEP]")[:-1]
    assert demos[0].strip().endswith("it was un ##believ ##able .") and demos[1].strip().endswith("it was terrible .")
    assert tokens.count("[MASK]") == 3
