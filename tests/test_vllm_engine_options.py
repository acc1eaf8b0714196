"""The vLLM engine's settings for a job: options built on CPU, the context sized from the
prompts and strategies, and the commands that pass it. Runs without vllm (the options
and the context are built before any engine); the engine itself is covered by the
``vllm``-marked tests, one of them here."""

from __future__ import annotations

import os
import types

import pytest
from tiny_models import build_tiny_llama
from vllm_helpers import build_vllm_test_model

from calibration.store.artifact import load_artifact
from router.setup import DEFAULT_CALIBRATION, build_engines, calibrated_settings, engine_context
from strategies.backends.chat import render_prompt_ids
from strategies.backends.vllm_backend import (
    CONTEXT_ROUNDING,
    IN_PROCESS_ENV,
    WORKER_EXIT_ENV,
    context_length,
    engine_environment,
    engine_options,
    job_context_length,
)
from strategies.engine_context import answer_token_bound, job_context
from strategies.generation import GenerationError, SamplingParams
from strategies.prompts import SMOLLM2_ARITHMETIC

TREE = "beam_search:depth=6,step_tokens=48,max_tokens=128"


def test_cpu_engine_runs_eager_without_chunked_prefill_and_the_caller_wins():
    options = engine_options(
        {}, on_cpu=True, in_process=False, max_model_len=512, show_load_progress=False
    )
    assert options == {
        "enforce_eager": True,
        "enable_chunked_prefill": False,
        "max_model_len": 512,
        "use_tqdm_on_load": False,
    }
    overridden = engine_options(
        {"enforce_eager": False, "max_model_len": 8192},
        on_cpu=True,
        in_process=True,
        max_model_len=512,
        show_load_progress=True,
    )
    assert overridden["enforce_eager"] is False and overridden["max_model_len"] == 8192
    assert overridden["distributed_executor_backend"] == "uni"
    assert overridden["use_tqdm_on_load"] is True


def test_engine_processes_get_time_to_exit_unless_the_user_chose_and_a_core_here():
    assert engine_environment(False, {}) == {WORKER_EXIT_ENV: "60"}
    assert engine_environment(False, {WORKER_EXIT_ENV: "3"}) == {}
    assert engine_environment(True, {}) == {WORKER_EXIT_ENV: "60", IN_PROCESS_ENV: "0"}


def test_gpu_engine_keeps_vllms_defaults_and_the_models_context_without_a_job():
    options = engine_options(
        {}, on_cpu=False, in_process=False, max_model_len=None, show_load_progress=False
    )
    assert options == {"use_tqdm_on_load": False}


def test_context_length_holds_prompt_and_answer_with_reserve_rounded_and_capped():
    assert context_length(112, 176) == 512  # 288 + 36 reserve -> 324 -> 512
    assert context_length(10, 10) == CONTEXT_ROUNDING  # reserve at least 32 tokens
    assert context_length(1000, 2048) % CONTEXT_ROUNDING == 0
    assert context_length(1000, 2048) >= (1000 + 2048) * 9 // 8
    assert context_length(7000, 2048, model_limit=8192) == 8192  # vLLM refuses more


def test_answer_bound_takes_the_longest_strategy_a_tree_passing_its_cap_by_a_step():
    assert answer_token_bound(["majority", "weighted_best_of_n"], 96) == 96
    assert answer_token_bound(["majority", TREE], 96) == 128 + 48
    # a tree that names no max_tokens runs with the calibration's, like the samples
    assert answer_token_bound(["dvts:step_tokens=32"], 96) == 96 + 32
    assert answer_token_bound(["beam_search:step_tokens=32,lookahead=2"], 64) == 64 + 3 * 32
    with pytest.raises(ValueError, match="unknown strategy"):
        answer_token_bound(["no_such_strategy"], 96)


def test_the_longest_problems_are_measured_with_the_prompt_configuration():
    texts = ["What is 1 + 2?", "x" * 300, "What is 12 + 30?", "x" * 300]
    context = job_context(SMOLLM2_ARITHMETIC, texts, ["majority", TREE], 96)
    assert context.max_new_tokens == 176
    assert context.prompts[0] == SMOLLM2_ARITHMETIC.prompt("x" * 300)  # longest first
    assert len(context.prompts) == 3  # duplicates measured once


