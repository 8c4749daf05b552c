"""``setfit``: SetFit (Tunstall et al. 2022, "Efficient Few-Shot Learning Without Prompts"): no prompt, no
verbalizer, no MLM head.

Two stages, as in the ``setfit`` library. First the encoder learns from sentence pairs of the few-shot set
(:mod:`promptlearn.data.pairs`: same label = 1, different = 0) that the cosine of their embeddings should be
the pair's label (SetFit's default ``CosineSimilarityLoss``) or, with ``loss=contrastive``, the contrastive
loss of Hadsell et al. on the cosine distance (sentence-transformers' ``ContrastiveLoss``). An embedding is
the mean of the token states (or [CLS]), made unit length where the checkpoint's sentence-transformers
configuration says so. Then a head learns the labels from the frozen embeddings: scikit-learn's
``LogisticRegression`` with its defaults (SetFit's default head), or a differentiable linear head trained by
cross-entropy (SetFit's ``SetFitHead``: AdamW, halving its rate every 5 epochs).

The run's settings drive the first stage: ``--batch-size`` pairs per step, ``--lr`` (SetFit's
``body_learning_rate`` 2e-5 by default), ``--weight-decay``, ``--warmup-ratio``, and ``--epochs`` passes over
the pairs or ``--max-steps`` steps (SetFit's defaults are ``--epochs 1 --batch-size 16 --warmup-ratio 0.1``).
Where it departs from the library: the pairs are shuffled by the run's seed (SetFit's by a fixed 42); the
embeddings the differentiable head trains on are computed once, without dropout (SetFit recomputes them each
batch with the encoder in training mode); there is no best-on-dev selection (SetFit has none by default): dev
is evaluated once, at the end. The batch-level triplet and SupCon losses SetFit also offers are not here.
The encoder loads without any MLM head (:attr:`~promptlearn.modes.base.Mode.encoder_only`), so any encoder
checkpoint serves: a masked LM, or a sentence-transformers folder such as all-MiniLM-L6-v2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from promptlearn.backbone.loading import sentence_transformers_modules
from promptlearn.data.pairs import check_sampling, sentence_pairs
from promptlearn.errors import PromptlearnError
from promptlearn.modes.base import Mode, ModeOptions, option, register
from promptlearn.readout.heads import POOLINGS, pool

LOSSES = ("cosine", "contrastive")
HEADS = ("logistic", "linear")


@dataclass
class SetFitOptions(ModeOptions):
    """SetFit's pair sampling, pair loss and head; the encoder's stage reads the run's --lr, --epochs, ..."""

    sampling: str = option("oversampling", "Pairs drawn: 'oversampling' (SetFit's), 'undersampling' or 'unique'.")
    iterations: int | None = option(None, "SetFit's num_iterations: R x N positive and R x N negative pairs.")
    loss: str = option("cosine", "Pair loss: 'cosine' (CosineSimilarityLoss) or 'contrastive' (ContrastiveLoss).")
    margin: float = option(0.5, "With loss=contrastive: the cosine distance negatives are pushed beyond.")
    head: str = option("logistic", "'logistic' (scikit-learn, SetFit's default) or 'linear' (a trained torch head).")
    head_epochs: int = option(16, "With head=linear: epochs over the training examples.")
    head_batch_size: int = option(2, "With head=linear: examples per step.")
    pooling: str = option(
        "auto", "'mean', 'cls', or 'auto': the checkpoint's sentence-transformers pooling, else mean."
    )
    normalize: bool | None = option(None, "Unit-length embeddings (None: as the checkpoint's modules.json says).")

    def __post_init__(self):
        check_sampling(self.sampling, self.iterations)
        for name, value, allowed in (("loss", self.loss, LOSSES), ("head", self.head, HEADS)):
            if value not in allowed:
                raise PromptlearnError(f"setfit: {name} must be one of {', '.join(allowed)}, got {value!r}")
        if self.pooling not in ("auto", *POOLINGS):
            raise PromptlearnError(f"setfit: pooling must be auto, {' or '.join(POOLINGS)}, got {self.pooling!r}")
        if self.margin <= 0 or self.head_epochs < 1 or self.head_batch_size < 1:
            raise PromptlearnError("setfit: margin, head_epochs and head_batch_size must be positive")


