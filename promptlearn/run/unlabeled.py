"""The run's unlabelled pool: the texts the auxiliary MLM loss, unlabeled calibration and PET's pool read.

``--unlabeled FILE`` gives them; without it they are the train split's texts that the run's own train
and dev do not have (compared by content, so a duplicated text never comes back as an unlabelled one).
"""

from __future__ import annotations

from promptlearn.data.examples import Example, TaskData, load_examples
from promptlearn.data.sampling import unused_sample
from promptlearn.run.feature import RunSettings, option

UNLABELED = option(
    None,
    "Data file of unlabelled texts for --aux-mlm-weight (default: train texts outside the run's split).",
    path=True,
)
#: the most unlabelled examples a pool holds by default: the auxiliary MLM loss's when training counts epochs
#: (with steps it keeps steps x batch), and PET's ``--max-unlabeled``
MAX_UNLABELED = 10_000


def unlabeled_pool(config: RunSettings, data: TaskData, used: list[Example], limit: int) -> list[Example]:
    """Unlabeled examples: ``config.unlabeled``'s, else the train split's whose texts none of ``used`` (the
    run's train and dev) has; at most ``limit``, sampled by the seed (:func:`~promptlearn.data.sampling.unused_sample`).
    Their labels are never read."""
    if config.unlabeled is not None:
        return unused_sample(load_examples(config.unlabeled, config.columns()), [], limit, config.seed)
    return unused_sample(data.split("train"), used, limit, config.seed)
