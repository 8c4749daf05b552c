import pytest
import torch

from promptlearn.model import PromptModel
from promptlearn.modes import get_mode
from tests.conftest import VOCAB, tiny_bert, tiny_distilbert

LABEL_WORDS = [[5, 7], [6, 8, 26]]  # great|good, terrible|bad|wonderful


def tiny_other(kind: str):
    """Tiny random RoBERTa / ALBERT / ELECTRA-generator masked LMs over the fixture vocabulary size."""
    import transformers

    torch.manual_seed(0)
    shape = dict(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, max_position_embeddings=64)  # fmt: skip
    if kind == "roberta":
        return transformers.RobertaForMaskedLM(transformers.RobertaConfig(**shape, pad_token_id=0))
    if kind == "albert":
        return transformers.AlbertForMaskedLM(transformers.AlbertConfig(**shape, embedding_size=16))
    return transformers.ElectraForMaskedLM(transformers.ElectraConfig(**shape, embedding_size=16))


@pytest.mark.parametrize(
    "build",
    [tiny_bert, tiny_distilbert, lambda: tiny_other("roberta"), lambda: tiny_other("albert"),
     lambda: tiny_other("electra")],
    ids=["bert", "distilbert", "roberta", "albert", "electra"],
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
    assert "label_token_ids" not in names
    assert "label_token_ids" in dict(model.named_buffers())
