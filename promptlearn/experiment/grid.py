"""How a few-shot grid runs on this machine: retried failures and worker processes, declared once for
:func:`promptlearn.experiment.runner.run_experiment` and ``promptlearn fewshot``'s options. Free of torch."""

from __future__ import annotations

from dataclasses import dataclass, field

from promptlearn.errors import PromptlearnError


@dataclass(frozen=True)
class GridOptions:
    """``retry_failed``: re-run the runs recorded as failed when the grid is restarted; ``workers``: processes
    sharing the grid here, one run each at a time (``accelerate launch --num_processes N`` is the other way)."""

    retry_failed: bool = field(
        default=True, metadata={"help": "Re-run failed runs on restart.", "flag": "--retry-failed/--keep-failed"}
    )
    workers: int = field(
        default=1, metadata={"help": "Processes sharing the grid on this machine (one run each at a time)."}
    )

    def __post_init__(self):
        if self.workers < 1:
            raise PromptlearnError(f"--workers must be at least 1, got {self.workers}")
