"""Command-line mistakes: each names the user's own flag, and the cheap ones fail before torch loads."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from promptlearn.cli import app
from tests.helpers.cli import tiny_train_args
from tests.helpers.fixtures import REPO, write_task
from tests.helpers.marks import first_fast

runner = CliRunner()

HEAVY = ("torch", "transformers", "datasets", "ray")
PROBE = """
import json, sys
from typer.testing import CliRunner
from promptlearn.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
print(json.dumps([result.exit_code, result.output, [m for m in {heavy!r} if m in sys.modules]]))
"""


@pytest.mark.parametrize(
    ("change", "message"),
    first_fast(
        [
            ({"--pattern": "bad [["}, "Bad pattern at column 7"),
            ({"--verbalizer": "positive=great,negative=great"}, "same label word stands for several labels"),
            ({"--lr": "-1"}, "Error: --lr must be positive, got -1.0"),
            ({"--data": "{task}/train.jsonl"}, "--data takes a folder, and {task}/train.jsonl is a file"),
            ({"--data": "{task}/nowhere"}, "Data folder {task}/nowhere does not exist"),
            ({"--model": "{task}/train.jsonl"}, "--model takes a folder"),
            ({"--output": "{task}"}, "Output folder {task} overlaps --model {task}"),
        ]
    ),  # each starts a Python process
)
def test_bad_input_is_refused_before_torch_transformers_or_datasets_load(tiny_task_dir, tmp_path, change, message):
    model = tiny_task_dir  # any folder passes the early --model check
    args = [str(a) for a in tiny_train_args(model, tiny_task_dir, tmp_path / "run")]
    for flag, value in change.items():
        args[args.index(flag) + 1] = value.format(task=tiny_task_dir)
    probe = PROBE.format(heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", probe, *args], cwd=REPO, capture_output=True, text=True, check=True)
    exit_code, output, imported = json.loads(done.stdout.splitlines()[-1])
    assert exit_code == 2, output
    assert message.format(task=tiny_task_dir) in output
    assert imported == [], f"{imported} were imported before the error"


def test_evaluate_refuses_model_pattern_or_verbalizer_beside_run(tmp_path):
    result = runner.invoke(app, ["evaluate", "--run", str(tmp_path), "--model", "other", "--verbalizer", "a=b"])
    assert result.exit_code == 2
    assert "--model, --verbalizer cannot be combined with --run" in result.output


@pytest.mark.slow
def test_predict_and_evaluate_take_the_column_options_their_messages_suggest(tiny_bert_dir, tiny_task_dir, tmp_path):
    run = tmp_path / "run"
    assert runner.invoke(app, [str(a) for a in tiny_train_args(tiny_bert_dir, tiny_task_dir, run)]).exit_code == 0
    (tmp_path / "in.jsonl").write_text('{"sentence": "it was fun"}\n')
    wrong = runner.invoke(app, ["predict", "--run", str(run), "--input", str(tmp_path / "in.jsonl")])
    assert wrong.exit_code == 2 and "Name the text column with --text-column" in wrong.output
    args = ["predict", "--run", str(run), "--input", str(tmp_path / "in.jsonl"), "--text-column", "sentence"]
    predicted = runner.invoke(app, args)
    assert predicted.exit_code == 0, predicted.output
    assert json.loads(predicted.output)["text"] == "it was fun"
    renamed = write_task(tmp_path / "renamed", {"test": [{"sentence": "loved it", "gold": "positive"}]})
    args = [
        "evaluate",
        "--run",
        str(run),
        "--data",
        str(renamed),
        "--text-column",
        "sentence",
        "--label-column",
        "gold",
    ]
    evaluated = runner.invoke(app, args)
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["examples"] == 1


def test_an_unknown_task_is_refused_even_when_pattern_and_verbalizer_are_given(tiny_task_dir, tmp_path):
    args = [str(a) for a in tiny_train_args(tiny_task_dir, tiny_task_dir, tmp_path / "run")]
    result = runner.invoke(app, [*args, "--task", "nope"])
    assert result.exit_code == 2
    assert "No preset for task 'nope'" in result.output


PAIRS = [
    {"text": "the movie", "text_b": "it was fun", "label": "yes"},
    {"text": "the film", "text_b": "awful", "label": "no"},
]


@pytest.fixture(scope="module")
def pair_run(tiny_bert_dir, tmp_path_factory):
    """A trained run whose pattern reads a second text."""
    folder = tmp_path_factory.mktemp("pair")
    task = write_task(folder / "task", {"train": PAIRS * 2, "test": PAIRS})
    args = [str(a) for a in tiny_train_args(tiny_bert_dir, task, folder / "run")]
    args[args.index("--pattern") + 1] = "{text_a} ? [MASK] , {text_b}"
    args[args.index("--verbalizer") + 1] = "yes=yes,no=no"
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return folder / "run"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ('{"text": null, "text_b": "fun"}\n', "stdin: row 1 has no value in column 'text'"),
        ('{"text": "a", "text_b": "fun"}\n{"text": "b"}\n', "stdin: row 2 has no value in column 'text_b'"),
        ('{"text": "a"}\n', "stdin: no column 'text_b' (columns: ['text']), but this run's pattern reads a second"),
        ("[1]\n", "stdin, line 1: a JSON list, not an object"),
    ],
)
def test_predict_reads_stdin_with_the_checks_of_input_files(pair_run, tmp_path, lines, message):
    """Once, stdin made a null text the string "None" and a missing text_b ""; files refused both."""
    result = runner.invoke(app, ["predict", "--run", str(pair_run)], input=lines)
    assert result.exit_code == 2, result.output
    assert message in result.output
    (tmp_path / "in.jsonl").write_text(lines)
    from_file = runner.invoke(app, ["predict", "--run", str(pair_run), "--input", str(tmp_path / "in.jsonl")])
    assert from_file.exit_code == 2, from_file.output
    assert message.replace("stdin", str(tmp_path / "in.jsonl")) in " ".join(from_file.output.split())


def test_predict_on_stdin_still_reads_pairs_and_labels(pair_run):
    result = runner.invoke(
        app, ["predict", "--run", str(pair_run)], input='{"text": "a", "text_b": "b", "label": "yes"}\n'
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert (record["text"], record["text_b"], record["gold"]) == ("a", "b", "yes")


def test_evaluate_refuses_data_without_the_second_text_a_pair_run_reads(pair_run, tiny_task_dir):
    result = runner.invoke(app, ["evaluate", "--run", str(pair_run), "--data", str(tiny_task_dir)])
    assert result.exit_code == 2, result.output
    assert "uses {text_b}, but" in result.output
