"""``fewshot --backend ray``: every run of the grid is a Ray task, placed by Ray on any node of the cluster.

The local backend is its own scheduler (one ``flock`` per run on the output folder); across machines
that needs a filesystem that honours the locks, cannot put a run on another node's free GPU, and
cannot retry a run whose node died. Ray does all three, so here the driver (the ``fewshot`` process)
only submits the pending runs and gathers what comes back:

- each task declares its resources (``cpus_per_run``; ``gpus_per_run`` where the cluster has GPUs,
  a fraction letting small runs share one) and runs the local backend's
  :func:`~promptlearn.experiment.runner.execute`, so its run folder is the same, byte for byte;
- a worker that dies is Ray's to retry (``max_retries``); a run that fails (its exception became a
  ``failed`` record) is submitted again, ``retries`` times, and then stays recorded as failed;
- the output folder may be shared with the nodes, or local to the driver: a task that does not see
  the driver's folder writes the run at the same path on its node and ships its files back, and the
  driver puts them in place;
- ``results.jsonl`` (and the summary) are written once, by the driver, when every run has come back.

Every node needs promptlearn (and the model and data, at the paths the experiment names, relative to
the driver's working directory) installed; ray is imported only here, only when asked for.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
import uuid
from pathlib import Path

from tqdm.auto import tqdm

from promptlearn.errors import PromptlearnError
from promptlearn.experiment.config import Experiment, RunSpec
from promptlearn.experiment.grid import GridOptions
from promptlearn.experiment.runner import (
    RECORD,
    TaskCache,
    collect_records,
    execute,
    failure,
    help_study,
    identity,
    outcome,
    prepare,
    to_run,
    write_run,
)  # fmt: skip
from promptlearn.experiment.shard import from_launcher
from promptlearn.outputs import staged_folder, write_bytes_atomic, write_text_atomic

logger = logging.getLogger(__name__)

#: written by the driver into the output folder: a task that reads the same token sees the driver's folder
DRIVER = ".ray-driver"
#: what never travels back from a node: locks and the driver's token
NOT_SHIPPED = (".claims", DRIVER)
#: seconds to wait for a cluster's port before calling it unreachable (ray.init itself retries for minutes)
CONNECT_SECONDS = 10.0

#: a worker process's datasets and encoded test sets, kept between the runs Ray gives it (as a local process does)
_cache: TaskCache | None = None


def import_ray():
    """The ``ray`` module, or one message saying how to install it."""
    try:
        import ray
    except ImportError:
        raise PromptlearnError(
            "--backend ray needs Ray, which is not installed: pip install 'promptlearn[ray]' "
            "(on this machine and on every node of the cluster)"
        ) from None
    return ray


def connect(ray, address: str | None) -> bool:
    """Connect to the cluster at ``address`` (None: ``$RAY_ADDRESS``, else a Ray started here for this command);
    True when this call started the connection.

    A ``host:port`` nobody answers on is refused at once: ``ray.init`` would retry it for minutes. Ray's own
    default would also try the last cluster ``ray start`` began on this machine, even one long stopped.
    """
    if ray.is_initialized():  # a program (or a test) that connected already chose its cluster
        return False
    address = address or os.environ.get("RAY_ADDRESS") or "local"
    if address and "://" not in address and address not in ("auto", "local"):
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=CONNECT_SECONDS).close()
        except (OSError, ValueError) as err:
            raise PromptlearnError(
                f"No Ray cluster answers at --address {address} ({err}). Start one with `ray start --head --port "
                "PORT` and pass its host:PORT, or leave --address out to start Ray on this machine."
            ) from None
    try:
        ray.init(address=address, log_to_driver=True, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise PromptlearnError(
            f"Could not connect to the Ray cluster at {address or 'the default address'}: {err}"
        ) from err
    return True


def run_experiment_on_ray(experiment: Experiment, options: GridOptions) -> list[dict]:
    """Run every unfinished run of ``experiment`` on Ray; every finished record, in grid order (as
    :func:`promptlearn.experiment.runner.run_experiment` returns them), ``results.jsonl`` written once."""
    if from_launcher().count > 1:
        raise PromptlearnError("Give --backend ray or start the command with accelerate launch, not both")
    specs, seen, _ = prepare(experiment, options.retry_failed)
    run_on_ray(experiment, to_run(specs, seen, options.retry_failed), options)
    return collect_records(experiment)


def run_on_ray(experiment: Experiment, specs: list[RunSpec], options: GridOptions) -> None:
    """Run ``specs`` (the grid's pending runs) as Ray tasks and write each one's folder; returns when all are in.

    A run whose worker was lost more often than Ray retries it is recorded as failed here, as a run
    that raises is recorded by the local backend.
    """
    ray = import_ray()
    started_ray = connect(ray, options.address)
    output = Path(experiment.output)
    token = uuid.uuid4().hex
    write_text_atomic(output / DRIVER, token)
    gpus = options.gpus_per_run if ray.cluster_resources().get("GPU", 0) else 0
    task = ray.remote(run_task).options(num_cpus=options.cpus_per_run, num_gpus=gpus, max_retries=options.retries)
    helper = ray.remote(help_task).options(num_cpus=options.cpus_per_run, num_gpus=gpus, max_retries=0)
    threads = experiment.cpu_threads or max(1, int(options.cpus_per_run))
    tries: dict[str, int] = {}

    def submit(spec: RunSpec):
        tries[spec.run_id] = tries.get(spec.run_id, 0) + 1
        return task.remote(spec, str(output), threads, os.getcwd(), token)

    waiting = {submit(spec): spec for spec in specs}
    # then a run's Optuna study is shared by the run's own task and up to trials - 1 helper tasks, as --workers
    # processes share it; a helper that finds no trial left to start returns at once
    helpers = [
        helper.remote(spec, str(output), threads, os.getcwd(), token)
        for spec in specs
        if spec.study is not None
        for _ in range(spec.study.trials - 1)
    ]
    logger.info("%d runs submitted to Ray (%s CPUs and %s GPUs each)", len(specs), options.cpus_per_run, gpus)
    bar = tqdm(total=len(specs), desc="experiment", unit="run", disable=None)
    try:
        while waiting:
            (ref,), _ = ray.wait(list(waiting), num_returns=1)
            spec = waiting.pop(ref)
            try:
                record = land(output, spec, ray.get(ref))
            except ray.exceptions.RayTaskError as err:  # the task raised outside the run (which keeps its errors)
                record = _lost(output, spec, err.cause if isinstance(err.cause, Exception) else err)
            except ray.exceptions.RayError as err:  # its worker or node was lost more often than Ray retries
                record = _lost(output, spec, err)
                tries[spec.run_id] = options.retries + 1  # Ray has retried it already
            if record["status"] != "ok" and tries[spec.run_id] <= options.retries:
                logger.warning("%s: trying again (%d of %d)", spec.run_id, tries[spec.run_id], options.retries)
                waiting[submit(spec)] = spec
                continue
            bar.update(1)
            logger.info("%s: %s", spec.run_id, outcome(record))
        if helpers:  # each run waited for its study's trials, so none is left to train
            ray.wait(helpers, num_returns=len(helpers))
    finally:
        bar.close()
        for ref in [*waiting, *helpers]:  # Ctrl-C, or the driver failing: the cluster stops this grid's runs too
            ray.cancel(ref, force=True)
        (output / DRIVER).unlink(missing_ok=True)
        if started_ray:
            ray.shutdown()


def _lost(output: Path, spec: RunSpec, err: Exception) -> dict:
    """Record ``spec`` as failed with ``err``, as the local backend records a run that raised."""
    record = identity(spec) | failure(spec, err) | {"wall_seconds": 0.0}
    write_run(output, spec, record, None)
    return record


def run_task(spec: RunSpec, output: str, threads: int, cwd: str, token: str) -> dict:
    """One run on a Ray worker: its record, and (when this node does not see the driver's folder) its files.

    Relative paths in the experiment are the driver's, so the run works in the driver's working
    directory (made on a node that lacks it, for the folder it writes and ships back).
    """
    folder = Path(output)
    cache = _worker(cwd, threads)
    shared = _sees_driver(folder, token)
    started = time.time()
    record = execute(spec, folder, cache)
    if shared:
        return {"record": record}
    return {"record": record, "files": _written(folder, spec, started)}


def help_task(spec: RunSpec, output: str, threads: int, cwd: str, token: str) -> None:
    """Train trials of ``spec``'s Optuna study beside the run's own task, on a node that sees the driver's
    folder (the study's journal file and its lock live there); elsewhere there is nothing to share."""
    folder = Path(output)
    if _sees_driver(folder, token):
        help_study(spec, folder, _worker(cwd, threads))


def _worker(cwd: str, threads: int) -> TaskCache:
    """Set this Ray worker up for a task: the driver's working directory (made where the node lacks it), its
    thread count, the GPU Ray shows it; returns the worker's task cache, kept between its tasks."""
    import torch

    global _cache
    Path(cwd).mkdir(parents=True, exist_ok=True)
    os.chdir(cwd)
    torch.set_num_threads(threads)
    if torch.cuda.is_available():  # Ray shows the task only the GPU it holds
        torch.cuda.set_device(0)
    _cache = _cache or TaskCache()
    return _cache


def _sees_driver(folder: Path, token: str) -> bool:
    """Whether this node sees the driver's output folder (the driver wrote ``token`` there)."""
    return (folder / DRIVER).is_file() and (folder / DRIVER).read_text(encoding="utf-8") == token


def _written(folder: Path, spec: RunSpec, since: float) -> dict[str, bytes]:
    """The run's folder and whatever else it wrote under ``folder`` (a PET pipeline, tracker files) since
    ``since``, by path relative to ``folder``; the run's folder is removed here once read."""
    run = folder / "runs" / spec.run_id
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or relative.parts[0] in NOT_SHIPPED or path.name.endswith(".lock"):
            continue
        if path.is_relative_to(run) or path.stat().st_mtime >= since:
            files[relative.as_posix()] = path.read_bytes()
    shutil.rmtree(run, ignore_errors=True)
    return files


def land(output: Path, spec: RunSpec, shipped: dict) -> dict:
    """Put a task's shipped files in place (its run folder whole, through a staged folder); its record."""
    files = shipped.get("files")
    if files is None:
        return shipped["record"]
    run = f"runs/{spec.run_id}/"
    for name, data in files.items():
        if not name.startswith(run):
            write_bytes_atomic(output / name, data)
    _stage(output, spec, {name[len(run) :]: data for name, data in files.items() if name.startswith(run)})
    return shipped["record"]


def _stage(output: Path, spec: RunSpec, files: dict[str, bytes]) -> None:
    if RECORD not in files:
        raise PromptlearnError(f"The run {spec.run_id} came back from Ray without its {RECORD}")
    with staged_folder(output / "runs" / spec.run_id, overwrite=True) as folder:
        for name, data in files.items():
            write_bytes_atomic(folder / name, data)
