"""What a sequential (continual) run reports: forgetting and forward transfer, from its stage record.

The record is ``R[i][t]``: task ``t``'s accuracy after stage ``i`` (stage 0: the model before any training,
stage ``k``: after training the k-th task of the order). With the order ``t_1 .. t_n``:

- forgetting of ``t_k`` (k < n): ``R[n][t_k] - R[k][t_k]``, its accuracy after the last stage minus right
  after its own (negative: forgotten; as Chaudhry et al. 2018 and Lopez-Paz & Ranzato 2017, GEM, measure it);
- forward transfer to ``t_k`` (k > 1): ``R[k-1][t_k] - R[0][t_k]``, what the earlier stages did for a task
  not trained yet, against the untrained model (GEM's FWT with the untrained model as its baseline).

The means are over the tasks each is defined for.
"""

from __future__ import annotations


def forgetting(order: list[str], stages: list[dict[str, float]]) -> dict[str, float]:
    """Forgetting of every task but the last; ``stages[i][task]``: its accuracy after stage i (0: untrained)."""
    last = stages[-1]
    return {task: last[task] - stages[k][task] for k, task in enumerate(order[:-1], start=1)}


def forward_transfer(order: list[str], stages: list[dict[str, float]]) -> dict[str, float]:
    """Forward transfer to every task but the first (see the module docstring)."""
    return {task: stages[k - 1][task] - stages[0][task] for k, task in enumerate(order, start=1) if k > 1}


def summary(order: list[str], stages: list[dict[str, float]]) -> dict:
    """Per-task forgetting and forward transfer, and their means, of one split's stage record."""
    lost, gained = forgetting(order, stages), forward_transfer(order, stages)
    return {
        "forgetting": lost,
        "mean_forgetting": sum(lost.values()) / len(lost) if lost else 0.0,
        "forward_transfer": gained,
        "mean_forward_transfer": sum(gained.values()) / len(gained) if gained else 0.0,
        "final_mean_accuracy": sum(stages[-1][task] for task in order) / len(order),
    }
