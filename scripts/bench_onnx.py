"""CPU latency of a pet run's predictions: PyTorch eager against ONNX fp32 and ONNX INT8, one example and 32.

Each timing is end to end, as ``predict`` pays it: text -> PVP ids -> model -> calibrated probabilities
(``Prompted.predict_proba`` against :class:`promptlearn.export.predictor.OnnxPredictor`), on SST-2 test
texts, the median over repeats after warm-up, torch and onnxruntime both on ``--threads`` threads. Two sizes:
the real bert-tiny, and bert-base with random weights (``AutoModelForMaskedLM.from_config`` of the
bert-base-uncased config in ../shared, as ``promptlearn bench --random-weights`` builds it): speed only.
Writes ``onnx_latency.json`` and ``onnx_latency.md`` into ``--output``::

    PYTHONPATH=. python3 scripts/bench_onnx.py --output bench-onnx --threads 1
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from promptlearn import RunConfig, api
from promptlearn.data.examples import load_task_data
from promptlearn.export.onnx_export import export_onnx
from promptlearn.export.predictor import OnnxPredictor

SHARED = Path(__file__).resolve().parents[2] / "shared"
SIZES = {
    "bert-tiny": SHARED / "models" / "bert-tiny",
    "bert-base (random)": SHARED / "models" / "tokenizers" / "bert-base-uncased",
}
#: repeats (single example, batch of 32) per size: bert-base is ~100x the work
REPEATS = {"bert-tiny": (200, 50), "bert-base (random)": (20, 5)}


def random_model(config_dir: Path, folder: Path) -> Path:
    """A bert-base-sized masked LM with random weights (seeded) and the real tokenizer, saved to ``folder``."""
    from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer

    torch.manual_seed(13)
    AutoModelForMaskedLM.from_config(AutoConfig.from_pretrained(config_dir)).save_pretrained(folder)
    AutoTokenizer.from_pretrained(config_dir).save_pretrained(folder)
    return folder


def median_ms(predict, examples, repeats: int) -> float:
    for _ in range(3):
        predict(examples)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict(examples)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def measure(name: str, model: Path, work: Path, texts: list, threads: int) -> list[dict]:
    config = RunConfig(
        model=str(model), data=str(SHARED / "data" / "sst2"), pattern="{text} It was [MASK] .", mode="pet",
        verbalizer={"positive": ["great"], "negative": ["terrible"]}, shots=8, max_steps=1, eval_every=1000,
        batch_size=4, eval_batch_size=32,
    )  # fmt: skip
    api.train(config, work / "run")
    export_onnx(work / "run", work / "fp32")
    export_onnx(work / "run", work / "int8", quantize="int8")
    predictors = {
        "PyTorch eager": api.load_run(work / "run").predict_proba,
        "ONNX fp32": OnnxPredictor(work / "fp32", threads=threads).predict_proba,
        "ONNX INT8": OnnxPredictor(work / "int8", threads=threads).predict_proba,
    }
    single, batch = REPEATS[name]
    rows = []
    for runtime, predict in predictors.items():
        rows.append({
            "model": name, "runtime": runtime,
            "single_ms": round(median_ms(predict, texts[:1], single), 2),
            "batch32_ms": round(median_ms(predict, texts[:32], batch), 2),
        })  # fmt: skip
    for row in rows:
        row["speedup_single"] = round(rows[0]["single_ms"] / row["single_ms"], 2)
        row["speedup_batch32"] = round(rows[0]["batch32_ms"] / row["batch32_ms"], 2)
    sizes = {
        "fp32": (work / "fp32" / "model.onnx").stat().st_size,
        "int8": (work / "int8" / "model.onnx").stat().st_size,
    }
    rows[1]["graph_mb"], rows[2]["graph_mb"] = (round(sizes[k] / 2**20, 1) for k in ("fp32", "int8"))
    return rows


def markdown(rows: list[dict], machine: dict) -> str:
    lines = [
        f"Machine: {machine['processor']}, {machine['threads']} thread(s), torch {machine['torch']}, "
        f"onnxruntime {machine['onnxruntime']}. Median milliseconds per call, encoding included.",
        "",
        "| model | runtime | 1 example (ms) | speed-up | 32 examples (ms) | speed-up | graph (MB) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['runtime']} | {r['single_ms']} | {r['speedup_single']}x | {r['batch32_ms']} "
            f"| {r['speedup_batch32']}x | {r.get('graph_mb', '')} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("bench-onnx"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", default=",".join(SIZES), help="Comma-separated, of: " + ", ".join(SIZES))
    args = parser.parse_args()
    import onnxruntime

    torch.set_num_threads(args.threads)
    texts = load_task_data(str(SHARED / "data" / "sst2")).split("test")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.sizes.split(","):
            work = Path(scratch) / name.split()[0]
            model = SIZES[name] if name == "bert-tiny" else random_model(SIZES[name], work / "model")
            rows += measure(name, model, work, texts, args.threads)
    machine = {
        "processor": platform.processor() or platform.machine(), "threads": args.threads,
        "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
    }  # fmt: skip
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "onnx_latency.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    (args.output / "onnx_latency.md").write_text(markdown(rows, machine))
    print(markdown(rows, machine))


if __name__ == "__main__":
    main()
