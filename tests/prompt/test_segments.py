"""Sentence pairs: tokens after the pattern's [SEP] are segment 1, and the encoder sees it (BERT-style models)."""

from __future__ import annotations

import pytest
import torch

from promptlearn.data.examples import Example
from promptlearn.model.prompt_model import PromptModel
from promptlearn.modes import get_mode
from promptlearn.prompt.pattern import Pattern
from promptlearn.prompt.pvp import PVP
from promptlearn.prompt.verbalizer import Verbalizer
from tests.helpers.fixtures import VOCAB, tiny_albert, tiny_bert, tiny_distilbert, tiny_electra, tiny_tokenizer

YES_NO = Verbalizer.parse("yes=yes,no=no")
PAIR = Example("the movie was fun", "the plot was boring", "no")


def pair_pvp(pattern: str, tokenizer=None) -> PVP:
    return PVP(Pattern.parse(pattern), YES_NO, tokenizer or tiny_tokenizer(), max_length=32)


@pytest.mark.parametrize("real", [False, True], ids=["tiny", "bert-tiny"])
def test_segments_equal_the_tokenizers_own_pair_encoding(real, request):
    if real:
        from promptlearn.backbone.loading import load_tokenizer

        tokenizer = load_tokenizer(str(request.getfixturevalue("bert_tiny_dir")))
    else:
        tokenizer = tiny_tokenizer()
    [encoded] = pair_pvp("{text_a} ? [SEP] [MASK] , {text_b}", tokenizer).encode([PAIR])
    expected = tokenizer("the movie was fun ?", "[MASK] , the plot was boring")
    assert encoded.input_ids == expected["input_ids"]
    assert encoded.token_type_ids == expected["token_type_ids"]
    assert set(encoded.token_type_ids) == {0, 1}


def test_without_sep_everything_is_segment_zero_and_collate_pads_with_zeros():
    pvp = pair_pvp("{text_a} ? [MASK] , {text_b}")
    assert all(set(e.token_type_ids) == {0} for e in pvp.encode([Example("fun", "boring", "no"), PAIR]))
    sep = pair_pvp("{text_a} [SEP] {text_b} [MASK]")
    batch = sep.collate(sep.encode([Example("fun", "boring", "no"), PAIR]))
    types = batch["token_type_ids"]  # (B, T)
    assert types.shape == batch["input_ids"].shape
    assert types[0][batch["attention_mask"][0] == 0].eq(0).all(), "padding is segment 0"
    assert types[0, -1] == 0 and types[1, -1] == 1


def test_soft_tokens_take_the_segment_of_where_they_sit():
    [encoded] = pair_pvp("[SOFT:2] {text_a} [SEP] [SOFT:3] {text_b} [MASK]").encode([PAIR])
    segments = [encoded.token_type_ids[p] for p in encoded.soft_positions]
    assert segments == [0, 0, 1, 1, 1]
    leading = pair_pvp("{text_a} [SEP] {text_b} [MASK]")
    pattern = get_mode("soft_prompt")().adapt_pattern(leading.pattern)
    [encoded] = PVP(pattern, YES_NO, tiny_tokenizer(), max_length=48).encode([PAIR])
    assert {encoded.token_type_ids[p] for p in encoded.soft_positions} == {0}
    assert encoded.token_type_ids[encoded.mask_position] == 1


def pair_batch(pvp: PVP) -> dict[str, torch.Tensor]:
    return pvp.collate(pvp.encode([PAIR, Example("it was fun", "the acting was awful", "yes")]))


@pytest.mark.parametrize("mode", ["pet", "soft_prompt", "ptuning", "ptuning_v2"])
def test_bert_scores_equal_the_backbone_given_the_pair_encoding(mode):
    backbone = tiny_bert(initializer_range=0.2).eval()
    instance = get_mode(mode)()
    pattern = instance.adapt_pattern(Pattern.parse("{text_a} ? [SEP] [MASK] , {text_b}"))
    pvp = PVP(pattern, YES_NO, tiny_tokenizer(), max_length=48)
    model = PromptModel(backbone, instance, pvp.label_token_ids, 2, tiny_tokenizer()).eval()
    batch = pair_batch(pvp)
    without = {k: v for k, v in batch.items() if k != "token_type_ids"}
    with torch.no_grad():
        scores, unsegmented = model(batch), model(without)
    assert not torch.allclose(scores, unsegmented), "segment ids must reach the encoder"
    if mode == "pet":
        full = backbone(**{k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}).logits
        at_mask = full[torch.arange(2), batch["mask_positions"]]  # (B, V)
        words = [ids[0] for ids in pvp.label_token_ids]
        torch.testing.assert_close(scores, at_mask[:, words], rtol=1e-5, atol=1e-5)


def roberta_one_type():
    """RoBERTa as released: ``type_vocab_size`` 1 (transformers' RobertaConfig defaults to 2)."""
    import transformers

    shape = dict(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, max_position_embeddings=64, pad_token_id=0, type_vocab_size=1)  # fmt: skip
    return transformers.RobertaForMaskedLM(transformers.RobertaConfig(**shape))


@pytest.mark.parametrize(
    ("build", "segments"),
    [(tiny_distilbert, False), (roberta_one_type, False), (tiny_albert, True),
     (tiny_electra, True)],
    ids=["distilbert", "roberta", "albert", "electra"],
)  # fmt: skip
def test_models_without_segments_get_none_and_others_use_them(build, segments):
    backbone = build().eval()
    pvp = pair_pvp("{text_a} [SEP] [MASK] {text_b}")
    model = PromptModel(backbone, get_mode("pet")(), pvp.label_token_ids, 2).eval()
    assert model.uses_segments is segments
    batch = pair_batch(pvp)
    with torch.no_grad():
        scores = model(batch)
        zeros = model({**batch, "token_type_ids": torch.zeros_like(batch["token_type_ids"])})
    assert torch.equal(scores, zeros) is not segments
