"""Search label words on a few-shot split and write them as a verbalizer file, for ``--verbalizer`` (what
``promptlearn search-verbalizer`` does; a run's own search is the :mod:`~promptlearn.run.label_search` feature).
"""

from __future__ import annotations

from pathlib import Path

from promptlearn.errors import PromptlearnError
from promptlearn.run.config import RunConfig


def search_to_file(
    model: str, data: str, task: str | None, pattern: str | None, pattern_id: int | None, shots: int,
    run: dict, search: dict, output: Path, overwrite: bool,
) -> dict:  # fmt: skip
    """Search label words for the prompt of ``task`` / ``pattern`` / ``pattern_id`` on ``shots`` train examples per
    label (candidates) and as many dev examples (the choice), write them to ``output`` (.yaml, with a header
    saying how they were found) and return them with the search's report.

    ``run``: RunConfig fields (seed, max length, columns); ``search``: :class:`SearchOptions` fields. Reads only
    the train split (and the dev split when the protocol takes dev from it), never test.
    """
    import yaml

    from promptlearn.backbone.loading import load_backbone
    from promptlearn.data.examples import load_task_data
    from promptlearn.outputs import write_text_atomic
    from promptlearn.prompt.presets import resolve_prompt
    from promptlearn.run.label_search import search_label_words
    from promptlearn.run.pipeline import few_shot_split

    if output.exists() and not overwrite:
        raise PromptlearnError(f"{output} exists; pass --overwrite to replace it")
    pattern_text, words = resolve_prompt(task, pattern, pattern_id, None)
    config = RunConfig(
        model=model, data=data, pattern=pattern_text, verbalizer=words, task=task, pattern_id=pattern_id, shots=shots,
        **run, verbalizer_search=search,
    )  # fmt: skip
    task_data = load_task_data(data, config.columns())
    train_examples, dev_examples = few_shot_split(config, task_data)
    result = search_label_words(config, task_data, train_examples, dev_examples, load_backbone(model))
    header = (
        f"# Label words searched by promptlearn search-verbalizer on {data} (K={shots}, seed {config.seed},\n"
        f"# {len(train_examples)} train / {len(dev_examples)} dev examples), pattern {pattern_text!r}.\n"
        f"# Zero-shot dev accuracy {result.dev_accuracy:.4f}, train accuracy {result.train_accuracy:.4f}.\n"
    )
    write_text_atomic(output, header + yaml.safe_dump(result.verbalizer.to_dict(), allow_unicode=True, sort_keys=False))
    return {"verbalizer": result.verbalizer.to_dict(), **result.report()}
