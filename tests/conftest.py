"""Shared fixtures: tiny local models built once per test session (no network)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory):
    """A tiny causal Llama with the PRM special tokens in its vocabulary."""
    from tiny_models import PRM_SPECIAL_TOKENS, build_tiny_llama

    return build_tiny_llama(
        tmp_path_factory.mktemp("tiny-llama"), extra_special_tokens=PRM_SPECIAL_TOKENS
    )
