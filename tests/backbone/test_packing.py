"""Unpadded training (--packed): a packed batch gives the padded batch's loss and gradients, or is refused."""

from __future__ import annotations

import pytest
import torch

from promptlearn import api
from promptlearn.backbone.packing import Packing
from promptlearn.data.examples import Example
from promptlearn.errors import PromptlearnError
from promptlearn.run.config import RunConfig

WORDS = {"positive": ["great"], "negative": ["terrible"]}
TEXTS = ["the movie was fun", "bad", "the plot is very very boring and the acting was awful", "loved it"]


def build(model_dir, mode: str = "pet", **changes):
    config = RunConfig(model=str(model_dir), data="-", pattern="{text} it was [MASK] .", verbalizer=WORDS,
                       labels=list(WORDS), mode=mode, max_steps=1, **changes)  # fmt: skip
    return api.build(config)


def loss_and_grads(run, batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    run.model.zero_grad(set_to_none=True)
    loss = run.trainer.objective.training_loss(run.model, batch)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in run.model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("mode", ["pet", "head", "soft_prompt", "lora"])
def test_a_packed_batch_gives_the_padded_loss_and_gradients(tiny_bert_dir, mode):
    padded, packed = build(tiny_bert_dir, mode), build(tiny_bert_dir, mode, packed=True)
    packed.model.load_state_dict(padded.model.state_dict())
    examples = [Example(t, label="positive" if i % 2 else "negative") for i, t in enumerate(TEXTS)]
    batch = padded.pvp.collate(padded.pvp.encode(examples))
    assert (batch["attention_mask"] == 0).any()  # the batch does carry padding
    # training mode for the packed path, dropout off so both draw nothing
    for run in (padded, packed):
        run.model.train()
        for module in run.model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    loss, grads = loss_and_grads(padded, batch)
    packed_loss, packed_grads = loss_and_grads(packed, batch)
    assert abs(loss.item() - packed_loss.item()) <= 1e-5
    assert grads.keys() == packed_grads.keys() and grads
    for name in grads:
        assert torch.allclose(grads[name], packed_grads[name], atol=1e-5, rtol=1e-4), name


def test_packing_layout_by_hand():
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    packing = Packing(mask)
    assert packing.position_ids.tolist() == [[0, 1, 2, 0, 1]]
    assert packing.attention_mask[0, 0].int().tolist() == [
        [1, 1, 1, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 0, 0], [0, 0, 0, 1, 1], [0, 0, 0, 1, 1],
    ]  # fmt: skip
    assert packing.positions(torch.tensor([[2], [1]])).tolist() == [[2, 4]]
    states = torch.arange(5.0)[None, :, None]  # (1, L, 1)
    assert packing.unpack(states)[..., 0].tolist() == [[0, 1, 2, 0], [3, 4, 0, 0]]


def test_packing_is_refused_for_a_mode_that_changes_attention(tiny_bert_dir):
    with pytest.raises(PromptlearnError, match="--packed cannot train mode 'ptuning_v2'"):
        build(tiny_bert_dir, "ptuning_v2", packed=True)


def test_packing_is_refused_for_an_encoder_whose_packed_row_differs(tiny_model_dir):
    # RoBERTa numbers positions from its padding index + 1, so position ids from 0 are not its positions
    with pytest.raises(PromptlearnError, match="--packed cannot train this RobertaModel: its packed states differ"):
        build(tiny_model_dir("roberta"), packed=True)


def test_packing_works_on_distilbert(tiny_distilbert_dir):
    assert build(tiny_distilbert_dir, packed=True).model.packed
