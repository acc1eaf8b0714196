"""Exact cost ledgers for every strategy, with a scripted generator and verifier.

Expected figures are computed by hand from the scripts: every step costs
TOKENS_PER_STEP generated tokens and VERIFIER_TOKENS_PER_STEP verifier tokens per step read.
"""

from __future__ import annotations

import pytest
from test_search_doubles import (
    PROMPTS,
    TOKENS_PER_STEP,
    VERIFIER_TOKENS_PER_STEP,
    Script,
    ScriptedGenerator,
    ScriptedVerifier,
    problems,
)

from strategies.search import generations_for_budget, get_strategy

SAMPLING = ["majority", "best_of_n", "weighted_best_of_n"]
TREES = ["beam_search", "dvts"]


@pytest.mark.parametrize("name", SAMPLING)
@pytest.mark.parametrize("budget", [1, 4, 16])
def test_sampling_ledger_is_exact(name, budget):
    steps = 3
    generator = ScriptedGenerator(default=Script(steps=steps))
    verifier = ScriptedVerifier()
    batch = problems(3)
    results = get_strategy(name).run(batch, budget, generator, verifier, prompt_config=PROMPTS)

    assert len(generator.calls) == 1, "one generator call for the whole batch"
    [call] = generator.calls
    assert len(call.prompts) == 3 and call.params.n == budget and call.params.stop == ()
    scores = name != "majority"
    assert len(verifier.calls) == (1 if scores else 0)
    if scores:
        assert len(verifier.calls[0]) == 3 * budget
    for result in results:
        cost = result.cost
        assert cost.generator_calls == 1
        assert cost.generations == budget
        assert cost.generated_tokens == budget * steps * TOKENS_PER_STEP
        assert cost.generator_flops == 2.0 * generator.num_parameters * cost.generated_tokens
        assert cost.verifier_calls == (1 if scores else 0)
        assert cost.verifier_tokens == (budget * steps * VERIFIER_TOKENS_PER_STEP if scores else 0)
        assert cost.verifier_flops == 2.0 * verifier.num_parameters * cost.verifier_tokens
        assert len(result.candidates) == budget
        assert result.answer == "42" and result.error is None
        assert result.extra["batch"]["generator_calls"] == 1


