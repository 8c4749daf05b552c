"""Multi-token label words: scores against a hand computation from the model's full-vocabulary logits."""

import pytest
import torch

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.model.prompt_model import PromptModel
from promptlearn.modes import MODES, get_mode
from tests.helpers.fixtures import tiny_bert, tiny_roberta
from tests.helpers.marks import first_fast
from tests.helpers.modes import contract_options, declared_names, tiny_config

MASK = 4
# label 0: "great" (1 token) and "unbeliev" (2 tokens); label 1: "unbelievable" (3 tokens)
WORDS = [[[5], [35, 36]], [[35, 36, 37]]]


def masked_batch(first: list[int], length: int = 10) -> dict[str, torch.Tensor]:
    """Random tokens with 3 consecutive masks from each row's ``first`` position; row 0 padded at the end."""
    torch.manual_seed(1)
    first = torch.tensor(first)
    input_ids = torch.randint(5, 40, (len(first), length))
    rows = torch.arange(len(first))
    for m in range(3):
        input_ids[rows, first + m] = MASK
    attention_mask = torch.ones_like(input_ids)
    attention_mask[0, -1] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask, "mask_positions": first}


def log_probs(backbone, input_ids, attention_mask) -> torch.Tensor:
    """The model's own log-probabilities (B, T, V), full vocabulary."""
    return torch.log_softmax(backbone(input_ids=input_ids, attention_mask=attention_mask).logits, dim=-1)


@pytest.mark.parametrize("build", [tiny_bert, tiny_roberta], ids=["bert", "roberta"])
def test_one_pass_scores_are_mean_token_log_probs_at_their_masks(build):
    backbone = build().eval()
    model = PromptModel(backbone, get_mode("pet")(), WORDS, num_labels=2).eval()
    assert model.mask_count == 3
    batch = masked_batch([2, 5, 1])
    with torch.no_grad():
        scores = model(batch)
        lp = log_probs(backbone, batch["input_ids"], batch["attention_mask"])
    expected = torch.zeros(3, 2)
    for b, first in enumerate(batch["mask_positions"].tolist()):
        great = lp[b, first, 5]
        unbeliev = (lp[b, first, 35] + lp[b, first + 1, 36]) / 2
        unbelievable = (lp[b, first, 35] + lp[b, first + 1, 36] + lp[b, first + 2, 37]) / 3
        expected[b] = torch.stack([(great + unbeliev) / 2, unbelievable])
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-5)


def test_exact_decoding_fills_the_masks_left_to_right():
    backbone = tiny_bert().eval()
    model = PromptModel(backbone, get_mode("pet")(), WORDS, num_labels=2).eval()
    model.decoding = "exact"
    batch = masked_batch([2, 5])
    ids, attention = batch["input_ids"], batch["attention_mask"]
    with torch.no_grad():
        scores = model(batch)
        opening = log_probs(backbone, ids, attention)
        expected = torch.zeros(2, 2)
        for b, first in enumerate(batch["mask_positions"].tolist()):
            filled = ids[b : b + 1].clone()
            filled[0, first] = 35  # "un" written into the first mask
            after_un = log_probs(backbone, filled, attention[b : b + 1])[0, first + 1]
            filled[0, first + 1] = 36  # then "##believ" into the second
            after_unbeliev = log_probs(backbone, filled, attention[b : b + 1])[0, first + 2]
            great = opening[b, first, 5]
            unbeliev = (opening[b, first, 35] + after_un[36]) / 2
            unbelievable = (opening[b, first, 35] + after_un[36] + after_unbeliev[37]) / 3
            expected[b] = torch.stack([(great + unbeliev) / 2, unbelievable])
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        model.decoding = "one-pass"
        assert not torch.allclose(model(batch), scores), "filling the masks changes the later tokens' scores"


def test_sum_word_score_adds_the_token_log_probs_in_training_and_evaluation():
    """PET's aggregation: a word's score is the sum of its tokens' log-probabilities (not their mean)."""
    backbone = tiny_bert().eval()
    model = PromptModel(backbone, get_mode("pet")(), WORDS, num_labels=2)
    model.word_score = "sum"
    batch = masked_batch([2, 5, 1])
    with torch.no_grad():
        lp = log_probs(backbone, batch["input_ids"], batch["attention_mask"])
        expected = torch.zeros(3, 2)
        for b, first in enumerate(batch["mask_positions"].tolist()):
            great = lp[b, first, 5]
            unbeliev = lp[b, first, 35] + lp[b, first + 1, 36]
            unbelievable = lp[b, first, 35] + lp[b, first + 1, 36] + lp[b, first + 2, 37]
            expected[b] = torch.stack([(great + unbeliev) / 2, unbelievable])
        model.train()
        model.backbone.eval()  # no dropout: the training path, deterministic
        torch.testing.assert_close(model(batch), expected, rtol=1e-5, atol=1e-5)


