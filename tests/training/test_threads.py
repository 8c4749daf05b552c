"""--threads: the default comes from the cores this process may use (its affinity), or OMP_NUM_THREADS."""

from __future__ import annotations

import logging
import os

import pytest
import torch

from promptlearn.errors import PromptlearnError
from promptlearn.experiment.shard import Worker, take_device
from promptlearn.training import threads
from tests.helpers.cli import invoke


@pytest.fixture
def four_cores_of_sixteen(monkeypatch):
    """A process pinned to 4 cores of a 16-core machine, no OMP_NUM_THREADS; torch's threads restored after."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {2, 3, 4, 5}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_the_default_is_the_cores_in_the_affinity_not_the_machines(four_cores_of_sixteen, caplog):
    assert threads.default_threads() == (4, "4 core(s) in this process's CPU affinity")
    assert threads.default_threads(workers=3)[0] == 1  # 4 // 3
    assert threads.default_threads(workers=8)[0] == 1  # never 0
    with caplog.at_level(logging.INFO, logger="promptlearn.training.threads"):
        assert threads.use_threads() == 4
    assert torch.get_num_threads() == 4
    assert "Using 4 CPU thread(s): 4 core(s) in this process's CPU affinity" in caplog.text


def test_omp_num_threads_and_an_explicit_count_win(four_cores_of_sixteen, monkeypatch, caplog):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.default_threads(workers=2) == (1, "OMP_NUM_THREADS")
    with caplog.at_level(logging.INFO, logger="promptlearn.training.threads"):
        assert threads.use_threads(3) == 3
    assert torch.get_num_threads() == 3 and "Using" not in caplog.text  # a given count is not announced


def test_without_an_affinity_call_every_core_counts(four_cores_of_sixteen, monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity")
    assert threads.available_cores() == 16


def test_fewshot_workers_share_the_affinity(four_cores_of_sixteen, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    take_device(Worker(0, 2, 0), None)
    assert torch.get_num_threads() == 2
    take_device(Worker(0, 2, 0), 1)  # cpu_threads / --threads given
    assert torch.get_num_threads() == 1


def test_a_thread_count_below_one_is_refused(tiny_bert_dir):
    with pytest.raises(PromptlearnError, match="--threads must be a positive integer, got 0"):
        threads.use_threads(0)
    result = invoke("evaluate", "--model", tiny_bert_dir, "--data", "-", "--threads", "0")
    assert result.exit_code == 2 and "--threads must be a positive integer, got 0" in result.output
