import pytest
import torch

from promptlearn.errors import PromptlearnError
from promptlearn.readout.heads import ClassificationHead, pool


def test_cls_pooling_takes_the_first_position():
    hidden = torch.arange(24.0).reshape(2, 3, 4)
    assert torch.equal(pool(hidden, torch.ones(2, 3), "cls"), hidden[:, 0])


def test_mean_pooling_ignores_padding():
    hidden = torch.tensor([[[1.0], [3.0], [100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert pool(hidden, mask, "mean").item() == pytest.approx(2.0)


def test_head_maps_hidden_states_to_class_logits():
    head = ClassificationHead(hidden_size=4, num_labels=3, pooling="mean").eval()
    logits = head(torch.randn(2, 5, 4), torch.ones(2, 5, dtype=torch.long))
    assert logits.shape == (2, 3)
    assert torch.count_nonzero(head.linear.bias) == 0


def test_unknown_pooling_is_a_clear_error():
    with pytest.raises(PromptlearnError, match="--pooling must be one of cls, mean"):
        ClassificationHead(4, 2, pooling="max")
