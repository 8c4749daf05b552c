"""The Python API behind the CLI: train a run, load it back, evaluate, predict.

A run folder holds ``config.json`` (the resolved :class:`RunConfig`), ``metrics.json``,
``weights.safetensors`` (only what the mode trained) and ``predictions.jsonl`` (test split); with
``--calibrate``, ``calibration.json`` (the bias vector), and with ``--demonstrations``,
``demonstrations.jsonl`` (the training examples demonstrations are drawn from).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from accelerate.utils import set_seed
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from promptlearn.backbone.fingerprint import check_same_base, size_mismatches
from promptlearn.backbone.loading import load_backbone, load_tokenizer
from promptlearn.data.examples import Columns, Example, TaskData, load_examples, load_task_data
from promptlearn.data.sampling import few_shot, unused_sample
from promptlearn.errors import PromptlearnError
from promptlearn.model.prompt_model import PromptModel
from promptlearn.modes import Mode, get_mode
from promptlearn.outputs import (
    EXPORT,
    RUN,
    check_output_free,
    check_writable,
    staged_folder,
    to_json,
    write_json_atomic,
    write_safetensors_atomic,
    write_text_atomic,
)
from promptlearn.prompt.demonstrations import Demonstrations, mean_pooled
from promptlearn.prompt.pattern import Pattern
from promptlearn.prompt.pvp import PVP, Encoded
from promptlearn.prompt.verbalizer import Verbalizer
from promptlearn.run import calibration
from promptlearn.run.config import RunConfig
from promptlearn.run.label_search import SearchResult, search_verbalizer
from promptlearn.run.soft_labels import read_soft_labels
from promptlearn.training.aux_mlm import MlmBatches
from promptlearn.training.metrics import classification_metrics
from promptlearn.training.objective import Objective
from promptlearn.training.trainer import Trainer, restore_trained

logger = logging.getLogger(__name__)

WEIGHTS = "weights.safetensors"
#: the safetensors metadata key holding the run's label order (a JSON list)
LABELS_KEY = "labels"
DEMONSTRATIONS = "demonstrations.jsonl"
#: unlabelled texts kept for the auxiliary MLM loss when training counts epochs (with steps: steps x batch)
MAX_UNLABELED = 10_000


@dataclass
class Prompted:
    """A built model with the PVP that feeds it and the trainer that runs it.

    ``calibration``: the bias vector (C,) that :meth:`predict_proba` divides out (see
    :mod:`promptlearn.run.calibration`), None when the run is not calibrated.
    """

    config: RunConfig
    pvp: PVP
    model: PromptModel
    trainer: Trainer
    calibration: np.ndarray | None = None

    def predict_proba(self, examples: list[Example], encoded: list[Encoded] | None = None) -> np.ndarray:
        """Class probabilities (N, C): averaged over the demonstration draws, then calibrated.

        ``encoded``: ``examples`` already encoded by this PVP (a cache), used only without demonstrations.
        This is the one path from a run to the numbers it reports (``evaluate``, ``predict``, ``fewshot``,
        PET's member labels, ensembles and soft labels): calibration lives here, not in the objective.
        """
        if not examples:  # the tokenizer refuses an empty batch
            return np.zeros((0, len(self.pvp.labels)), dtype=np.float32)
        demonstrations = self.pvp.demonstrations
        if demonstrations is None:
            probs = self.trainer.predict_proba(encoded if encoded is not None else self.pvp.encode(examples))
        else:
            draws = [self.trainer.predict_proba(self.pvp.encode(examples, draw=d)) for d in range(demonstrations.sets)]
            probs = np.mean(draws, axis=0, dtype=np.float64).astype(np.float32)
        return calibration.apply(probs, self.calibration)

    def predict(self, examples: list[Example]) -> list[dict]:
        """One record per example: text, gold, predicted label and per-label probabilities."""
        probs = self.predict_proba(examples)
        labels = self.pvp.labels
        records = []
        for ex, row in zip(examples, probs, strict=True):
            record = {"text": ex.text_a}
            if ex.text_b is not None:
                record["text_b"] = ex.text_b
            record |= {
                "gold": ex.label,
                "predicted": labels[int(row.argmax())],
                "probabilities": {label: round(float(p), 6) for label, p in zip(labels, row, strict=True)},
            }
            records.append(record)
        return records

    def evaluate(self, examples: list[Example]) -> dict:
        """Accuracy and macro-F1 on labelled ``examples``."""
        if any(ex.label is None for ex in examples):
            raise PromptlearnError("Evaluation needs a label on every example")
        index = {label: i for i, label in enumerate(self.pvp.labels)}
        unknown = sorted({ex.label for ex in examples} - set(index))
        if unknown:
            raise PromptlearnError(f"Labels {unknown} are not among this run's labels {self.pvp.labels}")
        gold = [index[ex.label] for ex in examples]
        return classification_metrics(gold, self.predict_proba(examples).argmax(axis=1), len(self.pvp.labels))


def columns_of(config: RunConfig) -> Columns:
    return Columns(text=config.text_column, text_b=config.text_b_column, label=config.label_column)


def build(config: RunConfig, data: TaskData | None = None, backbone: torch.nn.Module | None = None) -> Prompted:
    """Model, PVP and trainer for ``config``; ``data`` (when given) is checked against the PVP.

    ``backbone`` replaces loading ``config.model`` (e.g. a randomly initialised model of that config).
    """
    mode, pvp = build_pvp(config, data)
    set_seed(config.seed)
    if backbone is None:
        backbone = load_backbone(config.model, mlm_head=mode.uses_verbalizer)
    pvp.max_positions = usable_positions(backbone, pvp.tokenizer)
    model = PromptModel(backbone, mode, pvp.label_word_tokens, len(pvp.labels), pvp.tokenizer)
    model.decoding, model.word_score, model.word_masks = config.decoding, config.word_score, config.word_masks
    return Prompted(
        config=config.replace(labels=pvp.labels),
        pvp=pvp,
        model=model,
        trainer=Trainer(model, pvp.collate, config),
    )


def usable_positions(backbone: torch.nn.Module, tokenizer) -> int | None:
    """How many tokens an input may take: the model's positions, or fewer where its tokenizer says so
    (RoBERTa's 514 position rows hold 512 tokens); None when neither tells."""
    limits = [getattr(backbone.config, "max_position_embeddings", None), tokenizer.model_max_length]
    known = [int(n) for n in limits if n is not None and n < 1_000_000]  # transformers' "unknown" is 1e30
    return min(known, default=None)


def build_pvp(config: RunConfig, data: TaskData | None = None, tokenizer=None) -> tuple[Mode, PVP]:
    """The mode and PVP of ``config``, checked against ``data`` when given; reads the tokenizer, not the weights."""
    mode = get_mode(config.mode).from_options(config.mode_options)
    pattern = mode.adapt_pattern(Pattern.parse(config.pattern))
    verbalizer = None
    if mode.uses_verbalizer:
        if not config.verbalizer and config.verbalizer_search is None:
            raise PromptlearnError(f"Mode {mode.name!r} reads label words at [MASK]: give --verbalizer or --task")
        verbalizer = Verbalizer.from_dict(config.verbalizer) if config.verbalizer else None  # else: searched in fit
    labels = config.labels or (verbalizer.labels if verbalizer else (data.labels if data else None))
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(config.model)
    pvp = PVP(pattern, verbalizer, tokenizer, max_length=config.max_length, labels=labels)
    if data is not None:
        pvp.check_data(data)
    return mode, pvp


def fit(config: RunConfig, data: TaskData) -> tuple[Prompted, dict]:
    """Sample the few-shot split of ``data``, build and train; returns the run and its dev/training metrics.

    In order: the label-word search (``verbalizer_search``, on this split's train and dev), training
    (with demonstrations drawn from this split's train), then calibration of the trained model.
    """
    started = time.perf_counter()
    train_examples, dev_examples = few_shot_split(config, data)
    backbone, searched = None, None
    if config.verbalizer_search is not None:
        backbone = load_backbone(config.model)
        searched = search_label_words(config, data, train_examples, dev_examples, backbone)
        config = config.replace(verbalizer=searched.verbalizer.to_dict(), labels=searched.verbalizer.labels)
    run = build(config, data, backbone)
    check_positions(run, data)
    use_demonstrations(run, train_examples)
    targets = None
    if config.soft_labels is not None:
        targets = read_soft_labels(config.soft_labels, len(train_examples), len(run.pvp.labels))
        run.trainer.objective = Objective(temperature=config.temperature)
    if config.aux_mlm_weight:
        texts = unlabeled_texts(config, data, train_examples + dev_examples)
        run.trainer.objective = auxiliary_objective(config, run, texts)
    dev_encoded = run.pvp.encode(dev_examples)
    result = run.trainer.fit(run.pvp.encode(train_examples, soft_targets=targets), dev_encoded)
    # unlabeled calibration reads texts the model did not train on (its training texts when there are none)
    unlabeled = []
    if config.calibrate == "unlabeled":
        unlabeled = unlabeled_pool(config, data, train_examples + dev_examples, calibration.UNLABELED_SAMPLE)
    calibrate(run, unlabeled or train_examples)
    metrics = {"dev": run.evaluate(dev_examples)}
    if searched is not None:
        metrics["label_search"] = searched.report()
    metrics["training"] = {
        "steps": result.steps,
        "best_step": result.best_step,
        "train_examples": len(train_examples),
        "dev_examples": len(dev_examples),
        "trainable_parameters": run.model.trainable_parameters(),
        "total_parameters": run.model.total_parameters(),
        "wall_seconds": round(time.perf_counter() - started, 2),
        "history": result.history,
    }
    return run, metrics


def check_positions(run: Prompted, data: TaskData) -> None:
    """Refuse, before training, an input of ``data`` longer than the model's positions.

    Only needed when ``max_length`` allows one; the test split is read too, as it is predicted after training.
    """
    limit = run.pvp.max_positions
    if limit is not None and run.pvp.max_length > limit:
        for examples in data.splits.values():
            run.pvp.encode(examples)


def unlabeled_pool(config: RunConfig, data: TaskData, used: list[Example], limit: int) -> list[Example]:
    """Unlabeled examples: ``config.unlabeled``'s, else the train split's whose texts none of ``used`` (the
    run's train and dev) has; at most ``limit``, sampled by the seed (:func:`~promptlearn.data.sampling.unused_sample`).
    Their labels are never read."""
    if config.unlabeled is not None:
        return unused_sample(load_examples(config.unlabeled, columns_of(config)), [], limit, config.seed)
    return unused_sample(data.split("train"), used, limit, config.seed)


def unlabeled_texts(config: RunConfig, data: TaskData, used: list[Example]) -> list:
    """Texts for the auxiliary MLM loss (:func:`unlabeled_pool`): at most what training reads (steps x batch,
    or :data:`MAX_UNLABELED`); pairs as ``(text_a, text_b)``."""
    needed = config.max_steps * config.batch_size * config.grad_accum if config.max_steps else MAX_UNLABELED
    pool = unlabeled_pool(config, data, used, needed)
    return [ex.text_a if ex.text_b is None else (ex.text_a, ex.text_b) for ex in pool]


def auxiliary_objective(config: RunConfig, run: Prompted, texts: list) -> Objective:
    """Cross-entropy mixed with PET's auxiliary MLM loss on ``texts`` (cloze modes only)."""
    if run.model.label_words is None:
        raise PromptlearnError(
            f"--aux-mlm-weight trains the masked LM's head, but mode {config.mode!r} has a classification head"
        )
    prompt = run.pvp.pattern.soft_count  # the MLM batch runs through the mode: it needs the prompt's slots
    batches = MlmBatches(texts, run.pvp.tokenizer, config.batch_size, config.max_length, config.seed, prompt)
    return Objective(config.temperature, aux_mlm_weight=config.aux_mlm_weight, mlm_batches=batches)


def train(
    config: RunConfig, output: str | Path | None = None, overwrite: bool = False, data: TaskData | None = None
) -> dict:
    """Train, evaluate on dev and test, and (with ``output``) write the run folder. Returns the metrics.

    Without a (labelled) test split there are no test metrics, and ``metrics["warnings"]`` says so.

    ``data`` saves re-reading the dataset when the caller already holds ``config.data`` loaded.
    """
    config = config.anchored()  # the run folder must work from any directory
    if output is not None:
        check_output_free(output, overwrite, RUN, input_paths(config))
        check_writable(output)
    started = time.perf_counter()
    if data is None:
        data = load_task_data(config.data, columns_of(config))
    run, metrics = fit(config, data)
    predictions = None
    if "test" not in data.splits:
        warning = f"{config.data} has no test split: no test metrics and no predictions.jsonl"
    else:
        predictions = run.predict(data.splits["test"])  # calibrated and averaged over demonstrations, as set
        if predictions[0]["gold"] is None:  # a test split is labelled in every row or in none
            warning = f"the test split of {config.data} has no labels: predictions.jsonl only, no test metrics"
        else:
            metrics["test"] = metrics_of(predictions, run.pvp.labels)
            warning = None
    if warning is not None:
        logger.warning(warning)
        metrics["warnings"] = [warning]
    artifact = run.model.mode.artifact_state(run.model)
    metrics["training"]["artifact_bytes"] = sum(t.numel() * t.element_size() for t in artifact.values())
    metrics["training"]["wall_seconds"] = round(time.perf_counter() - started, 2)
    # Under `accelerate launch` every process trains the same weights; only the main one writes.
    if output is not None and run.trainer.accelerator.is_main_process:
        with staged_folder(output, overwrite, RUN, input_paths(config)) as folder:
            write_json_atomic(folder / "config.json", run.config.to_dict())
            write_safetensors_atomic(
                folder / WEIGHTS,
                {k: v.contiguous().cpu() for k, v in artifact.items()},
                metadata={
                    "base_model": config.model,
                    "mode": config.mode,
                    LABELS_KEY: json.dumps(run.pvp.labels),
                    **run.model.mode.artifact_metadata(),
                    **base_signature(run.model),
                },
            )
            run.model.mode.save_files(run.model, folder)
            if predictions is not None:
                write_predictions(folder / "predictions.jsonl", predictions)
            if run.calibration is not None:
                calibration.save(folder, config.calibrate, run.pvp.labels, run.calibration)
            if run.pvp.demonstrations is not None:
                write_examples(folder / DEMONSTRATIONS, run.pvp.demonstrations.pool)
            write_json_atomic(folder / "metrics.json", metrics)
    return metrics


def input_paths(config: RunConfig) -> dict[str, str | None]:
    """The paths a run reads, by flag: its output folder must not overlap any (:func:`check_output_free`)."""
    prompt = config.mode_options.get("prompt")
    return {
        "--model": config.model, "--data": config.data, "--unlabeled": config.unlabeled,
        "--soft-labels": config.soft_labels, "--prompt": prompt if isinstance(prompt, str) else None,
    }  # fmt: skip


def load_run(run_dir: str | Path, allow_other_base: bool = False) -> Prompted:
    """Rebuild a trained run: base model from its config, then the stored (trained) tensors.

    ``allow_other_base``: load onto a base model other than the one the run was trained on (same sizes).
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise PromptlearnError(f"{run_dir} is not a run folder (no config.json); train one with `promptlearn train`")
    config = RunConfig.load(run_dir / "config.json").anchored()
    weights_path = run_dir / WEIGHTS
    if not weights_path.is_file():
        raise PromptlearnError(f"{run_dir} has no {WEIGHTS}: the run did not finish; train it again")
    try:
        with safe_open(weights_path, "pt") as handle:
            metadata = handle.metadata() or {}
        state = load_file(weights_path)
    except (SafetensorError, OSError) as err:
        raise PromptlearnError(
            f"{weights_path} cannot be read as safetensors ({err}): the file is truncated or damaged. "
            "Train the run again (or copy the folder again, if it was copied)."
        ) from err
    run = build(config)
    check_label_order(metadata, run.pvp.labels, weights_path, run_dir / "config.json")
    run.model.mode.check_artifact(metadata, str(weights_path))
    load_artifact(run.model, state, str(weights_path), metadata, allow_other_base)
    run.model.eval()
    if config.demonstrations:
        use_demonstrations(run, load_examples(run_dir / DEMONSTRATIONS))
    run.calibration = calibration.load(run_dir, config.calibrate, run.pvp.labels)
    return run


def check_label_order(metadata: dict[str, str], labels: list[str], weights: Path, config: Path) -> None:
    """Refuse a run whose labels are not in the order its weights were trained in.

    A head's (or warp's) rows are the labels in training order: reordered labels in a hand-edited
    ``config.json`` would invert every prediction. Runs saved before the order was stored pass.
    """
    if LABELS_KEY in metadata and json.loads(metadata[LABELS_KEY]) != labels:
        raise PromptlearnError(
            f"{weights} was trained with the labels in the order {json.loads(metadata[LABELS_KEY])}, but {config} "
            f"lists {labels}: its scores would go to the wrong labels. Restore the order in {config}."
        )


def export_merged(run_dir: str | Path, output: str | Path, overwrite: bool = False) -> None:
    """Write a trained run as one plain ``transformers`` masked-LM folder (model and tokenizer) to ``output``.

    Scored with the run's pattern and verbalizer, it gives the run's predictions; the mode decides
    whether it can be merged (:meth:`~promptlearn.modes.base.Mode.merged_backbone`).
    """
    check_output_free(output, overwrite, EXPORT, {"the run": run_dir})
    run = load_run(run_dir)
    backbone = run.model.mode.merged_backbone(run.model)
    with staged_folder(output, overwrite, EXPORT, {"the run": run_dir, "its base model": run.config.model}) as folder:
        backbone.save_pretrained(folder)
        run.model.tokenizer.save_pretrained(folder)


def few_shot_split(config: RunConfig, data: TaskData) -> tuple[list[Example], list[Example]]:
    """The run's (train, dev) examples: its seed's few-shot sample, dev as ``config`` says."""
    return few_shot(data, config.shots, config.seed, config.dev_split)


def search_label_words(
    config: RunConfig, data: TaskData, train: list[Example], dev: list[Example], backbone: torch.nn.Module
) -> SearchResult:
    """Search label words for ``config``'s pattern on ``train``/``dev`` (:mod:`promptlearn.run.label_search`).

    Label order: ``config.verbalizer``'s when it has one (a preset), else the data's.
    """
    order = list(config.verbalizer) if config.verbalizer else data.labels
    _, pvp = build_pvp(config.replace(mode="pet", mode_options={}, verbalizer=None, labels=order), data)
    return search_verbalizer(backbone, pvp, train, dev, **(config.verbalizer_search or {}))


def use_demonstrations(run: Prompted, pool: list[Example]) -> None:
    """With ``config.demonstrations``, make ``run``'s PVP append demonstrations drawn from ``pool``."""
    config = run.config
    if not config.demonstrations:
        return
    backbone, tokenizer = run.model.backbone, run.pvp.tokenizer
    demonstrations = Demonstrations(
        pool=[ex for ex in pool if ex.label is not None],
        sets=config.demonstration_sets,
        length=config.demonstration_length,
        similar=config.similar_demonstrations,
        seed=config.seed,
        embed=lambda examples: mean_pooled(backbone, tokenizer, examples),
    )
    demonstrations.check(run.pvp, getattr(backbone.config, "max_position_embeddings", None))
    run.pvp.demonstrations = demonstrations


def calibrate(run: Prompted, unlabeled: list[Example]) -> None:
    """Estimate ``run.config.calibrate``'s bias vector on the model as it is now and set it on ``run``.

    ``unlabeled``: texts for the ``unlabeled`` method (their labels are not read).
    """
    run.calibration = None
    run.calibration = calibration.estimate(
        run.config.calibrate,
        run.predict_proba,
        unlabeled,
        run.pvp.tokenizer.mask_token,
        "text_b" in run.pvp.pattern.fields,
    )


def base_signature(model: PromptModel) -> dict[str, str]:
    """What an artifact must match in its base model: sizes and hashes (see :mod:`promptlearn.backbone.fingerprint`).

    Taken when the model was built, before training changed it.
    """
    return dict(model.base_fingerprint)


def load_artifact(
    model: PromptModel,
    state: dict[str, torch.Tensor],
    origin: str,
    metadata: dict[str, str] | None = None,
    allow_other_base: bool = False,
) -> None:
    """Load stored tensors into ``model``.

    A tensor the model lacks or shapes differently is an error, and so is a base-model fingerprint
    in ``metadata`` (see :func:`base_signature`) that differs from the model's: a soft prompt has
    the same shape on any model of the same size, yet means nothing on another model.
    ``allow_other_base`` accepts another model of the same sizes (the hashes are not compared).
    """
    own = model.state_dict()
    signature = base_signature(model)
    mismatched = size_mismatches(metadata or {}, signature)
    unknown = sorted(set(state) - set(own))
    wrong = [
        f"{name}: stored {tuple(tensor.shape)}, model {tuple(own[name].shape)}"
        for name, tensor in state.items()
        if name in own and own[name].shape != tensor.shape
    ]
    problems = [f"trained with {', '.join(mismatched)}"] if mismatched else []
    problems += wrong[:3] + [f"unknown tensor {n}" for n in unknown[:3]]
    if problems:
        details = "; ".join(problems)
        raise PromptlearnError(
            f"{origin} does not fit the base model {model.backbone.config.name_or_path!r} "
            f"(hidden size {model.hidden_size}, vocabulary {model.backbone.config.vocab_size}, "
            f"{model.backbone.config.num_hidden_layers} layers): {details}. Load it onto the model it was trained on."
        )
    check_same_base(metadata or {}, signature, origin, allow_other_base)
    restore_trained(model, state, origin)


def write_predictions(path: Path, records: list[dict]) -> None:
    write_text_atomic(path, "".join(to_json(r, indent=None) + "\n" for r in records))


def write_examples(path: Path, examples: list[Example]) -> None:
    """``examples`` as .jsonl with the default columns (``text``, ``text_b``, ``label``)."""
    rows = [{"text": ex.text_a, "text_b": ex.text_b, "label": ex.label} for ex in examples]
    write_text_atomic(path, "".join(to_json(r, indent=None) + "\n" for r in rows))


def metrics_of(records: list[dict], labels: list[str]) -> dict:
    """Accuracy and macro-F1 of :meth:`Prompted.predict` records that all carry a gold label."""
    index = {label: i for i, label in enumerate(labels)}
    gold = [index[r["gold"]] for r in records]
    predicted = [index[r["predicted"]] for r in records]
    return classification_metrics(gold, predicted, len(labels))
