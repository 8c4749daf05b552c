"""Pretrain a soft prompt on unlabeled text (PPT, Gu et al., ACL 2022), with checkpoint and resume.

The model, PVP and evaluation are the ones ``promptlearn train`` uses (:func:`promptlearn.api.build`
with the soft-prompt mode, a format's pattern and label words); only the loop is dedicated. The
:class:`~promptlearn.training.trainer.Trainer` loop draws shuffled epochs from a list and keeps the
best-on-dev weights; pretraining instead reads an endless stream from a corpus that need not fit
in memory, keeps the *last* prompt, and must resume mid-stream after an interruption with the
exact optimizer, schedule, RNG and stream position. That is ~60 lines here rather than new
branches in the shared trainer.

Output folder: ``prompt.safetensors`` (the artifact, see :mod:`promptlearn.backbone.prompt_artifact`) and
``pretrain.json`` (config, held-out curve), both written atomically at the end; while training,
``checkpoint.pt`` (removed at the end). Rerunning the same command after an interruption
continues from the last checkpoint and gives the same prompt as an uninterrupted run.
"""

from __future__ import annotations

import io
import itertools
import logging
import math
import pickle
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from promptlearn import api
from promptlearn.backbone.prompt_artifact import PROMPT_FILE, PromptArtifact, artifact_metadata
from promptlearn.errors import PromptlearnError
from promptlearn.outputs import PRETRAIN, check_output_free, mark_output, write_bytes_atomic, write_json_atomic
from promptlearn.ppt.config import PretrainConfig
from promptlearn.ppt.formats import get_format
from promptlearn.ppt.stream import batched, heldout_examples, training_examples
from promptlearn.training.trainer import diverged, restore_trained

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
#: what a resumable checkpoint holds (:func:`_save_checkpoint`)
CHECKPOINT_KEYS = ("config", "step", "history", "running", "trained", "optimizer", "scheduler", "torch_rng", "cuda_rng")
REPORT = "pretrain.json"


def pretrain(config: PretrainConfig, output: str | Path, overwrite: bool = False) -> dict:
    """Pretrain (or resume) a prompt into ``output``; returns the report written to ``pretrain.json``."""
    output = Path(output)
    checkpoint = _prepare_output(config, output, overwrite)
    started = time.perf_counter()
    run = api.build(config.run_config())
    model, pvp, trainer = run.model, run.pvp, run.trainer
    params = [p for p in model.parameters() if p.requires_grad]
    groups = model.mode.param_groups(model, config.learning_rate)  # no decay: it would pull the prompt off scale
    optimizer = torch.optim.AdamW(groups)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * config.steps), config.steps)
    heldout = pvp.encode(
        heldout_examples(config.corpus, config.format, config.seed, config.heldout_every, config.heldout_size)
    )
    step, history, running = 0, [], []
    if checkpoint is not None:
        step, history, running = _restore(checkpoint, model, optimizer, scheduler, output)
        logger.info("Resuming %s from step %d of %d", output, step, config.steps)
    else:
        history.append({"step": 0, "loss": None, **trainer.evaluate(heldout)})
    # The precision path of training: accelerate autocasts the forward pass and scales fp16 losses.
    accelerator = trainer.accelerator
    forward, accelerated = accelerator.prepare(model, optimizer)
    advice = trainer.divergence_advice(groups)
    stream = training_examples(config.corpus, config.format, config.seed, config.heldout_every)
    batches = itertools.islice(batched(stream, config.batch_size), step, None)
    progress = tqdm(total=config.steps, initial=step, desc=f"pretrain {config.format}", disable=None)
    model.train()
    while step < config.steps:
        batch = {k: v.to(accelerator.device) for k, v in pvp.collate(pvp.encode(next(batches))).items()}
        running.append(_train_step(accelerator, forward, batch, accelerated, scheduler, params, config.max_grad_norm))
        if not math.isfinite(running[-1]):
            raise diverged(running[-1], f"at step {step + 1}", advice)
        step += 1
        progress.update(1)
        progress.set_postfix(loss=f"{np.mean(running[-20:]):.4f}", heldout_acc=f"{history[-1]['accuracy']:.3f}")
        if step % config.eval_every == 0 or step == config.steps:
            history.append({"step": step, "loss": float(np.mean(running)), **trainer.evaluate(heldout)})
            running = []
            model.train()
        if step % config.checkpoint_every == 0 and step < config.steps:
            _save_checkpoint(output / CHECKPOINT, config, (step, history, running), model, optimizer, scheduler)
    progress.close()
    return _finish(config, output, run, history, len(heldout), time.perf_counter() - started)


