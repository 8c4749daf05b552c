"""Tiny regression and multiple-choice tasks over the fixture vocabulary (tests/helpers/fixtures.py)."""

from __future__ import annotations

#: similarity scores in [0, 5] of two short texts; the poles are "no" (0) and "yes" (5)
REGRESSION_TASK = {
    "train": [
        {"text": "the movie was great", "text_b": "the film was great", "label": 4.6},
        {"text": "the movie was great", "text_b": "the plot was awful", "label": 0.4},
        {"text": "the story is fun", "text_b": "the story is fun", "label": 5.0},
        {"text": "the acting was bad", "text_b": "the film was wonderful", "label": 0.8},
    ],
    "dev": [
        {"text": "the plot is fun", "text_b": "the plot was fun", "label": 4.2},
        {"text": "the film was boring", "text_b": "the movie was loved", "label": 1.5},
    ],
    "test": [
        {"text": "the acting was good", "text_b": "the acting was good", "label": 5.0},
        {"text": "the story was awful", "text_b": "the movie is fun", "label": 0.2},
        {"text": "it was great", "text_b": "it was good", "label": 3.9},
    ],
}
REGRESSION_WORDS = "0=no,5=yes"

#: a context and its choices (two or three; "unbelievable" is three word pieces), the label the right one's index
CHOICE_TASK = {
    "train": [
        {"text": "the movie was", "question": "effect", "choices": ["great", "terrible"], "label": 0},
        {"text": "the film was", "question": "effect", "choices": ["awful", "fun", "unbelievable"], "label": 2},
        {"text": "the plot is", "question": "cause", "choices": ["boring", "good"], "label": 1},
    ],
    "dev": [
        {"text": "the story was", "question": "effect", "choices": ["good", "bad"], "label": 0},
        {"text": "the acting is", "question": "cause", "choices": ["awful", "unbelievable", "fun"], "label": 1},
    ],
    "test": [
        {"text": "it was", "question": "effect", "choices": ["wonderful", "awful"], "label": 0},
        {"text": "the movie is", "question": "cause", "choices": ["bad", "great", "boring"], "label": 1},
    ],
}
CHOICE_PATTERN = "{text_a} {question} ? [MASK] ."

#: a multi-label task with an unlabelled pool for PET: at K = 1 (greedy, rarest label first) train and dev take
#: a few examples each, and the rest of the 12 train rows is the pool
PET_MULTI_LABEL_TASK = {
    "train": [
        {"text": f"{subject} {topics}", "labels": labels}
        for subject in ("the", "a")
        for topics, labels in (
            ("sports news", ["sports"]),
            ("world news", ["world"]),
            ("business news", ["business"]),
            ("sports and world", ["sports", "world"]),
            ("world business", ["world", "business"]),
            ("sports business", ["sports", "business"]),
        )
    ],
    "test": [
        {"text": "sports", "labels": ["sports"]},
        {"text": "world and business news", "labels": ["world", "business"]},
    ],
}

#: a regression task with an unlabelled pool for PET: at K = 1 per score bin train and dev take two examples each,
#: the rest of the 10 train rows is the pool
PET_REGRESSION_TASK = {
    "train": [
        {"text": f"the {a} was {x}", "text_b": f"the {b} was {y}", "label": score}
        for a, b in (("movie", "film"), ("plot", "story"))
        for x, y, score in (
            ("great", "great", 4.8),
            ("great", "good", 3.9),
            ("fun", "boring", 1.1),
            ("awful", "wonderful", 0.3),
            ("bad", "bad", 4.4),
        )
    ],
    "test": REGRESSION_TASK["test"],
}
