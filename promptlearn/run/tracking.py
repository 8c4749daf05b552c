"""Feature: experiment tracking through accelerate's trackers (``--report-to tensorboard,mlflow,wandb,trackio``).

A run reports to each named tracker: its resolved config as hyperparameters (``config.json``'s settings), the
training loss, every parameter group's learning rate and the dev metrics at every evaluation (the trainer's
``on_evaluate``), the final dev and test metrics at the last step, and the finished run folder as artifacts
where the tracker keeps artifacts (MLflow: ``log_artifacts``; W&B: one artifact of type ``promptlearn-run``).
Each promptlearn run is one tracker run, named after its folder, in the project ``tracking_project`` (a
``fewshot`` grid sets it to the experiment's name, so its runs are grouped).

The trackers are accelerate's own classes (``accelerate.tracking``), opened, logged to and finished as
``Accelerator.init_trackers`` / ``log`` / ``end_training`` do, without an ``Accelerator``: the trainer makes
one per fit and accelerate keeps its state process-wide, and ``end_training`` would also destroy the process
group that later runs of a grid under ``accelerate launch`` still use. Only the main process reports.

Reporting changes nothing the run computes or writes: the options are left out of ``config.json``
(:data:`~promptlearn.run.feature.UNSAVED`), and the trackers write under ``tracking_dir`` only (default:
``tracking/`` beside the run folder, as accelerate's ``project_dir``), never into the run folder. The tracker
packages are optional (``pip install "promptlearn[tracking]"``) and imported when a run reports, never on
import of this module.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path
from typing import ClassVar

from promptlearn.errors import PromptlearnError
from promptlearn.run.feature import Feature, Fitting, Run, RunSettings, option

#: tracker name -> the package it needs, and how to install it
TRACKERS = {
    "tensorboard": ("tensorboard", 'pip install "promptlearn[tracking]"'),
    "mlflow": ("mlflow", 'pip install "promptlearn[tracking]"'),
    "wandb": ("wandb", "pip install wandb"),
    "trackio": ("trackio", "pip install trackio"),
}
NONE = "none"
REPORT_TO = option(
    NONE,
    f"Report the run to these trackers, comma-separated: {', '.join(TRACKERS)} or {NONE}.",
    saved=False,
)
TRACKING_DIR = option(
    None,
    "Where trackers write their local files (default: tracking/ beside the run folder).",
    saved=False,
)
TRACKING_PROJECT = option(
    None,
    "Tracker project (TensorBoard folder, MLflow experiment, W&B project; default: promptlearn).",
    saved=False,
)
DEFAULT_PROJECT = "promptlearn"
#: the folder, beside the run folder, that trackers write to by default
DEFAULT_DIR = "tracking"
#: the W&B artifact type of a run folder
ARTIFACT_TYPE = "promptlearn-run"


def tracker_names(report_to: str) -> list[str]:
    """The trackers ``report_to`` names, in its order ([] for ``none``); an unknown or missing one is an error."""
    names = [name.strip() for name in report_to.split(",") if name.strip()]
    if names == [NONE]:
        return []
    unknown = [name for name in names if name not in TRACKERS]
    if unknown or not names:
        raise PromptlearnError(
            f"--report-to must be {NONE} or trackers from {', '.join(TRACKERS)} (comma-separated), got {report_to!r}"
        )
    missing = [name for name in names if importlib.util.find_spec(TRACKERS[name][0]) is None]
    if missing:
        installs = sorted({TRACKERS[name][1] for name in missing})
        raise PromptlearnError(
            f"--report-to {','.join(missing)} needs the package {', '.join(TRACKERS[n][0] for n in missing)}, "
            f"which is not installed: {' and '.join(installs)}"
        )
    return list(dict.fromkeys(names))


def hyperparameters(settings: dict) -> dict:
    """``config.json``'s settings as trackers take them: nested mappings flattened to ``key.sub``, every value
    a number, bool or string (others as JSON, None as ``null``)."""
    flat = {}
    for name, value in settings.items():
        if isinstance(value, dict) and value:
            flat |= {f"{name}.{key}": sub for key, sub in hyperparameters(value).items()}
        else:
            flat[name] = value if isinstance(value, (bool, int, float, str)) else json.dumps(value)
    return flat


class Tracked:
    """One promptlearn run's tracker run, open on every tracker of ``report_to``."""

    def __init__(self, config: RunSettings, names: list[str], directory: Path, project: str, name: str):
        from accelerate.tracking import MLflowTracker, TensorBoardTracker, TrackioTracker, WandBTracker

        directory.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.step = 0
        self.trackers = []
        for tracker in names:
            if tracker == "tensorboard":
                # its run folder is logging_dir/run_name: one folder per project, one per run inside it
                self.trackers.append(TensorBoardTracker(f"{project}/{name}", directory))
            elif tracker == "mlflow":
                _mlflow_store(directory)
                self.trackers.append(MLflowTracker(project, str(directory / "mlartifacts"), run_name=name))
            elif tracker == "wandb":
                self.trackers.append(WandBTracker(project, name=name, dir=str(directory)))
            else:
                self.trackers.append(TrackioTracker(project, name=name))
        for tracker in self.trackers:
            tracker.start()
            tracker.store_init_configuration(hyperparameters(config.to_dict()))

    def log(self, values: dict, step: int) -> None:
        for tracker in self.trackers:
            tracker.log(values, step=step)

    def evaluated(self, entry: dict, rates: dict[str, float]) -> None:
        """The trainer's :data:`~promptlearn.training.trainer.OnEvaluate`: loss, learning rates, dev metrics."""
        self.step = entry["step"]
        values = {"train/loss": entry["loss"]} | {f"train/learning_rate/{group}": lr for group, lr in rates.items()}
        values |= {f"dev/{key}": value for key, value in entry.items() if key not in ("step", "loss")}
        self.log(values, self.step)

    def finish(self, metrics: dict, folder: Path | None) -> None:
        """Log the final dev/test metrics at the last step, the run folder as artifacts, and close."""
        step = metrics.get("training", {}).get("steps", self.step)
        final = {
            f"final/{split}/{key}": value
            for split in ("dev", "test")
            for key, value in (metrics.get(split) or {}).items()
            if isinstance(value, (int, float))
        }
        if final:
            self.log(final, step)
        for tracker in self.trackers:
            if folder is not None and tracker.name == "mlflow":
                tracker.log_artifacts(str(folder))
            elif folder is not None and tracker.name == "wandb":
                import wandb

                artifact = wandb.Artifact(_artifact_name(self.name), type=ARTIFACT_TYPE)
                artifact.add_dir(str(folder))
                tracker.tracker.log_artifact(artifact)
            tracker.finish()


