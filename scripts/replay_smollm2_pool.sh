#!/usr/bin/env bash
# The README's held-out SmolLM2 router figures, by replay of the big pool
# (scripts/make_smollm2_pool.sh makes it): calibrate on half 0/2 of the pool, evaluate the
# router on the held-out half 1/2. Minutes on 2 CPU cores; no model is loaded.
#
#   scripts/replay_smollm2_pool.sh [POOL] [OUT_DIR]
#
# POOL defaults to the whole pool's shard; a prefix snapshot (head -n 1+N of the shard)
# works too. The split is by position, so with the pool's levels written in turn
# (1, 2, 3, 4, 5, 1, ...) both halves hold every level equally.
set -euo pipefail
cd "$(dirname "$0")/.."
POOL="${1:-/work/pools/smollm2-arith/calibration/shards/samples-000-of-001.jsonl}"
OUT="${2:-runs/replay-smollm2}"
PY="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"
TTC=("$PY" -m router.cli)
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
sha256sum "$POOL"
time "${TTC[@]}" calibrate --pool "$POOL" --pool-split 0/2 --budgets 1,2,4,8,16 \
    --strategies majority,best_of_n,weighted_best_of_n --seeds 3 --no-progress \
    --out "$OUT/calibration"
time "${TTC[@]}" evaluate --calibration "$OUT/calibration" --pool "$POOL" --pool-split 1/2 \
    --no-progress --out "$OUT/evaluate.json"
