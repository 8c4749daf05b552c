#!/usr/bin/env bash
# The GPU table of docs/benchmarks.md: bert-base size (random weights), sequence length 128,
# batch 32 and 256, bf16 autocast, every registered mode eager and under torch.compile, against
# the naive full-vocabulary pipeline; plus evaluating SST-2's test set (1,821 sentences).
#
# Run from anywhere on a CUDA machine with ../shared next to the repository:
#   scripts/bench_gpu.sh                      # every mode, eager and compiled (most of an hour)
#   MODES="pet head" scripts/bench_gpu.sh     # a subset (each mode adds ~4 fresh processes)
# Writes docs/bench/gpu-<gpu>.json and .md; paste the .md into docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=${MODEL:-../shared/models/tokenizers/bert-base-uncased}
DATA=${DATA:-../shared/data/sst2/test.jsonl}
OUT=${OUT:-docs/bench}
GPU=$(python -c "import torch; print(torch.cuda.get_device_name().replace('NVIDIA ', '').split()[0].lower())")

mode_args=()
for mode in ${MODES:-}; do
  mode_args+=(--mode "$mode")
done

python cli.py bench --model "$MODEL" --random-weights \
  -b 32 -b 256 --seq-len 128 --precision bf16 --compile both \
  --steps 20 --warmup-steps 5 \
  --eval-data "$DATA" --eval-batch-size 64 \
  "${mode_args[@]}" \
  --json "$OUT/gpu-$GPU.json" --markdown "$OUT/gpu-$GPU.md"

# Multi-token label words against one-token words (pet, batch 32 and 256, 128 tokens): the table of
# docs/benchmarks.md's "Multi-token label words" section.
for batch in 32 256; do
  python scripts/bench_multi_token.py --model "$MODEL" --random-weights --batch-size "$batch" --seq-len 128 --steps 20 \
    | tee "$OUT/gpu-$GPU-multi-token-b$batch.md"
done