class SentenceHead(nn.Module):
    """Sentence embeddings and a linear layer on them: hidden (B, T, H), attention_mask (B, T) -> logits (B, C)."""

    def __init__(self, hidden_size: int, num_labels: int, pooling: str, normalize: bool):
        super().__init__()
        self.pooling = pooling
        self.normalize = normalize
        self.linear = nn.Linear(hidden_size, num_labels)
        nn.init.normal_(self.linear.weight, std=0.02)
        nn.init.zeros_(self.linear.bias)

    def embeddings(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """One vector per input (B, H): pooled, then unit length if ``normalize``."""
        pooled = pool(hidden, attention_mask, self.pooling)  # (B, H)
        return nn.functional.normalize(pooled, dim=-1) if self.normalize else pooled

    def forward(self, hidden, attention_mask, mask_positions=None) -> torch.Tensor:
        return self.linear(self.embeddings(hidden, attention_mask).to(self.linear.weight.dtype))  # (B, C)


def cosine_similarity_loss(left: torch.Tensor, right: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """SetFit's default: mean squared difference between cos(left, right) (B,) and the pair labels (B,)."""
    return nn.functional.mse_loss(nn.functional.cosine_similarity(left, right, dim=-1), target)


def contrastive_loss(left: torch.Tensor, right: torch.Tensor, target: torch.Tensor, margin: float) -> torch.Tensor:
    """Hadsell et al. 2006 on the cosine distance d: mean of (y d² + (1 - y) max(0, margin - d)²) / 2."""
    distance = 1 - nn.functional.cosine_similarity(left, right, dim=-1)  # (B,)
    losses = target * distance.pow(2) + (1 - target) * nn.functional.relu(margin - distance).pow(2)
    return 0.5 * losses.mean()


@register
class SetFitMode(Mode):
    name = "setfit"
    description = "SetFit: contrastive pairs train the encoder, then a logistic-regression head; no prompt, no MLM head"
    options_class = SetFitOptions
    default_learning_rate = 2e-5
    head_learning_rate = 1e-2
    uses_verbalizer = False
    encoder_only = True
    shapes = ("single",)  # its pairs are same-class / other-class, its head a logistic regression

    def adapt_pattern(self, pattern):
        return pattern.inputs_only()

    def attach(self, model) -> None:
        found = sentence_transformers_modules(model.backbone.config.name_or_path)
        pooling = self.options.pooling if self.options.pooling != "auto" else found.get("pooling", "mean")
        if pooling not in POOLINGS:
            raise PromptlearnError(
                f"The checkpoint pools its embeddings by {pooling!r}; setfit pools by mean or cls: "
                "give --mode-opt pooling=mean or pooling=cls"
            )
        normalize = self.options.normalize if self.options.normalize is not None else found.get("normalize", False)
        self.head = SentenceHead(model.hidden_size, model.num_labels, pooling, normalize)

    def trained_parameters(self, model) -> dict[str, list[nn.Parameter]]:
        return {"model": list(model.encoder.parameters()), "head": list(self.head.parameters())}

    def group_learning_rates(self, learning_rate: float | None = None) -> dict[str, float]:
        return {"model": learning_rate or self.default_learning_rate, "head": self.head_learning_rate}

    def pair_loss(self, left: torch.Tensor, right: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.options.loss == "cosine":
            return cosine_similarity_loss(left, right, target)
        return contrastive_loss(left, right, target, self.options.margin)

    def fit(self, model, trainer, train: list, dev: list) -> dict:
        config = trainer.config
        if config.grad_accum != 1:
            raise PromptlearnError("setfit takes one batch of pairs per step: give --batch-size, not --grad-accum")
        pairs = sentence_pairs([e.label for e in train], self.options.sampling, self.options.iterations, config.seed)
        steps = config.max_steps or math.ceil(config.epochs * math.ceil(len(pairs) / config.batch_size))
        loss = self._train_encoder(model, trainer, train, pairs, steps)
        embeddings = self.sentence_embeddings(model, trainer, train)  # (N, H)
        labels = torch.tensor([e.label for e in train])
        if self.options.head == "logistic":
            self._fit_logistic(embeddings, labels)
        else:
            self._train_linear(embeddings, labels, config)
        model.eval()
        history = [{"step": steps, "loss": loss, **trainer.evaluate(dev)}] if dev else []
        if history and trainer.on_evaluate is not None:
            trainer.on_evaluate(history[-1], self.group_learning_rates(config.learning_rate))
        return {"steps": steps, "best_step": steps, "best_dev": history[-1] if history else {}, "history": history}

    def _train_encoder(self, model, trainer, train: list, pairs: list, steps: int) -> float:
        """The contrastive stage: ``steps`` AdamW steps on shuffled batches of ``pairs``; the mean loss."""
        from transformers import get_linear_schedule_with_warmup

        config = trainer.config
        device = trainer.accelerator.device
        groups = self.param_groups(model, config.learning_rate, config.weight_decay)
        groups = [group for group in groups if not group["name"].startswith("head")]  # the head comes after
        params = [p for group in groups for p in group["params"]]
        optimizer = torch.optim.AdamW(groups)
        scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * steps), steps)
        torch.manual_seed(config.seed)  # dropout
        generator = torch.Generator().manual_seed(config.seed)
        model.train()
        losses = []
        while len(losses) < steps:
            order = torch.randperm(len(pairs), generator=generator).tolist()
            for start in range(0, len(order), config.batch_size):
                chunk = [pairs[k] for k in order[start : start + config.batch_size]]
                sides = [train[i] for i, _, _ in chunk] + [train[j] for _, j, _ in chunk]
                batch = {k: v.to(device) for k, v in trainer.collate(sides).items()}
                with trainer.autocast():
                    hidden = model.hidden_states(batch)  # (2B, T, H)
                left, right = self.head.embeddings(hidden.float(), batch["attention_mask"]).chunk(2)  # (B, H) each
                loss = self.pair_loss(left, right, torch.tensor([t for *_, t in chunk], device=device))
                if not torch.isfinite(loss):
                    raise PromptlearnError(
                        f"Training diverged: the pair loss became {loss.item()} at step {len(losses) + 1}. "
                        "Lower --lr, e.g. tenfold. Nothing was written."
                    )
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(loss.item())
                if len(losses) == steps:
                    break
        return sum(losses) / len(losses)

    @torch.no_grad()
    def sentence_embeddings(self, model, trainer, examples: list) -> torch.Tensor:
        """Embeddings (N, H) of encoded ``examples``, in evaluation mode, on the model's device."""
        model.eval()
        device = trainer.accelerator.device
        size = trainer.config.eval_batch_size
        parts = []
        for start in range(0, len(examples), size):
            batch = {k: v.to(device) for k, v in trainer.collate(examples[start : start + size]).items()}
            with trainer.autocast():
                hidden = model.hidden_states(batch)
            parts.append(self.head.embeddings(hidden.float(), batch["attention_mask"]))
        return torch.cat(parts)

    @torch.no_grad()
    def _fit_logistic(self, embeddings: torch.Tensor, labels: torch.Tensor) -> None:
        """scikit-learn's LogisticRegression (its defaults, as SetFit's head) written into the linear layer:
        softmax of its scores is the regression's probabilities (for two labels, scores (0, w.x + b))."""
        from sklearn.linear_model import LogisticRegression

        classes = self.head.linear.out_features
        if labels.unique().numel() != classes:
            raise PromptlearnError(f"setfit's logistic head needs an example of each of the {classes} labels in train")
        fitted = LogisticRegression().fit(embeddings.cpu().double().numpy(), labels.numpy())
        weight = torch.as_tensor(fitted.coef_, dtype=torch.float32)  # (C, H), or (1, H) for two labels
        bias = torch.as_tensor(fitted.intercept_, dtype=torch.float32)
        if classes == 2:
            weight, bias = torch.cat([torch.zeros_like(weight), weight]), torch.cat([torch.zeros_like(bias), bias])
        self.head.linear.weight.copy_(weight)
        self.head.linear.bias.copy_(bias)

    def _train_linear(self, embeddings: torch.Tensor, labels: torch.Tensor, config) -> None:
        """SetFit's differentiable head on frozen embeddings: cross-entropy, AdamW, rate halved every 5 epochs."""
        labels = labels.to(embeddings.device)
        linear = self.head.linear
        optimizer = torch.optim.AdamW(linear.parameters(), lr=self.head_learning_rate, weight_decay=config.weight_decay)
        schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.5)
        generator = torch.Generator().manual_seed(config.seed)
        for _ in range(self.options.head_epochs):
            for rows in torch.randperm(len(labels), generator=generator).split(self.options.head_batch_size):
                rows = rows.to(embeddings.device)
                loss = nn.functional.cross_entropy(linear(embeddings[rows]), labels[rows])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            schedule.step()
