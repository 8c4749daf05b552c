#!/usr/bin/env bash
# The CPU tables of docs/benchmarks.md at real size (issue 28): bert-base and distilbert architectures with random
# weights (speed does not depend on them), pet and the frozen-backbone modes against the fair plain loop, the
# speed options, the thread default, and one profiled step. Every command logs `uptime` before and after.
#
#   scripts/bench_cpu_base.sh            # what docs/benchmarks.md shows (sized for a loaded 2-core machine)
#   FULL=1 scripts/bench_cpu_base.sh     # the issue's plan: batch 8 and 32, fastest of 3 round-robin runs (2 for
#                                        # the frozen modes), 1 warm-up + 3 timed steps (docs/benchmarks.md's tables)
#
# Outputs go to docs/bench/cpu-*-base*.{json,md}, docs/bench/cpu-*-speed-options.json and $LOGS (default
# /tmp/bench-cpu-base). Run from the repository root.
set -euo pipefail
export PYTHONPATH="$PWD" OMP_NUM_THREADS=1
LOGS=${LOGS:-/tmp/bench-cpu-base}
mkdir -p "$LOGS"
BASE=../shared/models/tokenizers/bert-base-uncased
DISTIL=../shared/models/tokenizers/distilbert-base-uncased
SST2=../shared/data/sst2
if [ "${FULL:-0}" = 1 ]; then
  BATCHES=(-b 8 -b 32); STEPS=(--steps 3 --warmup-steps 1); REPEAT=3
else
  BATCHES=(-b 8); STEPS=(--steps 2 --warmup-steps 1); REPEAT=2
fi
STAGES=${STAGES:-"options options-base base profile threads frozen distil"}

load() { echo "$1 $(uptime)" | tee -a "$LOGS/uptime.log"; }

bench() {  # name, then bench options
  local name=$1; shift
  load "before $name"
  python3 cli.py bench --reference plain --phase train --seq-len 128 --threads 1 "$@" \
    --json "docs/bench/$name.json" --markdown "docs/bench/$name.md" > "$LOGS/$name.log" 2>&1
  load "after $name"
}

for stage in $STAGES; do
  case $stage in
  options)
    load "before options"
    python3 scripts/bench_speed_options.py --model ../shared/models/bert-tiny --train-data $SST2 \
      --steps 10 --warmup-steps 3 --repeat $REPEAT --json docs/bench/cpu-bert-tiny-speed-options.json \
      > "$LOGS/options.md" 2> "$LOGS/options.err"
    load "after options" ;;
  options-base)
    load "before options-base"
    python3 scripts/bench_speed_options.py --model $BASE --random-weights --train-data $SST2 \
      --steps 4 --warmup-steps 1 --repeat 3 --json docs/bench/cpu-bert-base-speed-options.json \
      > "$LOGS/options-base.md" 2> "$LOGS/options-base.err"
    load "after options-base" ;;
  base)
    bench cpu-bert-base-pet --model $BASE --random-weights --mode pet "${BATCHES[@]}" "${STEPS[@]}" \
      --repeat $REPEAT --train-data $SST2 --shots 16 ;;
  frozen)
    FROZEN=(--steps 1 --warmup-steps 1 --repeat 1); [ "${FULL:-0}" = 1 ] && FROZEN=("${STEPS[@]}" --repeat 2)
    bench cpu-bert-base-frozen --model $BASE --random-weights --mode head --mode lora --mode soft_prompt \
      --mode ptuning_v2 --mode bitfit "${BATCHES[@]}" "${FROZEN[@]}" ;;
  distil)
    bench cpu-distilbert-base --model $DISTIL --random-weights --mode pet --mode head "${BATCHES[@]}" "${STEPS[@]}" \
      --repeat $REPEAT --train-data $SST2 --shots 16 ;;
  threads)
    # the README's job, shortened to 100 steps: torch threads from the default (the process's affinity) vs 1
    for threads in default 1 default 1; do
      flag=(); [ $threads = 1 ] && flag=(--threads 1)
      load "before threads=$threads"
      env -u OMP_NUM_THREADS python3 cli.py train --model ../shared/models/bert-tiny --data $SST2 \
        --pattern "It was [MASK]." --verbalizer "positive=great,negative=terrible" --shots 16 --seed 13 \
        --max-steps 100 --output "$LOGS/threads-$threads" --overwrite --quiet "${flag[@]}" > /dev/null 2> "$LOGS/threads-$threads.err"
      echo "threads=$threads wall_seconds=$(python3 -c "import json;print(json.load(open('$LOGS/threads-$threads/metrics.json'))['training']['wall_seconds'])")" \
        | tee -a "$LOGS/threads.log"
    done ;;
  profile)
    load "before profile"
    python3 scripts/profile_step.py --model $BASE --random-weights --mode pet --batch-size 8 --seq-len 128 \
      > "$LOGS/profile-pet.txt" 2>&1
    load "after profile" ;;
  esac
done
