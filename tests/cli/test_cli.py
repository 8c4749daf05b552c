import json

import pytest
from typer.testing import CliRunner

from promptlearn.cli import app
from tests.helpers.cli import invoke, tiny_train_args
from tests.helpers.fixtures import TINY_TASK, write_task

runner = CliRunner()


@pytest.mark.parametrize("command", [[], ["train"], ["evaluate"], ["predict"], ["show-pattern"]])
def test_help_reads_well(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.output
    if command:
        assert "--" in result.output


def test_train_evaluate_predict_round_trip(tiny_bert_dir, tiny_task_dir, tmp_path):
    run = tmp_path / "run"
    result = invoke(*tiny_train_args(tiny_bert_dir, tiny_task_dir, run))
    assert result.exit_code == 0, result.output
    assert {"dev", "test"} <= set(json.loads(result.output[: result.output.rindex("}") + 1]))

    evaluated = invoke("evaluate", "--run", run, "--split", "test")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["examples"] == 4
    stored = json.loads((run / "metrics.json").read_text())["test"]["accuracy"]
    assert json.loads(evaluated.output)["accuracy"] == pytest.approx(stored)

    predicted = invoke("predict", "--run", run, input='{"text": "it was fun"}\n\n{"text": "boring"}\n')
    assert predicted.exit_code == 0, predicted.output
    records = [json.loads(line) for line in predicted.output.splitlines()]
    assert [r["text"] for r in records] == ["it was fun", "boring"]
    assert all(r["predicted"] in {"positive", "negative"} for r in records)


def test_rerun_from_saved_config_gives_the_same_numbers(tiny_bert_dir, tiny_task_dir, tmp_path):
    assert invoke(*tiny_train_args(tiny_bert_dir, tiny_task_dir, tmp_path / "a")).exit_code == 0
    result = invoke("train", "--config", tmp_path / "a" / "config.json", "--output", tmp_path / "b")
    assert result.exit_code == 0, result.output
    first, second = (json.loads((tmp_path / n / "metrics.json").read_text()) for n in "ab")
    assert first["test"] == second["test"] and first["dev"] == second["dev"]


def test_existing_output_is_refused_before_training(tiny_bert_dir, tiny_task_dir, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "keep.txt").write_text("x")
    result = invoke(*tiny_train_args(tiny_bert_dir, tiny_task_dir, run))
    assert result.exit_code == 2
    assert "is not empty and was not written by promptlearn" in result.output
    assert (run / "keep.txt").exists()
    (run / ".promptlearn-run").touch()  # promptlearn's own run folder: --overwrite replaces it
    result = invoke(*tiny_train_args(tiny_bert_dir, tiny_task_dir, run))
    assert result.exit_code == 2
    assert "not empty; pass --overwrite" in result.output


def test_zero_shot_evaluate_and_show_pattern(tiny_bert_dir, tiny_task_dir):
    result = invoke("evaluate", "--model", tiny_bert_dir, "--data", tiny_task_dir, "--pattern", "It was [MASK].",
                    "--verbalizer", "positive=great,negative=terrible", "--split", "dev")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["examples"] == 2
    shown = invoke("show-pattern", "--model", tiny_bert_dir, "--text", "the movie was fun", "--pattern",
                   "It was [MASK].", "--verbalizer", "positive=great|good,negative=terrible")  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert "[MASK] at position 7" in shown.output
    assert "label positive: great -> 5, good -> 7" in shown.output
    multi = invoke("show-pattern", "--model", tiny_bert_dir, "--text", "fun", "--pattern", "It was [MASK].",
                   "--verbalizer", "positive=unbelievable,negative=bad")  # fmt: skip
    assert "[MASK] at positions 4, 5, 6" in multi.output
    assert "unbelievable -> [35, 36, 37] ['un', '##believ', '##able']" in multi.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pattern", "It was good."], "no [MASK]"),
        (["--pattern", "{text_b} [MASK]"], "uses {text_b}, but"),
        (["--verbalizer", "good=great,bad=terrible"], "do not match the dataset's labels"),
        (["--verbalizer", "positive=superb,negative=bad"], "'superb' (label 'positive') is unknown"),
        (["--mode", "nonsense"], "Unknown mode 'nonsense'"),
        (["--shots", 5], "--shots 5 needs"),
        (["--task", "nope"], "No preset for task 'nope'"),
    ],
)
def test_bad_input_gives_a_clear_message_and_exit_2(tiny_bert_dir, tiny_task_dir, tmp_path, args, message):
    base = tiny_train_args(tiny_bert_dir, tiny_task_dir, tmp_path / "run")
    for flag, value in zip(args[::2], args[1::2], strict=True):
        if flag in base:
            base[base.index(flag) + 1] = value
        else:
            base += [flag, value]
    if "--task" in args:
        base.remove("--pattern"), base.remove("It was [MASK].")
    result = invoke(*base)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists(), "a failed run must leave no output folder"


