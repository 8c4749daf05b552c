"""Which task shapes a feature, mode or command serves is declared by it and checked by one rule
(``promptlearn.run.feature.refuse_unserved``): every refusal the shapes' old tables and the features' own checks
made still happens, one message names every refused flag, and a feature registered later is refused on a shape
that serves it not, with no shape knowing of it."""

from __future__ import annotations

from typing import ClassVar

import pytest

from promptlearn.data.examples import load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.modes import MODES
from promptlearn.multitask import pipeline as multitask
from promptlearn.run import features, recipe
from promptlearn.run.feature import Feature, refuse_unserved
from promptlearn.run.pvp import build_pvp
from promptlearn.tasks import SHAPES, get_shape
from tests.helpers.fixtures import TINY_MULTI_LABEL_WORDS
from tests.helpers.modes import tiny_config

#: each feature as a run turns it on, the flag the message names, and the shapes it served before the rule moved
#: (written out here, not read from the features' declarations, so a declaration that drops a refusal fails)
USES = {
    "calibration": ({"calibrate": "content-free"}, "--calibrate", {"single"}),
    "demonstrations": ({"demonstrations": True}, "--demonstrations", {"single"}),
    "label search": ({"verbalizer_search": {}}, "--verbalizer auto (a label-word search)", {"single"}),
    "soft labels": ({"soft_labels": "soft.jsonl"}, "--soft-labels", {"single", "multi-label", "regression"}),
    "contrastive": ({"contrastive_weight": 0.5, "contrastive_views": "dropout"}, "--contrastive-weight", {"single"}),
    "adapet": ({"objective": "adapet"}, "--objective adapet", {"single"}),
}
REASONS = {
    "multi-label": "a multi-label example has any number of labels, not one distribution over them.",
    "regression": "a regression label is a score, not a class.",
    "multiple-choice": "an example's choices are its words and change with every example; there are no fixed classes.",
}


def config(**changes):
    return tiny_config("model", "data", "pet", **changes)


@pytest.mark.parametrize("shape", ["single", "multi-label", "regression", "multiple-choice"])
@pytest.mark.parametrize("feature", sorted(USES))
def test_every_feature_is_refused_on_each_shape_it_does_not_serve(feature, shape):
    changes, flag, served = USES[feature]
    run = config(**changes)
    if shape in served:
        run.check_shape(get_shape(shape))
        return
    message = f"{flag} cannot be used with --task-type {shape}: {REASONS[shape]} Leave it out."
    with pytest.raises(PromptlearnError) as refused:
        run.check_shape(get_shape(shape))
    assert str(refused.value) == message


def test_one_message_names_every_refused_flag():
    run = config(calibrate="content-free", demonstrations=True, objective="adapet")
    with pytest.raises(PromptlearnError) as refused:
        run.check_shape(get_shape("regression"))
    assert str(refused.value) == (
        "--calibrate, --demonstrations, --objective adapet cannot be used with --task-type regression: "
        "a regression label is a score, not a class. Leave them out."
    )


def test_the_rule_skips_what_is_unused_or_serves_every_shape_and_says_where():
    shape = get_shape("multi-label")
    refuse_unserved(shape, [(None, ("single",)), ("--everywhere", None), ("--both", ("single", "multi-label"))])
    with pytest.raises(PromptlearnError) as refused:
        refuse_unserved(shape, [("--tasks", ("single",))], " (task 'topics')")
    assert str(refused.value).startswith("--tasks cannot be used with --task-type multi-label (task 'topics'): a")


def test_soft_labels_of_a_shape_that_merges_probabilities_are_not_softened():
    softened = config(soft_labels="soft.jsonl", temperature=2.0)
    softened.check_shape(get_shape("single"))
    for shape in ("multi-label", "regression"):
        with pytest.raises(PromptlearnError, match=f"{shape} soft labels .* are learned as they are"):
            softened.check_shape(get_shape(shape))
    config(soft_labels="soft.jsonl").check_shape(get_shape("multi-label"))


def test_every_declared_shape_is_a_registered_one():
    declared = [feature.shapes for feature in features.FEATURES] + [mode.shapes for mode in MODES.values()]
    declared += [recipe.SHAPES, multitask.SHAPES]
    unknown = {name for shapes in declared if shapes is not None for name in shapes} - set(SHAPES)
    assert not unknown, f"declared shapes that are not registered: {unknown}"
    assert all(feature.used(config()) is None for feature in features.FEATURES)  # a default run uses none


class SingleLabelOnly(Feature):
    """A feature added after the shapes, which none of them names."""

    shapes: ClassVar = ("single",)

    def used(self, config):
        return "--toy"


def test_a_newly_registered_feature_is_refused_where_its_shapes_say(
    monkeypatch, tiny_bert_dir, tiny_task_dir, tiny_multi_label_dir
):
    monkeypatch.setattr(features, "FEATURES", [*features.FEATURES, SingleLabelOnly()])
    build_pvp(tiny_config(tiny_bert_dir, tiny_task_dir, "pet"), load_task_data(str(tiny_task_dir)))
    multi_label = tiny_config(tiny_bert_dir, tiny_multi_label_dir, "pet", verbalizer=TINY_MULTI_LABEL_WORDS)
    data = load_task_data(str(tiny_multi_label_dir))  # the shape is found in the data: no --task-type given
    with pytest.raises(PromptlearnError, match=r"^--toy cannot be used with --task-type multi-label: "):
        build_pvp(multi_label, data)
    with pytest.raises(PromptlearnError, match=r"^--mode setfit, --toy cannot be used with --task-type multi-label"):
        build_pvp(multi_label.replace(mode="setfit", verbalizer=None), data)
