import pytest
import torch

from promptlearn.data.examples import Example, TaskData
from promptlearn.errors import PromptlearnError
from promptlearn.prompt.pattern import Pattern
from promptlearn.prompt.pvp import PVP
from promptlearn.prompt.verbalizer import Verbalizer
from tests.helpers.fixtures import tiny_tokenizer

SENTIMENT = Verbalizer.parse("positive=great|good,negative=terrible")


def make_pvp(pattern: str, max_length: int = 32, verbalizer: Verbalizer = SENTIMENT, tokenizer=None) -> PVP:
    return PVP(Pattern.parse(pattern), verbalizer, tokenizer or tiny_tokenizer(), max_length=max_length)


def test_encodes_pattern_with_mask_position_and_label():
    pvp = make_pvp("It was [MASK].")
    [encoded] = pvp.encode([Example("the movie was fun", label="negative")])
    assert pvp.tokens(encoded) == ["[CLS]", "the", "movie", "was", "fun", "it", "was", "[MASK]", ".", "[SEP]"]
    assert encoded.mask_position == 7
    assert encoded.label == 1
    assert pvp.label_token_ids == [[5, 7], [6]]


def test_truncation_cuts_only_input_slots_longest_first():
    pvp = make_pvp("{text_a} ? [MASK] , {text_b}", max_length=12, verbalizer=Verbalizer.parse("yes=yes,no=no"))
    long_a = "the movie was really very very fun"
    [encoded] = pvp.encode([Example(long_a, "the plot was fun", "yes")])
    tokens = pvp.tokens(encoded)
    assert len(tokens) == 12
    assert tokens == ["[CLS]", "the", "movie", "was", "?", "[MASK]", ",", "the", "plot", "was", "fun", "[SEP]"]
    assert tokens[encoded.mask_position] == "[MASK]"


def test_pattern_words_and_mask_survive_any_input_length():
    pvp = make_pvp("It was [MASK].", max_length=8)
    [encoded] = pvp.encode([Example("the movie " * 50, label="positive")])
    tokens = pvp.tokens(encoded)
    assert len(tokens) == 8
    assert tokens[-5:] == ["it", "was", "[MASK]", ".", "[SEP]"]


def test_pattern_longer_than_max_length_is_an_error():
    with pytest.raises(PromptlearnError, match="leaves no room for the input within --max-length 5"):
        make_pvp("It was a really very fun [MASK].", max_length=5)


def test_soft_tokens_get_positions():
    pvp = make_pvp("[SOFT:2] {text} It was [MASK].")
    [encoded] = pvp.encode([Example("fun", label="positive")])
    assert encoded.soft_positions == [1, 2]
    batch = pvp.collate([encoded, encoded])
    assert batch["soft_positions"].tolist() == [[1, 2], [1, 2]]


def test_collate_pads_dynamically():
    pvp = make_pvp("It was [MASK].")
    encoded = pvp.encode([Example("fun", label="positive"), Example("the movie was very fun", label="negative")])
    batch = pvp.collate(encoded)
    assert batch["input_ids"].shape == (2, 11)
    assert batch["attention_mask"].sum(1).tolist() == [7, 11]
    assert batch["mask_positions"].tolist() == [4, 8]
    assert batch["labels"].tolist() == [0, 1]


def test_collate_puts_every_row_in_place_with_its_segments_and_padding():
    pvp = make_pvp("{text} [SEP] It was [MASK].")
    texts = ["the movie was very fun", "fun", "it was a really very boring story"]
    encoded = pvp.encode([Example(t, label="positive") for t in texts])
    batch = pvp.collate(encoded)
    width = max(len(e.input_ids) for e in encoded)
    assert {t.dtype for t in batch.values()} == {torch.long}
    for row, e in enumerate(encoded):
        n, pad = len(e.input_ids), width - len(e.input_ids)
        assert batch["input_ids"][row].tolist() == e.input_ids + [pvp.tokenizer.pad_token_id] * pad
        assert batch["token_type_ids"][row].tolist() == e.token_type_ids + [0] * pad
        assert batch["attention_mask"][row].tolist() == [1] * n + [0] * pad
    assert 1 in batch["token_type_ids"][0].tolist()


def test_multi_token_words_expand_the_mask_to_the_longest_word():
    pvp = make_pvp("It was [MASK].", verbalizer=Verbalizer.parse("positive=unbelievable|great,negative=bad"))
    assert pvp.label_word_tokens == [[[35, 36, 37], [5]], [[8]]]
    assert pvp.mask_count == 3
    [encoded] = pvp.encode([Example("fun", label="negative")])
    assert pvp.tokens(encoded) == ["[CLS]", "fun", "it", "was", "[MASK]", "[MASK]", "[MASK]", ".", "[SEP]"]
    assert encoded.mask_position == 4
    with pytest.raises(PromptlearnError, match="needs single-token label words, but label 'positive'"):
        _ = pvp.label_token_ids


