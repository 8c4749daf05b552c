"""How closely a qlora run's ONNX export (fp32 and INT8) follows the run: the numbers in docs/export.md.

Trains two bert-tiny ``qlora`` runs on SST-2 (16 shots, 20 steps; label words, and ``readout=cls``), exports
each as fp32 and as INT8, and prints, on the first 200 test texts, the largest difference of the exported
probabilities from ``api.load_run(R).predict_proba`` and the share of predicted labels they keep::

    PYTHONPATH=. OMP_NUM_THREADS=1 python3 scripts/qlora_onnx_check.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from promptlearn import RunConfig, api
from promptlearn.data.examples import load_task_data
from promptlearn.export.onnx_export import export_onnx
from promptlearn.export.predictor import OnnxPredictor

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main() -> None:
    test = load_task_data(str(SHARED / "data" / "sst2")).split("test")[:200]
    with tempfile.TemporaryDirectory() as scratch:
        for readout in ("cloze", "cls"):
            run_dir = Path(scratch) / readout
            config = RunConfig(
                model=str(SHARED / "models" / "bert-tiny"), data=str(SHARED / "data" / "sst2"),
                pattern="{text} It was [MASK] .", verbalizer={"positive": ["great"], "negative": ["terrible"]},
                mode="qlora", mode_options={"readout": readout}, shots=16, max_steps=20, eval_every=1000, batch_size=4,
            )  # fmt: skip
            api.train(config, run_dir)
            expected = api.load_run(run_dir).predict_proba(test)
            for quantize in ("none", "int8"):
                export_onnx(run_dir, Path(scratch) / f"{readout}-{quantize}", quantize)
                got = OnnxPredictor(Path(scratch) / f"{readout}-{quantize}", threads=1).predict_proba(test)
                kept = float((got.argmax(axis=1) == expected.argmax(axis=1)).mean())
                print(f"readout={readout} quantize={quantize}: max |onnx - torch| {np.abs(got - expected).max():.2g}, "
                      f"predicted labels kept {kept:.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
