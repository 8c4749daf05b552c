"""``pet``: train the whole masked LM through the cloze objective (Schick & Schütze, EACL 2021)."""

from __future__ import annotations

from promptlearn.modes.base import Mode, register


@register
class PetMode(Mode):
    name = "pet"
    description = "PET: the whole MLM trains on label-word scores at [MASK]"
    default_learning_rate = 1e-4

    def attach(self, model) -> None:
        model.backbone.requires_grad_(True)
