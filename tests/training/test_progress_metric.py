"""The progress line names the dev metric a run selects its checkpoint by: accuracy for one label per example,
the task shape's own otherwise (multi-label: micro-F1), as a reader knows the metric."""

from __future__ import annotations

import logging

import pytest

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.training.progress import Progress
from tests.helpers.fixtures import TINY_MULTI_LABEL_WORDS
from tests.helpers.modes import tiny_config


def progress_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "promptlearn.training.progress"]


@pytest.mark.parametrize(
    ("metric", "shown"), [("accuracy", "dev accuracy 0.5000"), ("micro_f1", "dev micro-F1 0.5000"),
                          ("pearson", "dev Pearson 0.5000")],
)  # fmt: skip
def test_the_log_line_names_the_selection_metric(metric, shown, caplog, info_logging):
    with caplog.at_level(logging.INFO, logger="promptlearn"):
        Progress(4, "train pet").evaluated(2, 0.25, 0.5, 0.75, metric)
    (line,) = progress_lines(caplog)
    assert f"loss 0.2500, {shown} (best 0.7500)" in line


def test_a_multi_label_run_reports_dev_micro_f1(tiny_bert_dir, tiny_multi_label_dir, caplog, info_logging):
    config = tiny_config(tiny_bert_dir, tiny_multi_label_dir, "pet", verbalizer=TINY_MULTI_LABEL_WORDS)
    with caplog.at_level(logging.INFO, logger="promptlearn"):
        api.fit(config.replace(max_steps=2, eval_every=2), load_task_data(str(tiny_multi_label_dir)))
    (line,) = progress_lines(caplog)
    assert "dev micro-F1 " in line and "accuracy" not in line
