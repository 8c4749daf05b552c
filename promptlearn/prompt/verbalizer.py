"""Verbalizer: each label name -> one or more label words. Knows nothing of models or tokenizers.

Written inline (``"positive=great|good,negative=terrible|bad"``) or as a YAML/JSON file keyed by
label name (``positive: [great, good]``). Keying by name means label order can never drift
silently; :meth:`Verbalizer.check_labels` compares the names with the dataset's labels.
When a label has several words, its score is the mean of its words' logits at ``[MASK]``
(PET's choice): every word counts equally, whatever the label's word count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from promptlearn.errors import PromptlearnError


@dataclass(frozen=True)
class Verbalizer:
    """Ordered mapping ``label -> words``; the order is the class order of the model's scores."""

    label_words: tuple[tuple[str, tuple[str, ...]], ...]

    @classmethod
    def from_dict(cls, mapping: dict, origin: str = "verbalizer") -> Verbalizer:
        """Build from ``{label: word | [words]}``; ``origin`` is named in error messages."""
        if not isinstance(mapping, dict) or not mapping:
            raise PromptlearnError(f"{origin}: expected a mapping 'label: [words]', got {mapping!r}")
        items = []
        for label, words in mapping.items():
            words = [words] if isinstance(words, str) else words
            if not isinstance(words, list) or not words or not all(isinstance(w, str) and w.strip() for w in words):
                raise PromptlearnError(f"{origin}: label {label!r} needs one or more non-empty words, got {words!r}")
            items.append((str(label), tuple(w.strip() for w in words)))
        _refuse_shared_words(items, origin)
        return cls(tuple(items))

    @classmethod
    def parse(cls, spec: str) -> Verbalizer:
        """Parse an inline spec ``label=word|word,label=word`` or load the YAML/JSON file it names."""
        path = Path(spec)
        if path.suffix.lower() in {".yaml", ".yml", ".json"}:
            return cls.from_file(path)
        mapping: dict[str, list[str]] = {}
        for part in spec.split(","):
            label, sep, words = part.partition("=")
            if not sep or not label.strip():
                raise PromptlearnError(
                    f"Bad verbalizer {spec!r}: {part!r} is not 'label=word'. "
                    "Write e.g. 'positive=great|good,negative=terrible', or pass a .yaml/.json file."
                )
            if label.strip() in mapping:
                raise PromptlearnError(f"Bad verbalizer {spec!r}: label {label.strip()!r} appears twice")
            mapping[label.strip()] = [w for w in words.split("|") if w.strip()]
        return cls.from_dict(mapping, origin=f"verbalizer {spec!r}")

    @classmethod
    def from_file(cls, path: str | Path) -> Verbalizer:
        """Load ``{label: [words]}`` from a YAML or JSON file."""
        path = Path(path)
        if not path.is_file():
            raise PromptlearnError(f"Verbalizer file {path} does not exist")
        text = path.read_text(encoding="utf-8")
        try:
            mapping = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as err:
            raise PromptlearnError(f"Verbalizer file {path} is not valid {path.suffix[1:].upper()}: {err}") from err
        return cls.from_dict(mapping, origin=str(path))

    @property
    def labels(self) -> list[str]:
        return [label for label, _ in self.label_words]

    def words(self, label: str) -> tuple[str, ...]:
        return dict(self.label_words)[label]

    def check_labels(self, dataset_labels: list[str]) -> None:
        """Raise unless the verbalizer's labels are exactly the dataset's labels."""
        mine, theirs = set(self.labels), set(dataset_labels)
        if mine == theirs:
            return
        details = []
        if theirs - mine:
            details.append(f"missing from the verbalizer: {sorted(theirs - mine)}")
        if mine - theirs:
            details.append(f"not in the dataset: {sorted(mine - theirs)}")
        raise PromptlearnError(
            f"The verbalizer's labels {sorted(mine)} do not match the dataset's labels {sorted(theirs)} "
            f"({'; '.join(details)}). Give every dataset label exactly one entry."
        )

    def to_dict(self) -> dict[str, list[str]]:
        return {label: list(words) for label, words in self.label_words}

    def __str__(self) -> str:
        return ",".join(f"{label}={'|'.join(words)}" for label, words in self.label_words)


def _refuse_shared_words(items: list[tuple[str, tuple[str, ...]]], origin: str) -> None:
    """A word that stands for two labels scores both the same: the classifier cannot tell them apart."""
    owners: dict[str, list[str]] = {}
    for label, words in items:
        for word in dict.fromkeys(words):
            owners.setdefault(word, []).append(label)
    shared = {word: labels for word, labels in owners.items() if len(labels) > 1}
    if shared:
        details = "; ".join(f"{word!r} for {', '.join(map(repr, labels))}" for word, labels in shared.items())
        raise PromptlearnError(
            f"{origin}: the same label word stands for several labels ({details}), so their scores would "
            "always tie. Give each label its own words."
        )