def decode_by_hand(backbone, batch, words, order: str, word_score: str, own: bool) -> tuple[torch.Tensor, bool]:
    """PET's decoding, one example and one word at a time: the masks a word lacks are deleted from the
    row (own mask count), then each step fills one mask (left to right, or the one whose token is
    likeliest). Returns class scores (B, C) and whether any step chose other than left to right."""
    count = max(len(w) for label in words for w in label)
    scores = torch.zeros(len(batch["input_ids"]), len(words))
    reordered = False
    for b, first in enumerate(batch["mask_positions"].tolist()):
        for label, label_words in enumerate(words):
            total = 0.0
            for word in label_words:
                ids = batch["input_ids"][b].tolist()
                attention = batch["attention_mask"][b].tolist()
                keep = len(word) if own else count
                del ids[first + keep : first + count], attention[first + keep : first + count]
                open_masks = list(range(len(word)))
                pieces = []
                while open_masks:
                    lp = log_probs(backbone, torch.tensor([ids]), torch.tensor([attention]))[0]
                    if order == "one-pass":
                        pieces += [lp[first + m, word[m]].item() for m in open_masks]
                        break
                    likeliest = max(open_masks, key=lambda m: lp[first + m, word[m]].item())
                    m = open_masks[0] if order == "exact" else likeliest
                    reordered |= m != open_masks[0]
                    pieces.append(lp[first + m, word[m]].item())
                    ids[first + m] = word[m]
                    open_masks.remove(m)
                total += sum(pieces) / (len(word) if word_score == "mean" else 1)
            scores[b, label] = total / len(label_words)
    return scores, reordered


@pytest.mark.parametrize(
    ("order", "word_score", "own"),
    [
        ("exact", "mean", False),
        ("confident", "mean", False),
        ("one-pass", "sum", True),
        ("confident", "sum", True),  # PET's own choice
    ],
)
def test_decoders_match_a_hand_run_of_pets_decoding(order, word_score, own):
    backbone = tiny_bert().eval()
    model = PromptModel(backbone, get_mode("pet")(), WORDS, num_labels=2).eval()
    model.decoding, model.word_score, model.word_masks = order, word_score, "own" if own else "longest"
    batch = masked_batch([2, 5, 1])
    with torch.no_grad():
        scores = model(batch)
        expected, reordered = decode_by_hand(backbone, batch, WORDS, order, word_score, own)
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-5)
    if order == "confident":
        assert reordered, "every choice was left to right: this input cannot tell the two orders apart"
    with torch.no_grad():
        model.decoding, model.word_score, model.word_masks = "one-pass", "mean", "longest"
        assert not torch.allclose(model(batch), scores), "the variant must change the scores here"


def test_own_mask_count_moves_soft_tokens_and_segments_with_the_text():
    from promptlearn.readout.label_words import with_masks

    batch = {
        "input_ids": torch.tensor([[1, MASK, MASK, MASK, 9, 8, 2], [1, 7, MASK, MASK, MASK, 2, 0]]),
        "attention_mask": torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 0]]),
        "token_type_ids": torch.tensor([[0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0]]),
        "mask_positions": torch.tensor([1, 2]),
        "soft_positions": torch.tensor([[5], [1]]),
    }
    cut = with_masks(batch, count=3, keep=1)
    assert cut["input_ids"][:, :5].tolist() == [[1, MASK, 9, 8, 2], [1, 7, MASK, 2, 0]]
    assert cut["attention_mask"].tolist() == [[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0, 0]]
    assert cut["token_type_ids"][0, :5].tolist() == [0, 0, 1, 1, 1]
    assert cut["soft_positions"].tolist() == [[3], [1]]  # after the masks: moved; before: kept


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"word_score": "max"}, "--word-score must be one of mean, sum, got 'max'"),
        ({"word_masks": "shortest"}, "--word-masks must be one of longest, own, got 'shortest'"),
        ({"decoding": "greedy"}, "--decoding must be one of one-pass, exact, confident, got 'greedy'"),
    ],
)
def test_scoring_options_are_checked(change, message, tiny_bert_dir, tiny_task_dir):
    with pytest.raises(PromptlearnError, match=message):
        tiny_config(tiny_bert_dir, tiny_task_dir, "pet", **change)


def test_exact_decoding_is_for_evaluation_only():
    model = PromptModel(tiny_bert(), get_mode("pet")(), WORDS, num_labels=2).eval()
    batch = masked_batch([2, 5])
    with torch.no_grad():
        one_pass = model(batch)
        model.decoding = "exact"
        model.train()
        model.backbone.eval()  # no dropout, so that only the decoding could differ
        torch.testing.assert_close(model(batch), one_pass)


def test_single_token_words_keep_their_logits():
    """With one mask, a word's score is its logit (log-probability plus a per-example constant)."""
    backbone = tiny_bert().eval()
    model = PromptModel(backbone, get_mode("pet")(), [[[5], [7]], [[6]]], num_labels=2).eval()
    batch = masked_batch([2, 5])
    with torch.no_grad():
        scores = model(batch)
        logits = backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    at_mask = logits[torch.arange(2), batch["mask_positions"]]
    expected = torch.stack([(at_mask[:, 5] + at_mask[:, 7]) / 2, at_mask[:, 6]], dim=1)
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", first_fast(sorted(MODES)))
def test_cloze_modes_train_exactly_their_parameters_with_longer_words(mode, tiny_bert_dir, tiny_task_dir, tmp_path):
    """The contract (tests/modes/test_modes_contract.py) with words of 1, 2 and 3 tokens at 3 masks."""
    data = load_task_data(str(tiny_task_dir))
    options = contract_options(mode, tiny_bert_dir, tmp_path)
    words = {"positive": ["great", "unbeliev"], "negative": ["unbelievable"]}
    run = api.build(tiny_config(tiny_bert_dir, tiny_task_dir, mode, verbalizer=words, mode_options=options), data)
    if run.model.label_words is None:
        pytest.skip(f"{mode} reads a classification head, not label words")
    assert run.model.mask_count == 3
    declared = declared_names(run.model)
    before = {name: p.detach().clone() for name, p in run.model.named_parameters()}
    run.trainer.fit(run.pvp.encode(data.split("train")), [])
    changed = {name for name, p in run.model.named_parameters() if not torch.equal(p.detach(), before[name])}
    assert changed == declared, f"unchanged: {sorted(declared - changed)}; changed: {sorted(changed - declared)}"
