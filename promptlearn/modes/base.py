"""The Mode interface: one answer to "what do we train?", and the registry of modes by name.

A mode is an ``nn.Module`` owned by the :class:`~promptlearn.model.prompt_model.PromptModel`; its hooks receive
that model as a :class:`~promptlearn.readout.masked_lm.MaskedLM` (so no mode imports the model). The modules
it adds (soft prompts, encoders, heads) move, save and train with the model. It decides:

- which new modules exist (:meth:`attach`, run once the backbone has been frozen), which
  parameters train, by named group (:meth:`trained_parameters`; the contract suite checks that
  exactly these change) and each group's learning rate (:meth:`group_learning_rates`);
- how inputs are embedded (:meth:`embed`, e.g. writing soft tokens into their slots);
- any keyword arguments for the encoder (:meth:`encoder_kwargs`, e.g. deep prompts);
- which readout it needs, by owning a ``head`` or not: a mode sets ``self.head`` to a
  :class:`~promptlearn.readout.heads.ClassificationHead` (its parameters train and are saved as the mode's)
  and ``uses_verbalizer = False``; without one, scores are label words at the masks. The scoring
  itself, like the loss, is the objective's (:func:`promptlearn.readout.scores.class_scores`), not the mode's;
- what a run folder stores (:meth:`artifact_state`: the trained tensors by default; :meth:`save_files`
  may add files of its own), what ``export --merge`` writes (:meth:`merged_backbone`) and what layers an
  ONNX export must make plain first (:meth:`traceable`).

No file outside ``modes/<name>.py`` tests a mode's name: the trainer only calls these hooks.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from promptlearn.errors import PromptlearnError

if TYPE_CHECKING:
    from promptlearn.prompt.pattern import Pattern
    from promptlearn.readout.masked_lm import MaskedLM

MODES: dict[str, type[Mode]] = {}


def register(cls: type[Mode]) -> type[Mode]:
    """Class decorator: make ``cls`` available as ``--mode cls.name``."""
    if cls.name in MODES:
        raise ValueError(f"Mode {cls.name!r} is registered twice")
    MODES[cls.name] = cls
    return cls


#: field metadata key of a mode option that names a local file or folder: its value is the prefix a value
#: starts with when it does ("" for any value, "file:" for soft_prompt's ``init=file:PATH``)
PATH = "path"


def option(default, help: str, flag: bool | str = False, path: str | tuple[str, ...] | None = None):
    """A mode option field: ``help`` is what ``promptlearn modes NAME`` and ``--help`` print; ``flag`` True makes it
    a ``train`` flag too (named after the field, or the given ``--on/--off`` string); ``path`` is the :data:`PATH`
    prefix (or a tuple of them) when its value names a local file or folder."""
    metadata = {"help": help} | ({"flag": flag} if flag else {}) | ({PATH: path} if path is not None else {})
    return dataclasses.field(default=default, metadata=metadata)


def _prefix_of(item: dataclasses.Field, value) -> str | None:
    """The :data:`PATH` prefix (one, or one of a tuple: ``("file:", "run:")``) that ``value`` starts with, if any."""
    declared = item.metadata.get(PATH)
    prefixes = (declared,) if isinstance(declared, str) else declared or ()
    return next((p for p in prefixes if isinstance(value, str) and value.startswith(p)), None)


@dataclasses.dataclass
class ModeOptions:
    """Options of a mode (``--prompt-length``, ``--init``, ...); subclasses add fields and checks.

    A field that names a local path says so in its metadata (:data:`PATH`), so a run folder can make it
    absolute and work from any directory (:meth:`Mode.option_paths`).
    """


class Mode(nn.Module):
    """Base class: trains nothing, embeds tokens as they are, owns no head (label words at [MASK] score)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options_class: ClassVar[type[ModeOptions]] = ModeOptions
    #: learning rate of the main parameter group when the user gives none
    default_learning_rate: ClassVar[float] = 1e-5
    #: whether the pattern may contain [SOFT] tokens (only modes that train prompt embeddings)
    uses_soft_tokens: ClassVar[bool] = False
    #: whether class scores come from label words (False: the mode's ``head``, no verbalizer)
    uses_verbalizer: ClassVar[bool] = True
    #: whether the label-word readout may compute the last layer at [MASK] alone (see :attr:`reads_only_mask`)
    mask_only_layer: ClassVar[bool] = True
    #: optional packages the mode needs (import names), beyond promptlearn's own dependencies
    requires: ClassVar[tuple[str, ...]] = ()
    #: whether the mode reads no MLM head at all, so the backbone loads as the bare encoder (``AutoModel``):
    #: then any encoder checkpoint serves, a sentence-transformers folder too (see ``load_backbone``)
    encoder_only: ClassVar[bool] = False
    #: the task shapes (:mod:`promptlearn.tasks`) the mode serves, by name; None: every shape
    shapes: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, options: ModeOptions | None = None):
        super().__init__()
        self.options = options if options is not None else self.options_class()
        #: the classification head this mode owns (set in :meth:`attach`), or None: label words score
        self.head: nn.Module | None = None

    @classmethod
    def from_options(cls, options: dict) -> Mode:
        """Build from a plain dict, rejecting keys the mode does not know."""
        known = {f.name for f in dataclasses.fields(cls.options_class)}
        unknown = sorted(set(options) - known)
        if unknown:
            flags = ", ".join("--" + key.replace("_", "-") for key in unknown)
            accepted = ", ".join("--" + k.replace("_", "-") for k in sorted(known)) or "none"
            raise PromptlearnError(f"Mode {cls.name!r} does not take {flags} (it takes: {accepted}).")
        return cls(cls.options_class(**options))

    @classmethod
    def option_paths(cls, options: dict) -> dict[str, str]:
        """The local paths among ``options`` (this mode's, as a dict) by option name: the part after the
        :data:`PATH` prefix of each option that declares one and whose value carries it."""
        paths = {}
        for item in dataclasses.fields(cls.options_class):
            value = options.get(item.name)
            prefix = _prefix_of(item, value)
            if prefix is not None:
                paths[item.name] = value[len(prefix) :]
        return paths

    @classmethod
    def with_option_paths(cls, options: dict, paths: dict[str, str]) -> dict:
        """``options`` with the path part of each option in ``paths`` replaced (see :meth:`option_paths`)."""
        prefixes = {
            item.name: _prefix_of(item, options.get(item.name)) for item in dataclasses.fields(cls.options_class)
        }
        return options | {name: prefixes[name] + path for name, path in paths.items()}

    def options_dict(self) -> dict:
        return dataclasses.asdict(self.options)

    def adapt_pattern(self, pattern: Pattern) -> Pattern:
        """The pattern this mode encodes with; checks [SOFT] use by default.

        Called once, before :meth:`attach` (prompt modes learn their prompt length here).
        """
        if pattern.soft_count and not self.uses_soft_tokens:
            raise PromptlearnError(
                f"The pattern {pattern.source!r} has [SOFT] tokens, but mode {self.name!r} trains no prompt "
                "embeddings. Use --mode soft_prompt or --mode ptuning, or remove the [SOFT] tokens."
            )
        return pattern

    def attach(self, model: MaskedLM) -> None:
        """Create this mode's modules (the backbone arrives frozen).

        Afterwards :class:`~promptlearn.model.prompt_model.PromptModel` makes exactly :meth:`trained_parameters`
        trainable; a mode that unfreezes backbone parts here instead is still honoured by the default.
        """

    def trained_parameters(self, model: MaskedLM) -> dict[str, list[nn.Parameter]]:
        """What this mode trains, by parameter group name (keys of :meth:`group_learning_rates`).

        The default declares whatever :meth:`attach` left trainable, as one group ``model``.
        """
        return {"model": [p for p in model.parameters() if p.requires_grad]}

    def group_learning_rates(self, learning_rate: float | None = None) -> dict[str, float]:
        """Learning rate of each parameter group, main group first; ``learning_rate`` (``--lr``) sets the main one."""
        return {"model": learning_rate or self.default_learning_rate}

    def no_decay_parameters(self, model: MaskedLM) -> list[nn.Parameter]:
        """Trained matrices that weight decay must spare, besides the 1-D tensors, which it always spares.

        Decay pulls weights towards zero. That is a prior for weight matrices, but wrong for biases
        and norm scales (the 1-D tensors: BitFit would decay exactly what it trains) and for learned
        input embeddings (soft prompts, prefixes), whose scale must stay that of the word
        embeddings. A mode that trains such embeddings returns them here.
        """
        return []

    def param_groups(self, model: MaskedLM, learning_rate: float | None, weight_decay: float = 0.0) -> list[dict]:
        """Optimizer groups ``{"name", "params", "lr", "weight_decay"}`` of :meth:`trained_parameters`.

        Each named group is split in two at its learning rate: ``name`` decays by ``weight_decay``,
        ``name.no_decay`` holds the 1-D tensors and :meth:`no_decay_parameters`, with decay 0.
        Empty groups are left out.
        """
        rates = self.group_learning_rates(learning_rate)
        spared = {id(p) for p in self.no_decay_parameters(model)}
        groups = []
        for name, params in self.trained_parameters(model).items():
            free = [p for p in params if p.ndim < 2 or id(p) in spared]
            decayed = [p for p in params if not (p.ndim < 2 or id(p) in spared)]
            groups.append({"name": name, "params": decayed, "lr": rates[name], "weight_decay": weight_decay})
            groups.append({"name": f"{name}.no_decay", "params": free, "lr": rates[name], "weight_decay": 0.0})
        return [group for group in groups if group["params"]]

    @property
    def reads_only_mask(self) -> bool:
        """Whether class scores read the last hidden state at [MASK] alone, through unchanged attention.

        True when label words score (:attr:`uses_verbalizer`), :attr:`mask_only_layer` allows it and the
        mode keeps the default :meth:`encoder_kwargs`; then the model computes its last layer at [MASK]
        only (:mod:`promptlearn.backbone.mask_only`).
        """
        return self.uses_verbalizer and self.mask_only_layer and type(self).encoder_kwargs is Mode.encoder_kwargs

    def fit(self, model: MaskedLM, trainer, train: list, dev: list) -> dict | None:
        """Train in stages of the mode's own instead of the trainer's loop (SetFit: pairs, then a head).

        ``trainer`` is the run's :class:`~promptlearn.training.trainer.Trainer` (its settings, device, collate and
        evaluation); ``train`` and ``dev`` are encoded examples. Returns what the loop would report (``steps``,
        ``best_step``, ``history``), or None, the default, to let the trainer's loop train.
        """
        return None

    def embed(self, model: MaskedLM, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Input embeddings (B, T, E) for the encoder (E: the word embeddings' width)."""
        return model.word_embeddings(batch["input_ids"])

    def encoder_kwargs(self, model: MaskedLM, batch: dict[str, torch.Tensor]) -> dict:
        """Extra keyword arguments for the encoder call."""
        return {}

    def artifact_state(self, model: MaskedLM) -> dict[str, torch.Tensor]:
        """Tensors a run folder stores: every trainable parameter, by its name in the PromptModel."""
        return {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}

    def save_files(self, model: MaskedLM, folder: Path) -> None:
        """Write extra files into a run folder beside ``weights.safetensors`` (none by default)."""

    def artifact_metadata(self) -> dict[str, str]:
        """Facts about how the stored tensors are used, written into their metadata (none by default);
        :meth:`check_artifact` reads them back, so a layout that changed between versions is refused."""
        return {}

    def check_artifact(self, metadata: dict[str, str], origin: str) -> None:
        """Refuse stored tensors (``metadata`` as :meth:`artifact_metadata` wrote it) that this version
        would compute with differently from the version that trained them (nothing to check by default)."""

    def merged_backbone(self, model: MaskedLM) -> nn.Module:
        """The trained model as one plain masked LM (``promptlearn export --merge``).

        By default: the backbone itself, when everything this mode trains lives in it.
        """
        inside = {id(p) for p in model.backbone.parameters()}
        if any(id(p) not in inside for params in self.trained_parameters(model).values() for p in params):
            raise PromptlearnError(
                f"Mode {self.name!r} trains parameters outside the masked LM; it cannot be exported as a plain model"
            )
        return model.backbone

    def traceable(self, model: MaskedLM) -> None:
        """Replace layers whose kernels a graph exporter cannot trace by plain ones computing the same numbers,
        in place, on a model loaded for export only (``export --format onnx``). None by default."""
