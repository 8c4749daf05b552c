"""How a few-shot grid runs: retried failures, worker processes here, or tasks on a Ray cluster, declared once
for :func:`promptlearn.experiment.runner.run_experiment`, ``promptlearn fewshot``'s options and the experiment
file's top-level keys of the same names. Free of torch (and of ray: it is imported only when asked for)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from promptlearn.errors import PromptlearnError

BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class GridOptions:
    """``retry_failed``: re-run the runs recorded as failed when the grid is restarted; ``workers``: processes
    sharing the grid here, one run each at a time (``accelerate launch --num_processes N`` is the other way).
    ``backend`` ``ray``: every run is a Ray task on the cluster at ``address``, holding ``cpus_per_run`` CPUs
    and (where the cluster has GPUs) ``gpus_per_run`` GPUs, tried ``retries`` more times when it fails."""

    retry_failed: bool = field(
        default=True, metadata={"help": "Re-run failed runs on restart.", "flag": "--retry-failed/--keep-failed"}
    )
    workers: int = field(
        default=1, metadata={"help": "Processes sharing the grid on this machine (one run each at a time)."}
    )
    backend: str = field(
        default="local",
        metadata={"help": "Where runs go: 'local' (this machine) or 'ray' (tasks on a Ray cluster; promptlearn[ray])."},
    )
    address: str | None = field(
        default=None,
        metadata={
            "help": "With --backend ray: the cluster (`ray start --head`'s host:port); default $RAY_ADDRESS, else "
            "a Ray started for this command."
        },
    )
    retries: int = field(
        default=3,  # Ray's own default for a task whose worker was lost
        metadata={
            "help": "With --backend ray: times a run is tried again after it raised or its worker was lost, "
            "before it is recorded as failed."
        },
    )
    cpus_per_run: float = field(default=1.0, metadata={"help": "With --backend ray: CPUs each run holds."})
    gpus_per_run: float = field(
        default=1.0,
        metadata={
            "help": "With --backend ray, on a cluster with GPUs: the GPUs each run holds (0.25: four small "
            "runs share one)."
        },
    )

    def __post_init__(self):
        if self.workers < 1:
            raise PromptlearnError(f"--workers must be at least 1, got {self.workers}")
        if self.backend not in BACKENDS:
            raise PromptlearnError(f"--backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.backend == "ray" and self.workers > 1:
            raise PromptlearnError("Give --workers or --backend ray, not both: Ray decides how many runs go at once")
        if self.retries < 0:
            raise PromptlearnError(f"--retries must be at least 0, got {self.retries}")
        if self.cpus_per_run <= 0 or self.gpus_per_run < 0:
            raise PromptlearnError(
                f"--cpus-per-run must be above 0 and --gpus-per-run at least 0, got {self.cpus_per_run} and "
                f"{self.gpus_per_run}"
            )


#: the experiment file may set every grid option as a top-level key (``backend: ray``); flags replace them
GRID_KEYS = frozenset(f.name for f in fields(GridOptions))
#: where and how the runs are placed, which does not change their numbers: left out of the command a report states
PLACEMENT_KEYS = GRID_KEYS - {"retry_failed"}
