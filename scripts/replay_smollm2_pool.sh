#!/usr/bin/env bash
# The README's held-out SmolLM2 router figures, by replay of the big pool
# (artifacts/smollm2-pool/samples.jsonl.gz, made by scripts/make_smollm2_pool.sh):
# calibrate on half 0/2 of the pool, evaluate the router on the held-out half 1/2, and the
# reverse. Minutes on 2 CPU cores; no model is loaded.
#
#   scripts/replay_smollm2_pool.sh [POOL] [OUT_DIR]
#
# POOL defaults to the committed snapshot (unpacked into OUT_DIR); any samples shard works
# too, also one a running make_smollm2_pool.sh is still appending to. The split is by
# position, so with the pool's levels written in turn (1, 2, 3, 4, 5, 1, ...) both halves
# hold every level equally.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${2:-runs/replay-smollm2}"
PY="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"
TTC=("$PY" -m router.cli)
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
POOL="${1:-}"
if [[ -z "$POOL" ]]; then
    mkdir -p "$OUT/pool"
    POOL="$OUT/pool/samples-000-of-001.jsonl"
    gunzip -c artifacts/smollm2-pool/samples.jsonl.gz > "$POOL"
fi
sha256sum "$POOL"
for half in 0 1; do
    other=$((1 - half))
    time "${TTC[@]}" calibrate --pool "$POOL" --pool-split "$half/2" --budgets 1,2,4,8,16 \
        --strategies majority,best_of_n,weighted_best_of_n --seeds 3 --no-progress \
        --out "$OUT/calibrated-on-$half"
    time "${TTC[@]}" evaluate --calibration "$OUT/calibrated-on-$half" --pool "$POOL" \
        --pool-split "$other/2" --no-progress --out "$OUT/evaluate-on-$other.json"
done
