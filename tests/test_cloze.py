import pytest
import torch

from promptlearn.model import PromptModel
from promptlearn.modes import get_mode
from tests.conftest import tiny_bert, tiny_distilbert

LABEL_WORDS = [[5, 7], [6, 8, 26]]  # great|good, terrible|bad|wonderful


@pytest.mark.parametrize("build", [tiny_bert, tiny_distilbert], ids=["bert", "distilbert"])
def test_label_word_scores_equal_the_full_vocabulary_logits(build):
    backbone = build().eval()
    model = PromptModel(backbone, get_mode("pet")(), LABEL_WORDS, num_labels=2).eval()
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
    assert "label_token_ids" not in names
    assert "label_token_ids" in dict(model.named_buffers())
