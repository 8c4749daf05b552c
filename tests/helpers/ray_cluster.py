"""A real Ray cluster on 127.0.0.1 for the tests, and api.fit counted across its worker processes.

Ray runs each run in a worker process of its own, so a counter in the test process sees nothing:
:func:`count_fits` (Ray's ``worker_process_setup_hook``) wraps ``api.fit`` in every worker to append a
line per start and per end to the file ``$FIT_LOG``. A run named in the file ``$HOLD_FILE`` waits
while the file names it (the test kills its process meanwhile).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.helpers.fixtures import REPO, free_port

#: Ray turns token authentication on when ~/.ray/auth_token exists (a local ``ray.init()`` writes one), and a
#: driver and cluster that disagree cannot talk: the cluster and the tests' driver both set it off, explicitly
AUTH_MODE = "RAY_AUTH_MODE"


def count_fits() -> None:
    from promptlearn import api

    real_fit = api.fit

    def fit(config, data, folder=None, *args, **kwargs):
        log = Path(os.environ["FIT_LOG"])
        with log.open("a") as out:
            out.write(f"start {os.getpid()} {Path(folder).name}\n")
        hold = Path(os.environ["HOLD_FILE"])
        while hold.is_file() and hold.read_text() == Path(folder).name:
            time.sleep(0.2)  # the test kills this process meanwhile
        result = real_fit(config, data, folder, *args, **kwargs)
        with log.open("a") as out:
            out.write(f"done {os.getpid()} {Path(folder).name}\n")
        return result

    api.fit = fit


def fit_log(path: Path) -> list[tuple[str, int, str]]:
    """(event, pid, run id) per line of a ``$FIT_LOG`` file."""
    if not path.is_file():
        return []
    return [(e, int(pid), run) for e, pid, run in (line.split() for line in path.read_text().splitlines())]


class Cluster:
    """``ray start --head --block`` on 127.0.0.1 with 2 CPUs, in a process group of its own, so it is stopped
    by its own process group (``ray stop`` would stop every Ray on the machine)."""

    def __init__(self):
        self.port = free_port()
        self.temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # Ray's socket paths must stay short
        env = os.environ | {"PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
                            "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", AUTH_MODE: "disabled"}  # fmt: skip
        command = [
            shutil.which("ray") or "ray", "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
            "--num-cpus", "2", "--num-gpus", "0", "--port", str(self.port), "--include-dashboard=false",
            "--temp-dir", str(self.temp), "--disable-usage-stats",
        ]  # fmt: skip
        self.log = (self.temp / "start.log").open("w")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)  # fmt: skip
        self._wait_until_up()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _wait_until_up(self, seconds: float = 120) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ray start exited: {(self.temp / 'start.log').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError("ray start did not answer within 120 s")

    def stop(self) -> None:
        """SIGTERM to the group (``ray start --block`` stops its processes), then SIGKILL to whatever is left."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(30)
        time.sleep(2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.log.close()
        shutil.rmtree(self.temp, ignore_errors=True)