def test_masks_survive_truncation():
    pvp = make_pvp("It was [MASK].", max_length=10, verbalizer=Verbalizer.parse("positive=unbelievable,negative=bad"))
    [encoded] = pvp.encode([Example("the movie " * 20, label="positive")])
    assert pvp.tokens(encoded)[-6:] == ["was", "[MASK]", "[MASK]", "[MASK]", ".", "[SEP]"]


def test_unknown_label_word_is_an_error():
    with pytest.raises(PromptlearnError, match=r"'superb' .* is unknown to this tokenizer"):
        make_pvp("It was [MASK].", verbalizer=Verbalizer.parse("positive=superb,negative=bad"))


def test_text_b_on_single_sentence_data_is_an_error():
    pvp = make_pvp("{text_a} ? [MASK] , {text_b}", verbalizer=Verbalizer.parse("positive=yes,negative=no"))
    data = TaskData(splits={"train": []}, labels=["negative", "positive"], has_text_b=False, source="data/sst2")
    with pytest.raises(PromptlearnError, match=r"uses \{text_b\}, but data/sst2 is a single-sentence dataset"):
        pvp.check_data(data)


def test_pair_data_with_a_pattern_that_ignores_text_b_is_an_error():
    pvp = make_pvp("It was [MASK].")
    data = TaskData(splits={"train": []}, labels=["negative", "positive"], has_text_b=True, source="data/rte")
    with pytest.raises(PromptlearnError, match=r"sentence-pair dataset, but the pattern .* never uses \{text_b\}"):
        pvp.check_data(data)


def test_check_data_compares_verbalizer_labels():
    pvp = make_pvp("It was [MASK].")
    data = TaskData(splits={"train": []}, labels=["bad", "good"], source="x")
    with pytest.raises(PromptlearnError, match="do not match the dataset's labels"):
        pvp.check_data(data)


def bpe_tokenizer(words):
    """A tiny byte-level BPE (RoBERTa-style) tokenizer whose vocabulary holds exactly ``words``."""
    from transformers import RobertaTokenizer

    vocab = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", *sorted(set("".join(words)) | {"Ġ"})]
    merges = []
    for word in words:
        for end in range(2, len(word) + 1):
            if word[:end] not in vocab:
                vocab.append(word[:end])
                merges.append((word[: end - 1], word[end - 1]))
    return RobertaTokenizer(vocab={token: i for i, token in enumerate(vocab)}, merges=merges)


def test_bpe_label_words_take_the_leading_space_the_mask_has():
    tokenizer = bpe_tokenizer(["Ġgreat", "Ġterrible", "Ġit", "Ġwas", "great", "terrible", "it", "."])
    spaced = make_pvp("{text} it was [MASK].", verbalizer=Verbalizer.parse("p=great,n=terrible"), tokenizer=tokenizer)
    glued = make_pvp("{text} it was:[MASK].", verbalizer=Verbalizer.parse("p=great,n=terrible"), tokenizer=tokenizer)
    assert tokenizer.convert_ids_to_tokens([ids[0] for ids in spaced.label_token_ids]) == ["Ġgreat", "Ġterrible"]
    assert tokenizer.convert_ids_to_tokens([ids[0] for ids in glued.label_token_ids]) == ["great", "terrible"]
    [encoded] = spaced.encode([Example("great")])
    assert spaced.tokens(encoded) == ["<s>", "great", "Ġit", "Ġwas", "<mask>", ".", "</s>"]


def test_soft_targets_ride_along_into_the_batch():
    pvp = make_pvp("It was [MASK].")
    examples = [Example("fun", label="positive"), Example("boring")]
    batch = pvp.collate(pvp.encode(examples, soft_targets=[[0.75, 0.25], [0.5, 0.5]]))
    assert batch["soft_targets"].tolist() == [[0.75, 0.25], [0.5, 0.5]]
    assert "soft_targets" not in pvp.collate(pvp.encode(examples))
    with pytest.raises(PromptlearnError, match="one row of 2 probabilities per example"):
        pvp.encode(examples, soft_targets=[[1.0, 0.0]])


def test_bpe_multi_token_words_take_the_leading_space_on_their_first_piece_only():
    tokenizer = bpe_tokenizer(["Ġun", "believ", "able", "Ġbad", "Ġit", "Ġwas", "it", "."])
    pvp = make_pvp("{text} it was [MASK].", verbalizer=Verbalizer.parse("p=unbelievable,n=bad"), tokenizer=tokenizer)
    [unbelievable], [bad] = pvp.label_word_tokens
    assert tokenizer.convert_ids_to_tokens(unbelievable) == ["Ġun", "believ", "able"]
    assert tokenizer.convert_ids_to_tokens(bad) == ["Ġbad"]
    [encoded] = pvp.encode([Example("it")])
    assert pvp.tokens(encoded) == ["<s>", "it", "Ġit", "Ġwas", "<mask>", "<mask>", "<mask>", ".", "</s>"]