def expected_tree_figures(budget: int, width: int, steps: int, depth: int, lookahead: int):
    """Per problem, for a script whose every beam ends at step ``steps``."""
    beams = (budget // min(width, budget)) * min(width, budget)
    rounds = min(steps, depth)
    generations = beams * rounds
    rolled_generations = 0
    calls = rounds
    verifier_tokens = 0
    for d in range(rounds):
        last = d == depth - 1
        own_steps = steps if last else d + 1
        rolled = 0
        if lookahead and not last and d + 1 < steps:
            rolled = min(lookahead, steps - 1 - d)
            rolled_generations += beams * rolled
            calls += rolled
        verifier_tokens += beams * (own_steps + rolled) * VERIFIER_TOKENS_PER_STEP
    tokens = (beams * steps + rolled_generations) * TOKENS_PER_STEP
    return beams, generations + rolled_generations, calls, rounds, tokens, verifier_tokens


@pytest.mark.parametrize("name", TREES)
@pytest.mark.parametrize(
    ("budget", "steps", "depth", "lookahead"),
    [(1, 3, 40, 0), (2, 3, 40, 0), (4, 3, 40, 0), (8, 3, 40, 0), (16, 4, 40, 0),
     (16, 5, 3, 0), (8, 4, 40, 1), (8, 5, 40, 2), (16, 6, 4, 2)],
)  # fmt: skip
def test_tree_ledger_is_exact(name, budget, steps, depth, lookahead):
    generator = ScriptedGenerator(default=Script(steps=steps))
    verifier = ScriptedVerifier()
    strategy = get_strategy(f"{name}:m=4,depth={depth},lookahead={lookahead}")
    results = strategy.run(problems(3), budget, generator, verifier, prompt_config=PROMPTS)

    beams, generations, calls, rounds, tokens, verifier_tokens = expected_tree_figures(
        budget, 4, steps, depth, lookahead
    )
    assert len(generator.calls) == calls, "one generator call per step (plus lookahead)"
    assert len(verifier.calls) == rounds, "one verifier call per search step"
    for call in generator.calls:
        assert {p.problem_key for p in call.prompts} == {"p0", "p1", "p2"}, "problems share calls"
    assert generator.calls[0].params.n == beams
    last = generator.calls[-1].params
    assert (last.stop == ()) == (depth <= steps), "the depth-limit step generates to EOS"
    for result in results:
        cost = result.cost
        assert cost.generator_calls == calls
        assert cost.verifier_calls == rounds
        assert cost.generations == generations
        assert cost.generated_tokens == tokens
        assert cost.verifier_tokens == verifier_tokens
        assert cost.generator_flops == 2.0 * generator.num_parameters * cost.generated_tokens
        assert cost.verifier_flops == 2.0 * verifier.num_parameters * cost.verifier_tokens
        assert len(result.candidates) == beams, "every finished leaf of the last step is pooled"
        assert all(c.finish_reason == "eos" for c in result.candidates)
        assert all(len(c.step_scores) == len(c.steps) == steps for c in result.candidates)
        assert result.answer == "42"
        assert result.extra["effective_budget"] == beams


def test_depth_limit_generates_the_rest_in_one_completion():
    generator = ScriptedGenerator(default=Script(steps=5))
    results = get_strategy("beam_search:depth=3").run(
        problems(2), 8, generator, ScriptedVerifier(), prompt_config=PROMPTS
    )
    # Two stepwise rounds of 8 one-step completions, then 8 completions of the 3 last steps.
    assert [c.params.stop for c in generator.calls] == [("\n\n",), ("\n\n",), ()]
    for result in results:
        assert result.cost.generations == 3 * 8
        assert result.cost.generated_tokens == 8 * 5 * TOKENS_PER_STEP
        assert result.answer == "42"


@pytest.mark.parametrize(
    "spec", ["beam_search:depth=4", "dvts:depth=4", "beam_search:depth=4,k=2", "best_of_n"]
)
@pytest.mark.parametrize("budget", [4, 16])
def test_plan_is_reached_when_no_beam_ends_early(spec, budget):
    generator = ScriptedGenerator(default=Script(steps=7))
    strategy = get_strategy(spec)
    [result] = strategy.run(
        problems(1), budget, generator, ScriptedVerifier(), prompt_config=PROMPTS
    )
    plan = generations_for_budget(spec, budget)
    assert result.cost.generations == plan.max_generations
    assert result.cost.generator_calls == plan.max_generator_calls
    assert result.cost.verifier_calls == plan.max_verifier_calls


def test_batched_ledgers_equal_solo_ledgers():
    scripts = {"p0": Script(steps=1), "p1": Script(steps=3), "p2": Script(steps=6, answer="7")}
    strategy = get_strategy("dvts:m=2,k=1")
    batch = problems(3)
    together = strategy.run(
        batch, 8, ScriptedGenerator(scripts), ScriptedVerifier(), prompt_config=PROMPTS
    )
    for problem, joint in zip(batch, together, strict=True):
        [alone] = strategy.run(
            [problem], 8, ScriptedGenerator(scripts), ScriptedVerifier(), prompt_config=PROMPTS
        )
        solo = alone.cost.to_dict()
        shared = joint.cost.to_dict()
        solo.pop("wall_time_s")
        shared.pop("wall_time_s")
        assert shared == solo, problem.id
        assert [c.text for c in joint.candidates] == [c.text for c in alone.candidates]
    batch_info = together[0].extra["batch"]
    assert batch_info["generator_calls"] == max(r.cost.generator_calls for r in together)
    total = sum(r.cost.wall_time_s for r in together)
    assert total == pytest.approx(batch_info["wall_time_s"], rel=1e-6, abs=1e-9)


def test_reused_samples_are_not_generated_again():
    generator = ScriptedGenerator(default=Script(steps=2))
    verifier = ScriptedVerifier()
    batch = problems(2)
    probe = get_strategy("best_of_n").run(batch, 3, generator, verifier, prompt_config=PROMPTS)
    generator.calls.clear()
    verifier.calls.clear()
    results = get_strategy("weighted_best_of_n").run(
        batch,
        8,
        generator,
        verifier,
        prompt_config=PROMPTS,
        seed=1,
        reuse=[r.candidates for r in probe],
    )
    assert [c.params.n for c in generator.calls] == [5]
    assert len(verifier.calls[0]) == 2 * 5, "only the new samples are scored"
    for result in results:
        assert result.cost.generations == 5
        assert len(result.candidates) == 8
        assert result.extra["reused_candidates"] == 3
