"""One process of the 2-process training test (tests/training/test_multiprocess.py); launched by ``accelerate launch``.

It is ordinary single-process code: nothing here knows it runs in several processes. Each process
saves its own trained weights, so the test can check that gradients were synchronised.

Usage: ddp_worker.py MODEL_DIR DATA_DIR OUTPUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from safetensors.torch import save_file

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.data.sampling import few_shot
from promptlearn.run.config import RunConfig


def main(model: str, data: str, output: str) -> None:
    out = Path(output)
    config = RunConfig(
        model=model,
        data=data,
        pattern="{text} it was [MASK] .",
        verbalizer={"positive": ["great"], "negative": ["terrible"]},
        batch_size=1,
        max_steps=4,
        eval_every=2,
        learning_rate=1e-2,
        precision="fp32",
    )
    task = load_task_data(data)
    run = api.build(config, task)
    initial = {n: p.detach().clone() for n, p in run.model.named_parameters()}
    train, dev = few_shot(task, None, config.seed)
    run.trainer.fit(run.pvp.encode(train), run.pvp.encode(dev))
    accelerator = run.trainer.accelerator
    rank = accelerator.process_index
    save_file({n: p.detach().contiguous() for n, p in run.model.named_parameters()}, out / f"rank{rank}.safetensors")
    changed = sum(not p.equal(initial[n]) for n, p in run.model.named_parameters())
    # --epochs 2: steps are counted on this process's share of the batches, not on all of them.
    by_epochs = api.build(config.replace(max_steps=None, epochs=2), task)
    epoch_steps = by_epochs.trainer.fit(by_epochs.pvp.encode(train), by_epochs.pvp.encode(dev)).steps
    info = {"rank": rank, "num_processes": accelerator.num_processes, "backend": str(accelerator.distributed_type)}
    info |= {"changed_tensors": changed, "train_examples": len(train), "epoch_steps": epoch_steps}
    (out / f"rank{rank}.json").write_text(json.dumps(info))
    api.train(config, out / "run")  # the public entry point: only the main process may write the run folder


if __name__ == "__main__":
    main(*sys.argv[1:])
