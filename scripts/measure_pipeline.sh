#!/usr/bin/env bash
# Steady-state training rate of ResNet-18 (width 16, Fashion-MNIST, batch 128) for K = 1, 4 and 10
# stages under each weight policy, and the cost of telemetry (op events on vs off), measured with
# `layerpipe run` (its "steady state" line excludes pipeline fill, drain and evaluation).
# Usage: scripts/measure_pipeline.sh [path/to/layerpipe] [steps] [rounds]
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
bin=${1:-build/release/app/layerpipe}
steps=${2:-40}
rounds=${3:-3}
threads=${THREADS:-2}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

rate() {  # prints the steady-state img/s of one run; a run whose loss diverged (exit 3) still
          # reports its rate up to the stop, and is listed below
    local code=0
    "$bin" run --dataset fashion-mnist --width 16 --batch-size 128 --epochs 1 --max-steps "$steps" \
        --test-limit 128 --threads "$threads" --out "$out/run" "$@" >"$out/log" 2>&1 || code=$?
    if [[ $code -ne 0 && $code -ne 3 ]]; then
        echo "layerpipe run $* failed (exit $code):" >&2
        cat "$out/log" >&2
        exit 1
    fi
    [[ $code -eq 3 ]] && echo "$*" >>"$out/diverged"
    sed -n 's/^steady state: \([0-9.]*\) img\/s.*/\1/p' "$out/log"
}
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A runs=(
    ["K=1  (sequential)"]=""
    ["K=4  latest"]="--stages 3,5,7 --policy latest"
    ["K=4  stash"]="--stages 3,5,7 --policy stash"
    ["K=4  ema"]="--stages 3,5,7 --policy ema"
    ["K=10 latest"]="--stages 1,2,3,4,5,6,7,8,9 --policy latest"
    ["K=10 stash"]="--stages 1,2,3,4,5,6,7,8,9 --policy stash"
    ["K=10 ema"]="--stages 1,2,3,4,5,6,7,8,9 --policy ema"
    ["K=4  stash, telemetry off"]="--stages 3,5,7 --policy stash --no-telemetry"
)
order=("K=1  (sequential)" "K=4  latest" "K=4  stash" "K=4  ema" "K=10 latest" "K=10 stash"
       "K=10 ema" "K=4  stash, telemetry off")
declare -A results
for ((r = 1; r <= rounds; r++)); do  # rounds interleave the configurations (machine noise)
    for name in "${order[@]}"; do
        # shellcheck disable=SC2086
        results[$name]+=" $(rate ${runs[$name]})"
    done
done
echo "ResNet-18 width 16, Fashion-MNIST, batch 128, $threads threads, $steps steps, $rounds rounds"
printf '%-28s %12s   %s\n' configuration "median img/s" "all rounds"
for name in "${order[@]}"; do
    printf '%-28s %12s   %s\n' "$name" "$(echo "${results[$name]}" | median)" "${results[$name]}"
done
if [[ -s $out/diverged ]]; then
    echo "loss became non-finite (rate measured up to the stop) in:"
    sort -u "$out/diverged" | sed 's/^/  /'
fi
