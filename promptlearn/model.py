"""PromptModel: mode hook -> MLM encoder -> hidden states -> class scores.

The backbone is any ``AutoModelForMaskedLM``. The mode (see :mod:`promptlearn.modes.base`) decides
what is embedded and what trains, and declares its readout; the scores come from
:func:`promptlearn.objective.class_scores`: the mode's classification head, or (without one) only
the verbalizer's words, only at the masks (:mod:`promptlearn.label_words`).
"""

from __future__ import annotations

import inspect
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn

from promptlearn import mask_only
from promptlearn.cloze import ClozeScorer
from promptlearn.errors import PromptlearnError
from promptlearn.fingerprint import base_fingerprint
from promptlearn.hub import check_local_model, require_hub
from promptlearn.lm import MaskedLM
from promptlearn.modes.base import Mode
from promptlearn.objective import class_scores


def load_tokenizer(name: str):
    """Tokenizer of a local folder or Hub id (fails fast, with a clear message, when offline)."""
    from transformers import AutoTokenizer

    return _from_pretrained(AutoTokenizer, name)


def load_backbone(name: str, mlm_head: bool = True) -> nn.Module:
    """``AutoModelForMaskedLM`` from a local folder or Hub id.

    With ``mlm_head`` (readouts that score label words), a checkpoint without the MLM head's
    weights (e.g. a saved plain ``BertModel``) is refused: transformers would fill the head at random.
    """
    from transformers import AutoModelForMaskedLM

    backbone, info = _from_pretrained(AutoModelForMaskedLM, name, output_loading_info=True)
    missing = missing_head_weights(backbone, info["missing_keys"]) if mlm_head else []
    if missing:
        raise PromptlearnError(
            f"{name} has no trained masked-LM head ({len(missing)} head weights are not in the checkpoint, e.g. "
            f"{missing[0]}), so label-word scores would come from a random head. Use a checkpoint saved with its "
            "MLM head (a *ForMaskedLM model), or a mode with a classification head (--mode head or finetune)."
        )
    return backbone


def missing_head_weights(backbone: nn.Module, missing_keys) -> list[str]:
    """The ``missing_keys`` of a load that belong to the MLM head (outside the encoder), tied weights excepted."""
    tied = backbone.get_input_embeddings().weight
    params = dict(backbone.named_parameters(remove_duplicate=False))
    encoder = backbone.base_model_prefix + "."
    return sorted(key for key in missing_keys if not key.startswith(encoder) and params.get(key) is not tied)


def _from_pretrained(auto_class, name: str, **kwargs):
    if Path(name).is_dir():
        try:
            return auto_class.from_pretrained(name, **kwargs)
        except (OSError, ValueError) as err:
            raise PromptlearnError(f"Could not load {auto_class.__name__[4:]} from folder {name}: {err}") from err
    check_local_model(name)
    try:
        return auto_class.from_pretrained(name, local_files_only=True, **kwargs)
    except OSError:
        require_hub("model", name)
    try:
        return auto_class.from_pretrained(name, **kwargs)
    except OSError as err:
        raise PromptlearnError(f"Could not load model {name!r} from the Hugging Face Hub: {err}") from err


class PromptModel(MaskedLM):
    """A masked LM, a mode and the verbalizer's label words (:class:`~promptlearn.lm.MaskedLM`).

    ``label_words``: for each class, its words (token ids, or lists of ids for multi-token words);
    a class's score is the mean of its words' scores. Empty for modes with a classification head.
    ``tokenizer`` is the backbone's, for modes that initialise from words (e.g. soft prompts).
    After the mode attaches, exactly the parameters it declares (``mode.trained_parameters``) train.
    ``base_fingerprint`` identifies the backbone as loaded (:mod:`promptlearn.fingerprint`), for artifacts.
    """

    def __init__(
        self,
        backbone: nn.Module,
        mode: Mode,
        label_words: list[list],
        num_labels: int,
        tokenizer=None,
    ):
        super().__init__(backbone, label_words, num_labels, tokenizer)
        self.backbone.requires_grad_(False)
        # taken before any mode touches the backbone, and before training changes it
        self.base_fingerprint = base_fingerprint(backbone)
        config = backbone.config
        self.uses_segments = getattr(config, "type_vocab_size", 0) > 1 and "token_type_ids" in _arguments(self.encoder)
        self.mode = mode
        mode.attach(self)
        # label words are read by the cloze readout, or by a head made from them (readout=warp)
        reads_words = mode.head is None or getattr(mode.head, "reads_label_words", False)
        if reads_words != mode.uses_verbalizer:
            raise ValueError(
                f"Mode {mode.name!r} must own a head exactly when it uses no verbalizer "
                "(or one made from its label words)"
            )
        # after attach, so that a mode that wraps head modules is checked and scored through them
        if self.label_words is not None:
            self.score_with(ClozeScorer(backbone))
        # a mode that reads only the masks and leaves attention alone needs the last layer there only
        self.mask_only = mode.reads_only_mask and mask_only.install(self.encoder)
        trained = [p for params in mode.trained_parameters(self).values() for p in params]
        self.requires_grad_(False)
        for param in trained:
            param.requires_grad_(True)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Class scores (B, C) for a collated batch (see :meth:`promptlearn.pvp.PVP.collate`)."""
        return class_scores(self, self.mode.head, self.hidden_states(batch), batch)

    def hidden_states(self, batch: dict[str, torch.Tensor], every_row: bool = False) -> torch.Tensor:
        """The encoder's last hidden states (B, T, H), inputs embedded by the mode.

        The batch's ``token_type_ids`` reach encoders that have segments (BERT, ALBERT, ELECTRA);
        models without them (RoBERTa's single type, DistilBERT, ModernBERT) get none. Unless
        ``every_row``, a mask-only last layer computes the mask rows alone.
        """
        embeds = self.mode.embed(self, batch)  # (B, T, E)
        segments = batch.get("token_type_ids") if self.uses_segments else None
        reading = nullcontext()
        if self.mask_only and not every_row:  # only the mask rows of the last layer are computed (read no others)
            masks = batch["mask_positions"][:, None] + torch.arange(self.mask_count, device=embeds.device)  # (B, M)
            reading = mask_only.at_mask(self.encoder, masks)
        with reading:
            out = self.encoder(
                inputs_embeds=embeds,
                attention_mask=batch["attention_mask"],
                **({"token_type_ids": segments} if segments is not None else {}),
                **self.mode.encoder_kwargs(self, batch),
            )
        return out.last_hidden_state

    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def total_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _arguments(module: nn.Module) -> set[str]:
    return set(inspect.signature(module.forward).parameters)
