"""What ``promptlearn modes`` shows: each mode's default learning rates and, for a model, its parameter counts."""

from __future__ import annotations

import copy

from promptlearn.errors import PromptlearnError
from promptlearn.modes import MODES, Mode, get_mode


def default_learning_rates(mode_class: type[Mode]) -> str:
    """``group=lr`` per parameter group with default options, e.g. ``encoder=0.001, model=1e-05``."""
    try:
        rates = mode_class.from_options({}).group_learning_rates()
    except PromptlearnError:
        return "(needs options)"
    return ", ".join(f"{group}={rate:g}" for group, rate in rates.items())


def count_parameters(model_name: str) -> dict[str, tuple[int, int] | tuple[str, str]]:
    """(trainable, total) parameters of every mode with default options on ``model_name`` and 2 labels.

    Modes that cannot be built with default options (they need a file, say) get ``("-", "-")``.
    """
    from promptlearn.backbone.loading import load_backbone, load_tokenizer
    from promptlearn.model.prompt_model import PromptModel
    from promptlearn.prompt.pattern import Pattern

    tokenizer = load_tokenizer(model_name)
    backbone = load_backbone(model_name)
    word = tokenizer.mask_token_id
    counts = {}
    for name, mode_class in MODES.items():
        try:
            mode = mode_class.from_options({})
            mode.adapt_pattern(Pattern.parse("[MASK]"))
            # a copy each: some modes change the backbone in place (LoRA layers, adapter hooks)
            model = PromptModel(copy.deepcopy(backbone), mode, [[word], [word]], 2, tokenizer)
        except PromptlearnError:
            counts[name] = ("-", "-")
            continue
        counts[name] = (model.trainable_parameters(), model.total_parameters())
    return counts


def describe_mode(name: str) -> str:
    """A mode's description, default learning rates and options (name, type, default) with their meaning."""
    from promptlearn.modes.options import option_fields

    mode_class = get_mode(name)
    lines = [f"{name}: {mode_class.description}", f"default learning rates: {default_learning_rates(mode_class)}"]
    fields = option_fields(mode_class)
    if not fields:
        return "\n".join([*lines, "options: none"])
    lines.append("options (--mode-opt key=value):")
    lines += [f"  {key} ({kind}, default {default!r}): {text}" for key, kind, default, text in fields]
    doc = " ".join((mode_class.options_class.__doc__ or "").split())
    return "\n".join([*lines, "", doc]) if doc else "\n".join(lines)


def modes_table(model_name: str | None = None) -> list[str]:
    """One aligned line per mode (name, default learning rates, description), after a header line; with
    ``model_name``, each mode's trainable and total parameter counts on that model too."""
    counts = count_parameters(model_name) if model_name else {}
    rows = [("mode", "default lr", *(("trainable", "total") if model_name else ()), "description")]
    for name in sorted(MODES):
        rates = default_learning_rates(MODES[name])
        extra = tuple(f"{n:,}" if isinstance(n, int) else n for n in counts[name]) if model_name else ()
        rows.append((name, rates, *extra, MODES[name].description))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1] for row in rows
    ]
