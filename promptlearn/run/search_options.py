"""The label-word search's settings (``RunConfig.verbalizer_search``, ``promptlearn search-verbalizer``),
declared once and free of torch so that RunConfig checks them without loading the search
(:func:`promptlearn.run.word_search.search_verbalizer`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from promptlearn.errors import PromptlearnError

#: K per label that ``promptlearn search-verbalizer`` samples unless told (a run's ``shots`` has no default)
SEARCH_SHOTS = 16
#: the RunConfig options (besides ``shots``) that ``promptlearn search-verbalizer`` takes: the sample and the text
SEARCH_RUN_OPTIONS = ("seed", "max_length", "text_column", "text_b_column", "label_column")


@dataclass(frozen=True)
class SearchOptions:
    """How many candidates the search ranks per label and how many words it keeps per label."""

    top_k: int = field(default=100, metadata={"help": "Candidate words per label (LM-BFF's k)."})
    words_per_label: int = field(default=1, metadata={"help": "Words chosen per label."})

    @classmethod
    def check(cls, values: dict) -> None:
        """Refuse unknown keys and values that are not positive integers in a ``verbalizer_search`` dict."""
        known = [item.name for item in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise PromptlearnError(f"verbalizer_search: unknown keys {unknown}; known: {', '.join(known)}")
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PromptlearnError(f"verbalizer_search: {key} must be a positive integer, got {value!r}")
