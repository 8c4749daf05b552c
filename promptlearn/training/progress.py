"""What training shows while it runs: a progress bar on a terminal, one log line per evaluation elsewhere.

Both go through the ``promptlearn`` logger's level: at INFO (the CLI's default) a terminal gets a
bar with the step, loss, the dev metric the run selects by (accuracy; a task shape's own, such as
micro-F1 or Pearson) and ETA, and a pipe, a log file or CI gets one line per
evaluation; above INFO (``--quiet``, or a Python program that does not configure logging) nothing.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time

from tqdm.auto import tqdm

from promptlearn.tasks.base import metric_label

logger = logging.getLogger(__name__)


class Progress:
    """Reports ``total`` optimizer steps of one run; ``show`` False (other processes) reports nothing."""

    def __init__(self, total: int, desc: str, show: bool = True):
        self.total, self.desc = total, desc
        self.started = time.monotonic()
        self.shown = show and logger.isEnabledFor(logging.INFO)
        self.bar = None
        if self.shown and sys.stderr.isatty():
            # On a terminal that reports its size as 0 x 0 (`script`, some IDEs and containers) tqdm
            # silently draws nothing; shutil falls back to 80 x 24 there.
            size = shutil.get_terminal_size()
            self.bar = tqdm(total=total, desc=desc, leave=False, file=sys.stderr, ncols=size.columns, nrows=size.lines)

    def step(self, step: int, loss: float | None = None) -> None:
        """One optimizer step done; ``loss`` (recent mean), when given, goes on the bar."""
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            if loss is not None:
                self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def evaluated(self, step: int, loss: float, accuracy: float, best: float, metric: str = "accuracy") -> None:
        """An evaluation on dev: on the bar, or as one log line with the time left; ``metric`` names the dev
        metric the run selects by (the task shape's: accuracy, micro_f1, pearson)."""
        if self.bar is not None:
            key = "dev_acc" if metric == "accuracy" else f"dev_{metric}"
            self.bar.set_postfix(loss=f"{loss:.4f}", **{key: f"{accuracy:.3f}"})
        elif self.shown:
            elapsed = time.monotonic() - self.started
            left = elapsed / step * (self.total - step)
            logger.info(
                "%s step %d/%d: loss %.4f, dev %s %.4f (best %.4f), %s elapsed, about %s left",
                self.desc, step, self.total, loss, metric_label(metric), accuracy, best, _clock(elapsed),
                _clock(left),
            )  # fmt: skip

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}" if minutes >= 60 else f"{minutes}:{seconds:02d}"
