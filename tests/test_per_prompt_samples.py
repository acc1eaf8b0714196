"""A prompt's own sample count (``Prompt.samples``): every backend gives such a prompt
that many samples, the very samples (same seeds) a call with ``n`` set to its count gives.

This is what lets a tree search make one generator call per step when its nodes ask for
different numbers of children (REBASE, particle filtering). Checked here per backend:
the simulator, replay, transformers (tiny float32 model), the OpenAI-compatible backend
(fake server) and, marked ``vllm``, the vLLM engine; plus the seeds of repeated prompts,
the batch ledger and the call recording of ``ttc solve``.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from test_openai_backend import FakeServers, _generator
from test_search_doubles import PROMPTS as SCRIPT_PROMPTS
from test_search_doubles import Script, ScriptedGenerator, problems

from router.recording import CallLog, RecordingGenerator, prompt_key
from strategies.backends.seeds import request_seed, request_seeds
from strategies.backends.simulator import SimulatedWorld
from strategies.generation import (
    ChatMessage,
    Completion,
    Prompt,
    SamplingParams,
    own_params,
    sample_count,
)
from strategies.pools.loading import load_pool
from strategies.pools.replay import ReplayWorld
from strategies.prompts import PromptConfig
from strategies.search.accounting import BatchLedger
from strategies.search.registry import get_strategy


def _prompt(question: str, partial: str = "", **fields) -> Prompt:
    return Prompt((ChatMessage("user", question),), partial=partial, **fields)


A = _prompt("Add the numbers 47 and 38, then multiply the total by 6.")
B = _prompt("What is 2 + 3?", partial="## Step 1: add")
C = _prompt("so")


def drawn(rows: list[list[Completion]]) -> list[list[tuple[str, int, str]]]:
    return [[(c.text, c.num_tokens, c.finish_reason) for c in row] for row in rows]


def separately(generator, prompts: list[Prompt], params: SamplingParams) -> list[list[Completion]]:
    """Each prompt in a call of its own, with ``n`` = its own count."""
    return [
        generator.generate([replace(p, samples=None)], replace(params, n=sample_count(p, params)))[
            0
        ]
        for p in prompts
    ]


# ---------------------------------------------------------------------------------------
# The protocol


def test_a_prompts_own_count_replaces_n_and_must_be_positive():
    params = SamplingParams(n=4, max_tokens=20)
    assert sample_count(A, params) == 4
    assert sample_count(replace(A, samples=2), params) == 2
    assert own_params(A, params) is params
    own = own_params(replace(A, samples=2, max_tokens=5), params)
    assert (own.n, own.max_tokens) == (2, 5)
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="a prompt's samples must be an integer >= 1"):
            replace(A, samples=bad)


def test_a_repeated_prompts_copy_starts_after_the_earlier_copies_samples():
    params = SamplingParams(n=4, seed=3)
    base = request_seed(3, A)
    # Without own counts: today's numbers, copy k at k * n.
    assert request_seeds([A, A, A], params) == [base + 4 * k for k in range(3)]
    # With own counts: where each copy's samples would be in one request for them all.
    copies = [replace(A, samples=2), replace(A, samples=3), A]
    assert request_seeds(copies, params) == [base, base + 2, base + 5]
    # Other prompts keep their seeds whatever the counts around them.
    assert request_seeds([replace(B, samples=1), C], params) == request_seeds([B, C], params)


# ---------------------------------------------------------------------------------------
# Backends


def test_simulator_gives_each_prompt_its_own_count_of_the_same_samples():
    world = SimulatedWorld(3, seed=2)
    generator = world.generator()
    config = PromptConfig()
    first, second, third = (config.prompt(p.text, key=p.id) for p in world.problems)
    prompts = [replace(first, samples=2), second, replace(third, samples=5), second]
    for params in (
        SamplingParams(n=3, max_tokens=200, temperature=0.8, seed=4, stop=("\n\n",)),
        SamplingParams(n=3, max_tokens=200, temperature=0.0, seed=4),
    ):
        merged = generator.generate(prompts, params)
        assert [len(row) for row in merged] == [2, 3, 5, 3]
        assert merged == separately(generator, prompts, params)
    # Greedy (the last params): every copy is the one greedy completion.
    assert len({(c.text, c.num_tokens) for c in merged[2]}) == 1


@pytest.fixture
def replay_world(tmp_path: Path) -> ReplayWorld:
    rows = [
        {
            "id": f"p{p}",
            "problem": f"Problem {p}?",
            "answer": "3",
            "samples": [
                {
                    "text": f"sample {i} of p{p}. $\\boxed{{{i}}}$",
                    "step_scores": [i / 12],
                    "num_tokens": 5 + i,
                }
                for i in range(12)
            ],
        }
        for p in range(3)
    ]
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return ReplayWorld(load_pool([path]))


def test_replay_deals_each_prompt_its_own_count(replay_world):
    config = PromptConfig()
    p0, p1, p2 = (config.prompt(f"Problem {p}?", key=f"p{p}") for p in range(3))
    prompts = [replace(p0, samples=2), p1, replace(p2, samples=5)]
    for params in (
        SamplingParams(n=3, seed=7),
        SamplingParams(n=3, seed=7 * 31 + 2, stream=7, offset=2),  # a top-up
    ):
        merged = replay_world.generator().generate(prompts, params)
        assert [len(row) for row in merged] == [2, 3, 5]
        alone = separately(replay_world.generator(), prompts, params)
        assert drawn(merged) == drawn(alone)
    generator = replay_world.generator()
    generator.generate(prompts, SamplingParams(n=3, seed=7))
    assert [generator.served(f"p{p}") for p in range(3)] == [2, 3, 5]


def test_openai_sends_each_request_its_own_n_with_the_same_seeds(tiny_llama_dir):
    servers = FakeServers()
    try:
        server = servers.start()
        generator = _generator(tiny_llama_dir, [server.url])
        params = SamplingParams(n=3, max_tokens=9, temperature=0.8, stop=("\n\n",), seed=2)
        prompts = [replace(A, samples=1), B, replace(C, samples=4, max_tokens=5)]
        merged = generator.generate(prompts, params)
        sent = {body["seed"]: (body["n"], body["max_tokens"]) for body in server.requests}
        seeds = request_seeds(prompts, params)
        assert [sent[s] for s in seeds] == [(1, 9), (3, 9), (4, 5)]
        assert [len(row) for row in merged] == [1, 3, 4]
        assert merged == separately(generator, prompts, params)
        # Greedy: one choice asked for, repeated to the prompt's own count.
        greedy = generator.generate([replace(A, samples=2)], replace(params, temperature=0.0))
        assert server.requests[-1]["n"] == 1 and len(greedy[0]) == 2
    finally:
        for started in servers.started:
            started.stop()


@pytest.fixture(scope="module")
def tiny_float32(tiny_llama_dir):
    import torch

    from strategies.backends.transformers_backend import TransformersGenerator
    from strategies.hf_loading import load_causal_lm

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    model, tokenizer = load_causal_lm(str(tiny_llama_dir), dtype="float32")
    yield lambda decoder: TransformersGenerator(
        "tiny", model_obj=model, tokenizer=tokenizer, decoder=decoder
    )
    torch.set_num_threads(before)


@pytest.mark.parametrize("decoder", ["cached", "generate"])
def test_transformers_gives_each_prompt_its_rows_with_the_same_seeds(tiny_float32, decoder):
    generator = tiny_float32(decoder)
    prompts = [replace(A, samples=2), B, replace(C, samples=1, max_tokens=4), replace(B, samples=2)]
    params = SamplingParams(n=3, max_tokens=10, temperature=1.0, stop=("\n\n", " so"), seed=5)
    merged = generator.generate(prompts, params)
    assert [len(row) for row in merged] == [2, 3, 1, 2]
    alone = separately(generator, prompts[:3], params)
    assert drawn(merged[:3]) == drawn(alone)
    for x, y in zip(
        (c for row in merged[:3] for c in row), (c for row in alone for c in row), strict=True
    ):
        assert x.logprob == pytest.approx(y.logprob, abs=1e-3)
    # B's second copy continues B's numbering: the samples 3 and 4 of a call for five.
    (five,) = generator.generate([B], replace(params, n=5))
    assert drawn([merged[1] + merged[3]]) == drawn([five])
    # Greedy: one row per prompt, repeated to its own count.
    greedy = generator.generate(
        [replace(A, samples=3), C], SamplingParams(n=2, max_tokens=6, temperature=0.0)
    )
    assert [len(row) for row in greedy] == [3, 2]
    assert len(set(drawn([greedy[0]])[0])) == 1
    (reference,) = generator.generate([A], SamplingParams(n=1, max_tokens=6, temperature=0.0))
    assert drawn([greedy[0][:1]]) == drawn([reference])


@pytest.mark.vllm
def test_vllm_gives_each_request_its_own_n_with_the_same_seeds(tmp_path_factory):
    if not os.environ.get("TTC_REQUIRE_VLLM"):
        pytest.importorskip("vllm")
    from vllm_helpers import FAST_ENGINE_KWARGS, build_vllm_test_model

    from strategies.backends.vllm_backend import VLLMGenerator

    model_dir = build_vllm_test_model(tmp_path_factory.mktemp("vllm-tiny-samples"))
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        engine = VLLMGenerator(
            str(model_dir), dtype="float32", max_model_len=512, seed=0, **FAST_ENGINE_KWARGS
        )
    try:
        sent: list[list] = []
        real_generate = engine._llm.generate

        def spy(requests, sampling_params, **kwargs):
            sent.append(list(sampling_params))
            return real_generate(requests, sampling_params, **kwargs)

        engine._llm.generate = spy  # type: ignore[method-assign]
        prompts = [replace(A, samples=2), B, replace(C, samples=4, max_tokens=5)]
        params = SamplingParams(n=3, max_tokens=10, temperature=1.0, seed=6)
        merged = engine.generate(prompts, params)
        assert len(sent) == 1, "one engine call for every prompt"
        assert [(s.n, s.max_tokens) for s in sent[0]] == [(2, 10), (3, 10), (4, 5)]
        assert [len(row) for row in merged] == [2, 3, 4]
        assert drawn(merged) == drawn(separately(engine, prompts, params))
        greedy = engine.generate([replace(A, samples=3)], replace(params, temperature=0.0))
        assert sent[-1][0].n == 1 and len(greedy[0]) == 3
    finally:
        engine.close()


# ---------------------------------------------------------------------------------------
# The ledger and the call recording


def test_the_ledger_counts_each_prompts_own_samples_and_refuses_a_wrong_shape():
    generator = ScriptedGenerator(default=Script(steps=3))
    ledger = BatchLedger("test", ["p0", "p1"], generator, None)
    config = SCRIPT_PROMPTS
    p0, p1 = (config.prompt(f"Problem {i}", key=f"p{i}") for i in range(2))
    params = SamplingParams(n=4, temperature=1.0, stop=("\n\n",))
    outputs = ledger.generate([replace(p0, samples=1), p1], params, [0, 1], stage="step 1")
    assert [len(row) for row in outputs] == [1, 4]
    assert [lg.generations for lg in ledger.ledgers] == [1, 4]
    assert [lg.generator_calls for lg in ledger.ledgers] == [1, 1]

    class Ignores(ScriptedGenerator):
        def generate(self, prompts, params):  # the old contract: params.n for everyone
            return [[Completion("x", 1, "eos")] * params.n for _ in prompts]

    wrong = BatchLedger("test", ["p0", "p1"], Ignores(), None)
    with pytest.raises(ValueError, match=r"returned \[4, 4\].*their own n=\[1, 4\]"):
        wrong.generate([replace(p0, samples=1), p1], params, [0, 1], stage="step 1")


def test_a_recorded_call_round_trips_each_prompts_own_count():
    world = SimulatedWorld(2, seed=1)
    config = PromptConfig()
    first, second = (config.prompt(p.text, key=p.id) for p in world.problems)
    params = SamplingParams(n=3, max_tokens=200, temperature=0.8, seed=9, stop=("\n\n",))
    prompts = [replace(first, samples=1), second, replace(second, partial="## Step", samples=5)]
    log = CallLog(None)
    recorder = RecordingGenerator(world.generator(), log)
    live = recorder.generate(prompts, params)
    assert [len(row) for row in live] == [1, 3, 5] and recorder.calls == 1
    served = recorder.generate(prompts, params)
    assert served == live and recorder.calls == 1  # every prompt from the log
    # Keyed by what the prompt got: the same request as a call with n = its own count.
    assert prompt_key(prompts[0], params) == prompt_key(first, replace(params, n=1))
    assert prompt_key(prompts[0], params) != prompt_key(first, params)
    # A repeated prompt makes the call a whole; the counts are part of its key.
    twice = [replace(first, samples=2), replace(first, samples=1)]
    whole = recorder.generate(twice, params)
    assert [len(row) for row in whole] == [2, 1] and recorder.calls == 2
    assert recorder.generate(twice, params) == whole and recorder.calls == 2
    other = [replace(first, samples=1), replace(first, samples=2)]
    assert [len(row) for row in recorder.generate(other, params)] == [1, 2]
    assert recorder.calls == 3


def test_a_tree_search_resumed_from_its_recording_makes_no_call_and_the_same_results():
    world = SimulatedWorld(6, seed=4)
    strategy = get_strategy("rebase:depth=5")
    log = CallLog(None)
    first = RecordingGenerator(world.generator(), log)
    before = strategy.run(world.problems, 8, first, world.verifier(), seed=2)
    again = RecordingGenerator(world.generator(), log)
    after = strategy.run(world.problems, 8, again, world.verifier(), seed=2)
    assert again.calls == 0 and again.hits > 0
    for x, y in zip(before, after, strict=True):
        assert [c.text for c in x.candidates] == [c.text for c in y.candidates]
        assert x.cost.generations == y.cost.generations
        assert x.cost.generated_tokens == y.cost.generated_tokens


def test_scripted_double_honours_own_counts():
    generator = ScriptedGenerator(default=Script(steps=3))
    config = SCRIPT_PROMPTS
    [problem] = problems(1)
    prompt = config.prompt(problem.text, key=problem.id)
    params = SamplingParams(n=4, temperature=1.0, stop=("\n\n",), seed=1)
    rows = generator.generate([replace(prompt, samples=2), prompt], params)
    assert [len(row) for row in rows] == [2, 4] and rows[0] == rows[1][:2]
