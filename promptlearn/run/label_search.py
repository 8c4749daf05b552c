"""Label-word search as a run-level feature (``--verbalizer auto``): the run's label words are searched
on its own few-shot train and dev split before the model is built (:mod:`promptlearn.run.word_search`),
and ``metrics.json`` reports the choice under ``label_search``.

``verbalizer_search`` holds the search's options (:class:`~promptlearn.run.search_options.SearchOptions`,
arguments of :func:`~promptlearn.run.word_search.search_verbalizer`); None means no search.
"""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING, ClassVar

from promptlearn.data.examples import Example, TaskData
from promptlearn.run.feature import Feature, Fitting, RunSettings
from promptlearn.run.search_options import SearchOptions

if TYPE_CHECKING:
    import torch

    from promptlearn.run.word_search import SearchResult


def search_label_words(
    config: RunSettings, data: TaskData, train: list[Example], dev: list[Example], backbone: torch.nn.Module
) -> SearchResult:
    """Search label words for ``config``'s pattern on ``train``/``dev`` (:mod:`promptlearn.run.word_search`).

    Label order: ``config.verbalizer``'s when it has one (a preset), else the data's.
    """
    from promptlearn.run.pvp import build_pvp
    from promptlearn.run.word_search import search_verbalizer

    order = list(config.verbalizer) if config.verbalizer else data.labels
    _, pvp = build_pvp(config.replace(mode="pet", mode_options={}, verbalizer=None, labels=order), data)
    return search_verbalizer(backbone, pvp, train, dev, **(config.verbalizer_search or {}))


class LabelSearch(Feature):
    """``verbalizer_search``: replaces the run's verbalizer by the searched one before the model is built."""

    options: ClassVar = {"verbalizer_search": ("dict | None", field(default=None))}
    shapes: ClassVar = ("single",)  # it ranks words by how well they tell one class from the others

    def used(self, config: RunSettings) -> str | None:
        return None if config.verbalizer_search is None else "--verbalizer auto (a label-word search)"

    def check(self, config: RunSettings) -> None:
        if config.verbalizer_search is not None:
            SearchOptions.check(config.verbalizer_search)

    def prepare(self, fitting: Fitting) -> None:
        from promptlearn.backbone.loading import load_backbone

        config = fitting.config
        if config.verbalizer_search is None:
            return
        fitting.backbone = load_backbone(config.model)  # the run is built on it: loaded once
        searched = search_label_words(config, fitting.data, fitting.train, fitting.dev, fitting.backbone)
        verbalizer = searched.verbalizer
        fitting.config = config.replace(verbalizer=verbalizer.to_dict(), labels=verbalizer.labels)
        fitting.reports["label_search"] = searched.report()


FEATURE = LabelSearch()
