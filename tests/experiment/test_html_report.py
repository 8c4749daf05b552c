"""report.html: one self-contained page per grid, checked as HTML and as a real browser renders it."""

from __future__ import annotations

import base64
import dataclasses
import re

import numpy as np
import pytest
from PIL import Image

from promptlearn.experiment import Experiment
from promptlearn.experiment.aggregate import summarize
from promptlearn.experiment.html_report import report_html
from tests.helpers.browser import LAPTOP, PHONE, artifacts, render, visible_text
from tests.helpers.fewshot import experiment_values

#: a task name and labels that must be escaped (task names from YAML are checked; the builder must not rely on it)
TASK = 'toy<b>&"x'
LABELS = ["<pos>&", "neg"]
PROTOCOL = ["**Protocol**: `K` <per> label & seed.", "", "- model: `m<1>`", "- seeds: 13, 21"]
#: every run's test and dev predictions: the one that predicts the first label for everything
ONE_LABEL = f"{TASK}__pet__p0__k2__s13"


def grid(tiny_bert_dir, task_dir, tmp_path):
    """An experiment and its records, without training: zero-shot on two patterns, pet on two patterns x two
    seeds with a learning-rate search (seed 13 keeps the largest rate), one failed run, a collapsed pattern."""
    experiment = Experiment.from_dict(experiment_values(tiny_bert_dir, task_dir, tmp_path / "out"))
    experiment = dataclasses.replace(experiment, tasks=[dataclasses.replace(experiment.tasks[0], name=TASK)])

    def run(mode, pattern, seed, accuracy, share=0.5, shots=2, **extra):
        return {
            "run_id": f"{TASK}__{mode}__p{pattern}" + ("" if shots is None else f"__k{shots}__s{seed}"),
            "task": TASK, "mode": mode, "pattern_id": pattern, "shots": shots, "seed": seed, "status": "ok",
            "labels": LABELS, "dev": None if shots is None else {"accuracy": 0.75, "macro_f1": 0.7},
            "test": {"accuracy": accuracy, "macro_f1": accuracy - 0.1, "top_class_share": share,
                     "majority_accuracy": 0.5},
            "test_examples": 6, "trainable_parameters": None if shots is None else 4_386, "wall_seconds": 1.5,
        } | extra  # fmt: skip

    def search(kept):
        return [{"learning_rate": lr, "dev": {"accuracy": 1.0 if lr == kept else 0.5, "macro_f1": 0.5}}
                for lr in (1e-5, 1e-4, 1e-3)]  # fmt: skip

    records = [
        run("zero-shot", 0, None, 0.5, shots=None),
        run("zero-shot", 1, None, 0.6, share=0.95, shots=None),
        run("pet", 0, 13, 0.5, share=1.0, search=search(1e-3)),
        run("pet", 0, 21, 0.9, search=search(1e-4)),
        run("pet", 1, 13, 0.8, search=search(1e-4)),
        run("pet", 1, 21, 0.0) | {"status": "failed", "error": "ValueError: <bad> & worse\nsecond line"},
    ]
    everything_first = (np.array([[0.9, 0.1], [0.8, 0.2]]), np.array([0, 1]))
    predictions = {ONE_LABEL: {"test": everything_first, "dev": everything_first}}
    return experiment, records, predictions.get


def page_of(tiny_bert_dir, task_dir, tmp_path) -> str:
    experiment, records, predictions = grid(tiny_bert_dir, task_dir, tmp_path)
    return report_html(experiment, summarize(records), records, "promptlearn fewshot <cmd>", PROTOCOL, predictions)


def test_page_escapes_names_has_every_section_and_nothing_from_the_network(tiny_bert_dir, task_dir, tmp_path):
    page = page_of(tiny_bert_dir, task_dir, tmp_path)
    assert page == page_of(tiny_bert_dir, task_dir, tmp_path)  # the same results give the same bytes

    assert TASK not in page and "<pos>" not in page and "<bad>" not in page and "<cmd>" not in page
    assert "<h2>toy&lt;b&gt;&amp;&quot;x</h2>" in page and 'id="task-toy_b___x"' in page
    assert "promptlearn fewshot &lt;cmd&gt;" in page
    # the protocol's markdown: bold and code become tags, the rest is escaped
    assert "<strong>Protocol</strong>: <code>K</code> &lt;per&gt; label &amp; seed." in page
    assert "<ul><li>model: <code>m&lt;1&gt;</code></li><li>seeds: 13, 21</li></ul>" in page
    for section in ('id="warnings"', "<summary>Protocol</summary>", 'id="task-', "Chosen on dev", 'id="failed"'):
        assert page.count(section) == 1, section

    warnings = re.search(r'<section id="warnings".*?</section>', page, re.S).group(0)
    assert "zero-shot, K=0, pattern 1: 95% of test predictions go to one class" in warnings
    one_label = "pet, K=2, pattern 0: seed 13 predicts &#x27;&lt;pos&gt;&amp;&#x27; for every test and dev example"
    assert one_label in warnings
    assert "seed 13 kept learning_rate=0.001, the largest value searched (1e-05, 0.0001, 0.001)" in warnings
    assert warnings.count("value searched") == 1  # pattern 1's and seed 21's 0.0001 lie inside the grid
    assert "1 run failed" in warnings

    # summary.md's table plus the runs' spread; the failed run listed with its error's first line
    assert '<tr><td class="text">pet</td><td class="text">2</td><td class="text">0</td><td>70.0 (20.0)</td>' \
           "<td>50.0–90.0</td>" in page  # fmt: skip
    assert '<td class="seconds">1.5</td>' in page and '<tr class="collapsed">' in page
    assert "ValueError: &lt;bad&gt; &amp; worse</td>" in page and "second line" not in page

    # self-contained: no script, no link, no reference to the network, the two plots inline
    assert "<script" not in page and "<link" not in page and not re.search(r"https?://", page)
    svgs = [base64.b64decode(data).decode() for data in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page)]
    assert len(svgs) == 2 and all(svg.lstrip().startswith("<?xml") and "<svg" in svg for svg in svgs)
    assert not any(re.search(r'href="(?!#)', svg) for svg in svgs)  # links inside an SVG point into itself
    assert not any(re.search(r"<dc:date>", svg) for svg in svgs)


@pytest.mark.slow
def test_chromium_renders_the_page_at_laptop_and_phone_width(tiny_bert_dir, task_dir, tmp_path):
    folder = artifacts(tmp_path, "report-html")
    page = folder / "report.html"
    page.write_text(page_of(tiny_bert_dir, task_dir, tmp_path), encoding="utf-8")

    text = visible_text(render(page, tmp_path / "profile", dump_dom=True))
    assert text.startswith("Few-shot results: ")
    assert f"{TASK} Data " in text  # the escaped name reads as itself
    for shown in ("Warnings", "seed 13 predicts '<pos>&' for every test and dev example", "Chosen on dev",
                  "learning_rate=0.001", "Failed runs", "ValueError: <bad> & worse", "50.0–90.0"):  # fmt: skip
        assert shown in text, shown

    for name, size in (("laptop", LAPTOP), ("phone", PHONE)):
        shot = folder / f"report-{name}.png"
        render(page, tmp_path / "profile", screenshot=shot, size=size)
        with Image.open(shot) as image:
            assert image.size == size
            pixels = np.asarray(image.convert("L"), dtype=np.float64)
        dark = (pixels < 128).mean()  # text and plot lines on a white page: a few percent, never none or all
        assert 0.005 < dark < 0.5 and pixels.std() > 10, (name, dark, pixels.std())
