import pytest
import torch
from torch import nn

from promptlearn.errors import PromptlearnError
from promptlearn.model.prompt_model import PromptModel
from promptlearn.modes import get_mode
from promptlearn.modes.base import Mode
from promptlearn.readout import cloze
from tests.helpers.fixtures import tiny_albert, tiny_bert, tiny_distilbert, tiny_electra, tiny_modernbert, tiny_roberta

LABEL_WORDS = [[5, 7], [6, 8, 26]]  # great|good, terrible|bad|wonderful


@pytest.mark.parametrize(
    "build",
    [tiny_bert, tiny_distilbert, tiny_roberta, tiny_albert,
     tiny_electra, tiny_modernbert],
    ids=["bert", "distilbert", "roberta", "albert", "electra", "modernbert"],
)  # fmt: skip
def test_label_word_scores_equal_the_full_vocabulary_logits(build):
    backbone = build().eval()
    model = PromptModel(backbone, get_mode("pet")(), LABEL_WORDS, num_labels=2).eval()
    assert model._cloze.transform is not None, "known architectures take the label-words-only path"
    torch.manual_seed(0)
    input_ids = torch.randint(5, 40, (3, 9))
    mask_positions = torch.tensor([2, 5, 8])
    input_ids[torch.arange(3), mask_positions] = 4
    attention_mask = torch.ones_like(input_ids)
    attention_mask[0, 7:] = 0
    batch = {"input_ids": input_ids, "attention_mask": attention_mask, "mask_positions": mask_positions}
    with torch.no_grad():
        scores = model(batch)
        full = backbone(input_ids=input_ids, attention_mask=attention_mask).logits  # (B, T, V)
    at_mask = full[torch.arange(3), mask_positions]  # (B, V)
    expected = torch.stack([at_mask[:, words].mean(dim=1) for words in LABEL_WORDS], dim=1)
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-5)


def test_label_table_is_a_buffer_not_a_parameter():
    model = PromptModel(tiny_bert(), get_mode("pet")(), LABEL_WORDS, num_labels=2)
    names = {name for name, _ in model.named_parameters()}
    assert not any(name.startswith("label_words.") for name in names)
    assert "label_words.table" in dict(model.named_buffers())


class Doubled(nn.Module):
    """Stands in for a head module a mode wraps (as a LoRA would): the wrapped module's output, doubled."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * self.inner(x)


class WrapsHeadModule(Mode):
    """A mode whose attach replaces one head submodule of the backbone."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def attach(self, model) -> None:
        parent, _, name = self.path.rpartition(".")
        owner = model.backbone.get_submodule(parent)
        setattr(owner, name, Doubled(getattr(owner, name)))


@pytest.mark.parametrize(
    ("build", "path"),
    [(tiny_bert, "cls.predictions.transform"), (tiny_bert, "cls.predictions.transform.dense"),
     (tiny_bert, "cls.predictions.decoder"), (tiny_roberta, "lm_head.dense"),
     (tiny_distilbert, "vocab_transform"), (tiny_modernbert, "head.dense")],
)  # fmt: skip
def test_a_mode_that_wraps_a_head_module_is_scored_through_it(build, path):
    plain = PromptModel(build().eval(), get_mode("pet")(), LABEL_WORDS, num_labels=2).eval()
    backbone = build().eval()
    wrapped = PromptModel(backbone, WrapsHeadModule(path), LABEL_WORDS, num_labels=2).eval()
    input_ids = torch.randint(5, 40, (2, 7))
    input_ids[:, 3] = 4
    mask_positions = torch.tensor([3, 3])
    batch = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "mask_positions": mask_positions}
    with torch.no_grad():
        scores = wrapped(batch)
        full = backbone(input_ids=input_ids).logits[:, 3]  # (B, V), through the wrapper
    expected = torch.stack([full[:, words].mean(dim=1) for words in LABEL_WORDS], dim=1)
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        assert not torch.allclose(scores, plain(batch)), "the wrapper changes the scores"


def test_a_head_the_scorer_would_skip_is_refused_at_build(monkeypatch):
    """ModernBERT's decoder sits beside its head: scoring the decoder alone is wrong, and the probe says so."""
    monkeypatch.setattr(cloze, "find_transform", lambda backbone: None)  # as for an architecture we do not know
    with pytest.raises(PromptlearnError, match="does not know the masked-LM head of ModernBertForMaskedLM"):
        PromptModel(tiny_modernbert(), get_mode("pet")(), LABEL_WORDS, num_labels=2)
    # where the unknown head is one module holding the decoder, the full-vocabulary fallback is right
    model = PromptModel(tiny_bert(), get_mode("pet")(), LABEL_WORDS, num_labels=2)
    assert model._cloze.transform is None


def test_the_probe_leaves_the_training_flag_as_it_was():
    backbone = tiny_bert().train()
    PromptModel(backbone, get_mode("pet")(), LABEL_WORDS, num_labels=2)
    assert backbone.training
