"""Sharing one grid between processes: who this process is, and one lock per run.

Processes come from ``accelerate launch --num_processes N`` (the launcher sets ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``) or from ``promptlearn fewshot --workers N``. They never talk to
each other: each run is *claimed* with an exclusive ``flock`` on ``<output>/.claims/<run id>.lock``,
held while the run trains. The OS drops the lock when its process exits, even when it dies, so a
run left by a dead process is free for another one (or for the next start). Runs differ, so
training stays in each process: every run trains on one process and one device, without DDP.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from promptlearn.training.threads import use_threads

#: what a launcher sets up for data-parallel training; removed so each process trains its runs alone
LAUNCHER_ENV = (
    "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE", "ROLE_RANK",
    "ROLE_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE",
)  # fmt: skip
CLAIMS = ".claims"
LOCK = ".lock"


@dataclass(frozen=True)
class Worker:
    """This process's place: ``index`` of ``count`` processes; index 0 is the main one (it writes the summary)."""

    index: int = 0
    count: int = 1
    local_index: int = 0

    @property
    def main(self) -> bool:
        return self.index == 0

    def __str__(self) -> str:
        return f"process {self.index} of {self.count}"


def from_launcher() -> Worker:
    """The worker a launcher started this process as (one of one without a launcher).

    Removes the launcher's distributed settings from the environment, so that ``accelerate`` sees a
    single process and trains without DDP, and puts this process on its own GPU, if there are GPUs.
    """
    count = int(os.environ.get("WORLD_SIZE", "1"))
    index = int(os.environ.get("RANK", "0"))
    worker = Worker(index, count, int(os.environ.get("LOCAL_RANK", str(index))))
    for name in LAUNCHER_ENV:
        os.environ.pop(name, None)
    return worker


def take_device(worker: Worker, cpu_threads: int | None) -> None:
    """Put this process on GPU ``local_index`` (modulo the GPUs), and give it ``cpu_threads`` CPU threads (None:
    its share of the cores it may use, :func:`promptlearn.training.threads.default_threads`)."""
    if torch.cuda.is_available():
        torch.cuda.set_device(worker.local_index % torch.cuda.device_count())
    use_threads(cpu_threads, worker.count)


@contextlib.contextmanager
def claim(output: Path, run_id: str) -> Iterator[bool]:
    """Yield True while this process holds the run's lock, False (at once) when another process holds it."""
    folder = Path(output) / CLAIMS
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"{run_id}{LOCK}", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (waiting for it): serializes rewrites of a shared file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
