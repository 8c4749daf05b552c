"""PromptModel: mode hook -> MLM encoder -> hidden states -> class scores.

The backbone is any ``AutoModelForMaskedLM``. The mode (see :mod:`promptlearn.modes.base`) decides
what is embedded and what trains, and declares its readout; the scores come from
:func:`promptlearn.readout.scores.class_scores`: the mode's classification head, or (without one) only
the verbalizer's words, only at the masks (:mod:`promptlearn.readout.label_words`).
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import nn

from promptlearn.backbone import mask_only
from promptlearn.backbone.architectures import takes_segments
from promptlearn.backbone.fingerprint import base_fingerprint
from promptlearn.backbone.packing import Packing
from promptlearn.modes.base import Mode
from promptlearn.readout.cloze import ClozeScorer
from promptlearn.readout.masked_lm import MaskedLM
from promptlearn.readout.scores import class_scores


class PromptModel(MaskedLM):
    """A masked LM, a mode and the verbalizer's label words (:class:`~promptlearn.readout.masked_lm.MaskedLM`).

    ``label_words``: for each class, its words (token ids, or lists of ids for multi-token words);
    a class's score is the mean of its words' scores. Empty for modes with a classification head.
    ``tokenizer`` is the backbone's, for modes that initialise from words (e.g. soft prompts).
    After the mode attaches, exactly the parameters it declares (``mode.trained_parameters``) train.
    ``head_outputs``: the width of a head the mode makes (default ``num_labels``; a regression head has one).
    ``base_fingerprint`` identifies the backbone as loaded (:mod:`promptlearn.backbone.fingerprint`), for artifacts.
    """

    def __init__(
        self,
        backbone: nn.Module,
        mode: Mode,
        label_words: list[list],
        num_labels: int,
        tokenizer=None,
        head_outputs: int | None = None,
    ):
        super().__init__(backbone, label_words, num_labels, tokenizer)
        if head_outputs is not None:
            self.head_outputs = head_outputs
        self.backbone.requires_grad_(False)
        # taken before any mode touches the backbone, and before training changes it
        self.base_fingerprint = base_fingerprint(backbone)
        self.uses_segments = takes_segments(self.encoder)
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
        elif mode.head is None:  # multiple choice: the choices are the words, read over the whole vocabulary
            self.score_choices_with(ClozeScorer(backbone))
        # a mode that reads only the masks and leaves attention alone needs the last layer there only
        self.mask_only = mode.reads_only_mask and mask_only.install(self.encoder)
        #: training batches packed without padding (promptlearn.backbone.packing), set by --packed
        self.packed = False
        trained = [p for params in mode.trained_parameters(self).values() for p in params]
        self.requires_grad_(False)
        for param in trained:
            param.requires_grad_(True)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Class scores (B, C) for a collated batch (see :meth:`promptlearn.prompt.pvp.PVP.collate`)."""
        return class_scores(self, self.mode.head, self.hidden_states(batch), batch)

    def hidden_states(self, batch: dict[str, torch.Tensor], every_row: bool = False) -> torch.Tensor:
        """The encoder's last hidden states (B, T, H), inputs embedded by the mode.

        The batch's ``token_type_ids`` reach encoders that have segments (BERT, ALBERT, ELECTRA);
        models without them (RoBERTa's single type, DistilBERT, ModernBERT) get none. Unless
        ``every_row``, a mask-only last layer computes the mask rows alone.
        """
        embeds = self.mode.embed(self, batch)  # (B, T, E)
        segments = batch.get("token_type_ids") if self.uses_segments else None
        packing = Packing(batch["attention_mask"]) if self.packed and self.training else None
        if packing is None:
            inputs = {"inputs_embeds": embeds, "attention_mask": batch["attention_mask"]}
            inputs |= {"token_type_ids": segments} if segments is not None else {}
        else:  # one row of the real tokens, each sequence attending to itself (promptlearn.backbone.packing)
            inputs = packing.encoder_inputs(embeds, segments)
        reading = nullcontext()
        if self.mask_only and not every_row:  # only the mask rows of the last layer are computed (read no others)
            count = batch["choice_tokens"].size(1) if "choice_tokens" in batch else self.mask_count
            masks = batch["mask_positions"][:, None] + torch.arange(count, device=embeds.device)  # (B, M)
            masks = masks.clamp(max=embeds.size(1) - 1)  # a shorter choice's masks end before the row does
            reading = mask_only.at_mask(self.encoder, masks if packing is None else packing.positions(masks))
        with reading:
            out = self.encoder(**inputs, **self.mode.encoder_kwargs(self, batch))
        return out.last_hidden_state if packing is None else packing.unpack(out.last_hidden_state)

    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def total_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