def test_missing_model_is_explained(tmp_path):
    result = invoke("train", "--output", tmp_path / "x", "--pattern", "It was [MASK].")
    assert result.exit_code == 2
    assert "Give --model and --data" in result.output


def test_shots_select_on_dev_sampled_from_train_unless_the_given_split_is_asked_for(tiny_bert_dir, tmp_path):
    rows = [{"text": f"it was {w}", "label": label} for w, label in
            [("wonderful", "positive"), ("fun", "positive"), ("great", "positive"), ("good", "positive"),
             ("awful", "negative"), ("boring", "negative"), ("bad", "negative"), ("terrible", "negative")]]  # fmt: skip
    task = write_task(tmp_path / "task", {"train": rows, "dev": rows + rows, "test": rows[:2]})
    for extra, dev_size in (([], 4), (["--dev-split", "given"], 16)):
        run = tmp_path / f"run{dev_size}"
        args = tiny_train_args(tiny_bert_dir, task, run)
        result = invoke(*args[: args.index("--output")], "--shots", 2, "--output", run, *extra)
        assert result.exit_code == 0, result.output
        training = json.loads((run / "metrics.json").read_text())["training"]
        assert (training["train_examples"], training["dev_examples"]) == (4, dev_size)


def test_a_missing_test_split_is_said_in_the_output_and_in_metrics(tiny_bert_dir, tmp_path, caplog):
    task = write_task(tmp_path / "task", {"train": TINY_TASK["train"], "dev": TINY_TASK["dev"]})
    result = invoke(*tiny_train_args(tiny_bert_dir, task, tmp_path / "run"))
    assert result.exit_code == 0, result.output
    warned = [r for r in caplog.records if r.levelname == "WARNING" and r.name == "promptlearn.api"]
    assert [r.getMessage() for r in warned] == [f"{task} has no test split: no test metrics and no predictions.jsonl"]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "test" not in metrics and metrics["warnings"] == [
        f"{task} has no test split: no test metrics and no predictions.jsonl"
    ]


@pytest.mark.slow
def test_multi_token_words_exact_decoding_and_the_auxiliary_loss(tiny_bert_dir, tiny_task_dir, tmp_path):
    run = tmp_path / "run"
    args = tiny_train_args(tiny_bert_dir, tiny_task_dir, run)
    args[args.index("--verbalizer") + 1] = "positive=unbelievable|great,negative=bad"
    all_used = invoke(*args, "--aux-mlm-weight", 0.1)  # no --shots: every train text is labelled training data
    assert all_used.exit_code == 2 and "needs unlabelled text, but none is left to use" in all_used.output
    texts = tmp_path / "unlabeled.jsonl"
    texts.write_text('{"text": "the plot was fun"}\n{"text": "it was boring"}\n')
    result = invoke(*args, "--aux-mlm-weight", 0.1, "--decoding", "exact", "--unlabeled", texts)
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    assert (config["aux_mlm_weight"], config["decoding"]) == (0.1, "exact")
    assert invoke("evaluate", "--run", run, "--decoding", "one-pass").exit_code == 0
    bad = invoke("evaluate", "--run", run, "--decoding", "greedy")
    assert bad.exit_code == 2 and "--decoding must be one of one-pass, exact" in bad.output
    head_args = tiny_train_args(tiny_bert_dir, tiny_task_dir, tmp_path / "head")
    head = invoke(*head_args, "--mode", "head", "--aux-mlm-weight", 0.1)
    assert head.exit_code == 2 and "mode 'head' has a classification head" in head.output


def test_train_declares_each_option_once_from_the_run_config():
    import dataclasses

    import typer

    from promptlearn.run.config import RunConfig, flag

    command = typer.main.get_command(app).commands["train"]
    flags = [opt for param in command.params for opt in param.opts + param.secondary_opts]
    assert len(flags) == len(set(flags)), sorted(f for f in flags if flags.count(f) > 1)
    by_name = {param.name: param for param in command.params}
    for item in dataclasses.fields(RunConfig):
        if "help" in item.metadata:
            assert by_name[item.name].opts == [flag(item.name)]
            assert by_name[item.name].default is None, "unset options fall back to RunConfig's own default"
    assert "(default: 13)" in by_name["seed"].help and by_name["learning_rate"].opts == ["--lr"]


def test_options_left_out_take_the_run_config_defaults(tiny_bert_dir, tiny_task_dir, tmp_path):
    from promptlearn.run.config import RunConfig

    result = invoke(*tiny_train_args(tiny_bert_dir, tiny_task_dir, tmp_path / "run"), "--no-compile", "--seed", 21)
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["seed"], saved["compile"], saved["batch_size"], saved["learning_rate"]) == (21, False, 3, 1e-3)
    defaults = RunConfig(model="m", data="d", pattern="[MASK]")
    for name in ("eval_batch_size", "weight_decay", "warmup_ratio", "eval_every", "dev_split", "decoding", "mode"):
        assert saved[name] == getattr(defaults, name)