def _artifact_name(name: str) -> str:
    """A W&B artifact name (letters, digits, ``-``, ``_``, ``.``) for a run's name."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)


def _mlflow_store(directory: Path) -> None:
    """MLflow's store: ``MLFLOW_TRACKING_URI`` when set, else MLflow's own default (a SQLite file) kept in
    ``directory`` instead of the current folder. Set each time: an earlier run's choice stays in the process."""
    import mlflow

    default = f"sqlite:///{(directory / 'mlflow.db').resolve()}"
    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI") or default)


def grouped(config: RunSettings, experiment: Path) -> RunSettings:
    """``config`` as a run of the grid in ``experiment`` (its output folder) reports: in the project named after
    the experiment, its files in ``experiment/tracking/``, unless ``train:`` set either."""
    return config.replace(
        tracking_dir=config.tracking_dir or str(experiment / DEFAULT_DIR),
        tracking_project=config.tracking_project or experiment.name,
    )


class Tracking(Feature):
    """``--report-to``: the run's config, evaluations, final metrics and folder go to the named trackers."""

    options: ClassVar = {
        "report_to": ("str", REPORT_TO),
        "tracking_dir": ("str | None", TRACKING_DIR),
        "tracking_project": ("str | None", TRACKING_PROJECT),
    }

    def __init__(self):
        #: the tracker run open in this process: trackers keep one active run per process (MLflow, W&B)
        self.open: tuple[Run, Tracked] | None = None

    def check(self, config: RunSettings) -> None:
        tracker_names(config.report_to)

    def setup(self, run: Run, fitting: Fitting) -> None:
        self.close()  # a run that failed, or a fit never finished as a run (a grid's search candidates)
        names = tracker_names(fitting.config.report_to)
        if not names or not run.trainer.accelerator.is_main_process:
            return
        output = fitting.output
        directory = fitting.config.tracking_dir
        if directory is None:
            directory = (output.parent if output is not None else Path.cwd()) / DEFAULT_DIR
        name = output.name if output is not None else time.strftime(f"{fitting.config.mode}-%Y%m%d-%H%M%S")
        project = fitting.config.tracking_project or DEFAULT_PROJECT
        tracked = Tracked(fitting.config, names, Path(directory), project, name)
        run.trainer.on_evaluate = tracked.evaluated
        self.open = (run, tracked)

    def finish(self, run: Run, metrics: dict, folder: Path | None) -> None:
        """Close the open tracker run; the final metrics and folder go to it when it is ``run``'s (a grid's
        search may have trained other candidates after the one it keeps)."""
        if self.open is not None and self.open[0] is run:
            self.close(metrics, folder)
        else:
            self.close()

    def close(self, metrics: dict | None = None, folder: Path | None = None) -> None:
        """Finish the open tracker run, if any: with the run's final metrics and folder when given."""
        if self.open is None:
            return
        run, tracked = self.open
        self.open = None
        run.trainer.on_evaluate = None
        tracked.finish(metrics or {}, folder)


FEATURE = Tracking()
