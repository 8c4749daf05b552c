import pytest

from promptlearn.errors import PromptlearnError
from promptlearn.prompt.pattern import Literal, Mask, Pattern, Sep, Slot, Soft


def test_parses_slots_mask_soft_and_literals():
    pattern = Pattern.parse("[SOFT:3] {text_a} ? [MASK] , [SEP] {text_b} [SOFT]")
    assert pattern.segments == (
        Soft(3), Literal(" "), Slot("text_a"), Literal(" ? "), Mask(), Literal(" , "), Sep(), Literal(" "),
        Slot("text_b"), Literal(" "), Soft(1),
    )  # fmt: skip
    assert pattern.fields == {"text_a", "text_b"}
    assert pattern.soft_count == 4


def test_text_is_an_alias_of_text_a():
    assert Pattern.parse("{text} It was [MASK].").segments[0] == Slot("text_a")


def test_pattern_without_input_slot_gets_the_input_in_front():
    pattern = Pattern.parse("It was [MASK].")
    assert pattern.segments == (Slot("text_a"), Literal(" "), Literal("It was "), Mask(), Literal("."))


def test_brackets_that_are_not_tokens_stay_literal():
    pattern = Pattern.parse("[ Category : [MASK] ] {text}")
    assert pattern.segments[:3] == (Literal("[ Category : "), Mask(), Literal(" ] "))


def test_with_leading_soft_prepends_soft_tokens():
    pattern = Pattern.parse("{text} It was [MASK].").with_leading_soft(5)
    assert pattern.segments[0] == Soft(5)
    assert pattern.soft_count == 5


@pytest.mark.parametrize(
    ("source", "column", "message"),
    [
        ("{text} It was good.", 20, "no [MASK]"),
        ("{text} [MASK] and [MASK]", 19, "more than one [MASK]"),
        ("{text} [MASK] {sentence}", 15, "unknown slot {sentence}"),
        ("{text} [MASK] [SOFT:0]", 15, "[SOFT:n] needs n >= 1"),
        ("{text} [MASK] [CLS]", 15, "unknown token [CLS]"),
        ("{text [MASK]", 1, "unbalanced brace"),
    ],
)
def test_errors_name_the_pattern_and_the_column(source, column, message):
    with pytest.raises(PromptlearnError) as err:
        Pattern.parse(source, origin="templates/x.yaml")
    text = str(err.value)
    assert message in text
    assert f"column {column}" in text
    assert source in text
    assert "templates/x.yaml" in text