def test_job_context_length_tokenizes_the_rendered_prompts(tmp_path):
    model = build_tiny_llama(tmp_path / "tiny")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    texts = ["add the numbers " * 40, "step"]
    context = job_context(SMOLLM2_ARITHMETIC, texts, ["majority"], 64)
    longest = len(render_prompt_ids(tokenizer, SMOLLM2_ARITHMETIC.prompt(texts[0])))
    assert longest > 100
    assert job_context_length(str(model), context) == context_length(longest, 64, 2048)


def test_solve_sizes_a_vllm_engine_for_its_problems_and_the_tables_strategies():
    artifact = load_artifact(DEFAULT_CALIBRATION)
    settings = calibrated_settings(artifact.manifest)
    context = engine_context(settings, artifact.table.strategies, ["What is 3 + 4?"])
    assert context is not None
    assert context.max_new_tokens == 128 + 48  # the shipped tree searches, past 96
    assert context.prompts == (SMOLLM2_ARITHMETIC.prompt("What is 3 + 4?"),)
    unknown = engine_context(settings, ["no_such_strategy"], ["What is 3 + 4?"])
    assert unknown is None  # the engine then keeps the model's own context


def test_the_context_reaches_only_the_vllm_backend(monkeypatch):
    """``build_engines`` hands the context to vLLM's builder and to no other backend."""
    from strategies.backends import registry

    seen: dict[str, dict] = {}

    def record(name):
        def builder(model, **options):
            seen[name] = options
            return types.SimpleNamespace(name=name)

        return builder

    from strategies.registry import Registry

    fake: Registry = Registry("backend")
    fake.add("vllm", record("vllm"))
    fake.add("transformers", record("transformers"))
    monkeypatch.setattr(registry, "BACKENDS", fake)
    artifact = load_artifact(DEFAULT_CALIBRATION)
    settings = calibrated_settings(artifact.manifest)
    context = engine_context(settings, artifact.table.strategies, ["What is 3 + 4?"])
    from dataclasses import replace

    build_engines(replace(settings, backend="vllm"), None, context)
    build_engines(settings, None, context)
    assert seen["vllm"]["context"] is context
    assert "context" not in seen["transformers"]


@pytest.fixture(scope="module")
def sized_engine(tmp_path_factory):
    if not os.environ.get("TTC_REQUIRE_VLLM"):  # make test-vllm sets it: fail, never skip
        pytest.importorskip("vllm")
    from strategies.backends.vllm_backend import VLLMGenerator

    model_dir = build_vllm_test_model(tmp_path_factory.mktemp("vllm-sized"))
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    context = job_context(SMOLLM2_ARITHMETIC, ["What is 3 + 4?"], ["majority"], 32)
    engine = VLLMGenerator(str(model_dir), dtype="float32", context=context, in_process=True)
    yield engine, model_dir, context
    engine.close()


@pytest.mark.vllm
def test_an_engine_built_for_a_job_runs_eager_with_the_jobs_context(sized_engine):
    engine, model_dir, context = sized_engine
    assert engine.engine_options["enforce_eager"] is True
    assert engine.max_model_len == job_context_length(str(model_dir), context)
    assert engine.max_model_len == CONTEXT_ROUNDING  # a short prompt and 32 new tokens
    out = engine.generate(list(context.prompts), SamplingParams(n=2, max_tokens=32, seed=0))
    assert all(1 <= c.num_tokens <= 32 for row in out for c in row)


@pytest.mark.vllm
def test_a_prompt_longer_than_the_engines_context_fails_with_the_fix(sized_engine):
    engine, _, _ = sized_engine
    long_prompt = SMOLLM2_ARITHMETIC.prompt("add the numbers " * 200)
    with pytest.raises(GenerationError, match="max_model_len=N"):
        engine.generate([long_prompt], SamplingParams(n=1, max_tokens=8, seed=0))