def _train_step(accelerator, forward, batch, optimizer, scheduler, params, max_grad_norm: float) -> float:
    """One optimizer step; returns the loss. A non-finite loss is returned without touching the weights."""
    loss = torch.nn.functional.cross_entropy(forward(batch).float(), batch["labels"])  # from (B, C) logits
    if not torch.isfinite(loss):
        return loss.item()
    accelerator.backward(loss)
    accelerator.clip_grad_norm_(params, max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def _prepare_output(config: PretrainConfig, output: Path, overwrite: bool) -> dict | None:
    """The checkpoint to resume from (None: start fresh); raises if ``output`` holds something else.

    ``overwrite`` starts fresh without deleting anything: each old file is replaced when its new
    version is written, so an interrupted fresh start leaves the old prompt intact.
    """
    check_output_free(output, overwrite, PRETRAIN, {"--model": config.model, "--corpus": config.corpus}, resume=True)
    if overwrite:
        return None
    if (output / PROMPT_FILE).is_file():
        raise PromptlearnError(
            f"{output} already holds a finished prompt ({PROMPT_FILE}); pass --overwrite to pretrain again"
        )
    if not (output / CHECKPOINT).is_file():
        return None
    return _load_checkpoint(output / CHECKPOINT, config)


def _load_checkpoint(path: Path, config: PretrainConfig) -> dict:
    """The checkpoint's state, if it was made with ``config``; read as tensors and plain containers only.

    ``weights_only=True`` refuses a pickle that would import or call anything: the checkpoint lies in a
    folder the user names, and a crafted file there must not run code when the command resumes.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise PromptlearnError(_damaged(path, "it holds objects other than tensors and plain values")) from None
    except (RuntimeError, EOFError, OSError, ValueError) as err:  # a truncated or foreign file, by where it breaks
        reason = (str(err).strip().split(".") or [""])[0][:120] or "it ends too early"
        raise PromptlearnError(_damaged(path, reason)) from None
    if not isinstance(state, dict) or not isinstance(state.get("config"), dict):
        raise PromptlearnError(_damaged(path, "no settings in it"))
    differs = {k: (v, state["config"].get(k)) for k, v in config.to_dict().items() if state["config"].get(k) != v}
    if differs:
        shown = "; ".join(f"{k}: now {now!r}, checkpoint {then!r}" for k, (now, then) in differs.items())
        raise PromptlearnError(
            f"{path} was made with other settings ({shown}). Rerun with the same options to resume, "
            "or pass --overwrite to start over."
        )
    missing = [key for key in CHECKPOINT_KEYS if key not in state]
    if missing:
        raise PromptlearnError(_damaged(path, f"no {', '.join(missing)} in it"))
    return state


def _damaged(path: Path, reason: str) -> str:
    return (
        f"{path} cannot be read as a pretraining checkpoint ({reason}): it is damaged or was not written by "
        "promptlearn. Delete it, or pass --overwrite, to start over."
    )


def _save_checkpoint(path: Path, config, progress, model, optimizer, scheduler) -> None:
    """``progress``: (step, held-out history, losses since the last evaluation)."""
    step, history, running = progress
    state = {
        "config": config.to_dict(),
        "step": step,
        "history": history,
        "running": running,
        "trained": {n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    mark_output(path.parent, PRETRAIN)
    write_bytes_atomic(path, buffer.getvalue())


def _restore(state: dict, model, optimizer, scheduler, output: Path) -> tuple[int, list[dict], list[float]]:
    restore_trained(model, state["trained"], f"The checkpoint {output / CHECKPOINT}")
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state["step"], state["history"], state["running"]


def _finish(config: PretrainConfig, output: Path, run, history: list[dict], heldout_size: int, seconds: float) -> dict:
    """Write ``pretrain.json`` and the artifact (last, so its presence means 'finished'); drop the checkpoint."""
    trained = run.model.mode.artifact_state(run.model)
    if len(trained) != 1:
        raise PromptlearnError(f"Expected the soft-prompt mode to train one tensor, got {sorted(trained)}")
    prompt = next(iter(trained.values()))  # (n, E)
    fmt = get_format(config.format)
    report = {
        "config": config.to_dict(),
        "format": fmt.name,
        "pattern": run.pvp.pattern.source,
        "label_words": fmt.verbalizer,
        "heldout_examples": heldout_size,
        "heldout_chance": 1 / len(fmt.labels),
        "final_heldout": {k: v for k, v in history[-1].items() if k not in ("step", "loss")},
        "wall_seconds_this_session": round(seconds, 1),
        "history": history,
    }
    metadata = artifact_metadata(
        run.model.backbone,
        base_model=config.model,
        prompt_length=str(prompt.shape[0]),
        format=fmt.name,
        pattern=fmt.pattern,
        label_words=fmt.verbalizer,
        steps=str(config.steps),
        heldout_accuracy=f"{history[-1]['accuracy']:.4f}",
        init=config.init,
        seed=str(config.seed),
    )
    mark_output(output, PRETRAIN)
    write_json_atomic(output / REPORT, report)
    PromptArtifact(prompt.detach().cpu(), metadata).save(output / PROMPT_FILE)
    (output / CHECKPOINT).unlink(missing_ok=True)
    return report
