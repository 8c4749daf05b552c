"""How many CPU threads torch uses: the user's choice, or what the process may actually run on.

torch's default is every core the machine has, whatever this process is allowed to use, and its OpenMP
threads spin while they wait for a core. On a machine where another job holds a core that costs far more
than it gives: the quick start's ``train`` took 164 s of training with torch's default threads and 11 s
with one thread on a 2-core machine with one other busy process (docs/benchmarks.md). So the default here
is the cores in this process's affinity (``os.sched_getaffinity``: what ``taskset``, cgroups' cpusets and
Slurm leave it), shared between the workers of a grid, unless ``OMP_NUM_THREADS`` says otherwise; and the
choice is logged, so a slow run shows why. ``--threads 1`` is the answer on a shared machine.
"""

from __future__ import annotations

import logging
import os

from promptlearn.errors import PromptlearnError

logger = logging.getLogger(__name__)


def available_cores() -> int:
    """Cores this process may run on: its CPU affinity where the platform has one, else every core."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows: no affinity call
        return os.cpu_count() or 1


def default_threads(workers: int = 1) -> tuple[int, str]:
    """The thread count used when none is given, and why: ``OMP_NUM_THREADS`` if set to a positive integer,
    else this process's share of the cores in its affinity (``workers`` processes share them)."""
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given), "OMP_NUM_THREADS"
    cores = available_cores()
    share = max(1, cores // max(1, workers))
    why = f"{cores} core(s) in this process's CPU affinity" + (f", shared by {workers} workers" if workers > 1 else "")
    return share, why


def use_threads(threads: int | None = None, workers: int = 1) -> int:
    """Set torch's intra-op threads to ``threads`` (None: :func:`default_threads`, logged); returns the count."""
    import torch

    if threads is not None and threads < 1:
        raise PromptlearnError(f"--threads must be a positive integer, got {threads}")
    if threads is None:
        threads, why = default_threads(workers)
        logger.info("Using %d CPU thread(s): %s (--threads N to choose)", threads, why)
    torch.set_num_threads(threads)
    return threads
