"""PromptModel: mode hook -> MLM encoder -> hidden states -> class scores.

The backbone is any ``AutoModelForMaskedLM``. The mode (see :mod:`promptlearn.modes.base`) decides
what is embedded, what trains and how hidden states become class scores; the default readout
scores only the verbalizer's words, only at [MASK] (:mod:`promptlearn.cloze`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from promptlearn.cloze import ClozeScorer
from promptlearn.errors import PromptlearnError
from promptlearn.hub import check_local_model, require_hub
from promptlearn.modes.base import Mode


def load_tokenizer(name: str):
    """Tokenizer of a local folder or Hub id (fails fast, with a clear message, when offline)."""
    from transformers import AutoTokenizer

    return _from_pretrained(AutoTokenizer, name)


def load_backbone(name: str) -> nn.Module:
    """``AutoModelForMaskedLM`` from a local folder or Hub id."""
    from transformers import AutoModelForMaskedLM

    return _from_pretrained(AutoModelForMaskedLM, name)


def _from_pretrained(auto_class, name: str):
    if Path(name).is_dir():
        try:
            return auto_class.from_pretrained(name)
        except (OSError, ValueError) as err:
            raise PromptlearnError(f"Could not load {auto_class.__name__[4:]} from folder {name}: {err}") from err
    check_local_model(name)
    try:
        return auto_class.from_pretrained(name, local_files_only=True)
    except OSError:
        require_hub("model", name)
    try:
        return auto_class.from_pretrained(name)
    except OSError as err:
        raise PromptlearnError(f"Could not load model {name!r} from the Hugging Face Hub: {err}") from err


class PromptModel(nn.Module):
    """A masked LM, a mode and the verbalizer's token table.

    ``label_token_ids``: one list of vocabulary ids per class (several words per class allowed);
    a class's logit is the mean of its words' logits. Empty for modes with a classification head.
    ``tokenizer`` is the backbone's, for modes that initialise from words (e.g. soft prompts).
    After the mode attaches, exactly the parameters it declares (``mode.trained_parameters``) train.
    """

    def __init__(
        self,
        backbone: nn.Module,
        mode: Mode,
        label_token_ids: list[list[int]],
        num_labels: int,
        tokenizer=None,
    ):
        super().__init__()
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.num_labels = num_labels
        self.backbone.requires_grad_(False)
        flat = [token for words in label_token_ids for token in words]
        owner = [label for label, words in enumerate(label_token_ids) for _ in words]
        self.register_buffer("label_token_ids", torch.tensor(flat, dtype=torch.long), persistent=False)
        self.register_buffer("word_label", torch.tensor(owner, dtype=torch.long), persistent=False)
        counts = torch.bincount(self.word_label, minlength=num_labels).clamp(min=1)
        self.register_buffer("words_per_label", counts.float(), persistent=False)
        self._cloze = ClozeScorer(backbone) if flat else None
        self.mode = mode
        mode.attach(self)
        trained = [p for params in mode.trained_parameters(self).values() for p in params]
        self.requires_grad_(False)
        for param in trained:
            param.requires_grad_(True)

    @property
    def encoder(self) -> nn.Module:
        """The transformer without its MLM head (e.g. ``BertModel``)."""
        return self.backbone.base_model

    @property
    def word_embeddings(self) -> nn.Embedding:
        return self.backbone.get_input_embeddings()

    @property
    def hidden_size(self) -> int:
        return self.backbone.config.hidden_size

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Class logits (B, C) for a collated batch (see :meth:`promptlearn.pvp.PVP.collate`)."""
        embeds = self.mode.embed(self, batch)  # (B, T, H)
        out = self.encoder(
            inputs_embeds=embeds,
            attention_mask=batch["attention_mask"],
            **self.mode.encoder_kwargs(self, batch),
        )
        return self.mode.readout(self, out.last_hidden_state, batch)

    def cloze_logits(self, hidden: torch.Tensor, mask_positions: torch.Tensor) -> torch.Tensor:
        """Hidden states (B, T, H) and mask positions (B,) -> class logits (B, C) from the label words."""
        rows = torch.arange(hidden.size(0), device=hidden.device)
        word_logits = self._cloze(hidden[rows, mask_positions], self.label_token_ids)  # (B, W)
        summed = word_logits.new_zeros(hidden.size(0), self.num_labels)
        summed.index_add_(1, self.word_label, word_logits)
        return summed / self.words_per_label.to(summed.dtype)  # (B, C)

    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def total_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
