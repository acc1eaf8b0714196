"""The replay generator and verifier: recorded samples without replacement in a seeded
order, recorded scores, and refusals that name the problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from strategies.generation import GenerationError, Prompt, SamplingParams
from strategies.pools.loading import load_pool
from strategies.pools.replay import ReplayWorld
from strategies.prompts import PromptConfig
from strategies.search.registry import get_strategy
from strategies.verification import ScoreRequest, split_steps
from strategies.verifiers.replay import UnrecordedSampleError, fitted_scores

SIZE = 10


@pytest.fixture
def world(tmp_path: Path) -> ReplayWorld:
    rows = []
    for p in range(3):
        samples = [
            {
                "text": f"step {i} of p{p}\n\nThe final answer is $\\boxed{{{i}}}$.",
                "step_scores": [0.5, i / SIZE],
                "num_tokens": 10 + i,
            }
            for i in range(SIZE)
        ]
        rows.append({"id": f"p{p}", "problem": f"Problem {p}?", "answer": "3", "samples": samples})
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return ReplayWorld(load_pool([path]))


def prompt(problem: int, key: bool = True) -> Prompt:
    return PromptConfig().prompt(f"Problem {problem}?", key=f"p{problem}" if key else None)


def texts(generator, problem: int, n: int, seed: int) -> list[str]:
    [completions] = generator.generate([prompt(problem)], SamplingParams(n=n, seed=seed))
    return [c.text for c in completions]


def test_rounds_under_new_seeds_never_repeat_a_sample_until_the_pool_runs_out(world):
    generator = world.generator()
    served: list[str] = []
    for round_seed, n in enumerate([2, 3, 1, 4]):  # 10 samples in all: the whole pool
        served += texts(generator, 0, n, seed=100 + round_seed)
    assert len(served) == len(set(served)) == SIZE
    with pytest.raises(GenerationError, match=r"problem 'p0' ran out: it recorded 10 samples, 10"):
        texts(generator, 0, 1, seed=999)
    assert len(texts(generator, 1, SIZE, seed=0)) == SIZE  # other problems have their own pool


def test_the_same_seed_repeats_its_samples_and_extends_them_like_a_live_engine(world):
    generator = world.generator()
    first = texts(generator, 0, 3, seed=5)
    assert texts(generator, 0, 3, seed=5) == first
    longer = texts(generator, 0, 6, seed=5)
    assert longer[:3] == first and len(set(longer)) == 6
    other = texts(generator, 0, 4, seed=6)
    assert not set(other) & set(longer)
    assert generator.served("p0") == 10


def top_up(generator, problem: int, already: int, n: int, seed: int = 5) -> list[str]:
    """What the sampling strategies send for samples ``already``.. of stream ``seed``."""
    params = SamplingParams(n=n, seed=seed * 31 + already, stream=seed, offset=already)
    [completions] = generator.generate([prompt(problem)], params)
    return [c.text for c in completions]


def test_a_top_up_continues_its_stream_so_one_at_a_time_and_doubling_see_the_same_samples(
    world,
):
    generator = world.generator()
    one_at_a_time = texts(generator, 0, 1, seed=5)
    for already in range(1, 8):
        one_at_a_time += top_up(generator, 0, already, 1)
    doubling = texts(generator, 0, 1, seed=5)
    for already in (1, 2, 4):
        doubling += top_up(generator, 0, already, already)
    assert one_at_a_time == doubling == texts(generator, 0, 8, seed=5)
    assert generator.served("p0") == 8  # shared, not dealt once per policy
    assert top_up(generator, 0, 8, 2) and generator.served("p0") == SIZE
    with pytest.raises(GenerationError, match=r"problem 'p0' ran out"):
        top_up(generator, 0, SIZE, 1)


def test_order_is_deterministic_in_the_seeds_and_recorded_order_keeps_the_file(world):
    a = texts(world.generator(), 0, SIZE, seed=0)
    assert texts(world.generator(), 0, SIZE, seed=0) == a
    assert texts(world.generator(seed=1), 0, SIZE, seed=0) != a
    assert texts(world.generator(), 0, SIZE, seed=1) != a  # --seed reaches the order too
    assert sorted(a) == sorted(texts(world.generator(), 0, SIZE, seed=1))
    recorded = texts(world.generator(order="recorded"), 0, SIZE, seed=0)
    assert recorded == [s.text for s in world.pool.problems["p0"].samples]


def test_problems_are_found_by_text_when_the_prompt_has_no_key(world):
    [completions] = world.generator().generate([prompt(2, key=False)], SamplingParams(n=2))
    assert all("of p2" in c.text for c in completions)


def test_tokens_and_scores_are_the_recorded_ones(world):
    generator, verifier = world.generator(), world.verifier()
    [completions] = generator.generate([prompt(1)], SamplingParams(n=SIZE, seed=3))
    recorded = {s.text: s for s in world.pool.problems["p1"].samples}
    requests = [ScoreRequest("Problem 1?", split_steps(c.text)) for c in completions]
    for completion, scored in zip(completions, verifier.score(requests), strict=True):
        sample = recorded[completion.text]
        assert completion.num_tokens == sample.num_tokens
        assert scored.scores == sample.step_scores


def test_a_strategy_runs_on_the_replay_and_pays_the_recorded_tokens(world):
    problems = world.problems
    [result] = get_strategy("weighted_best_of_n").run(
        problems[:1], 4, world.generator(), world.verifier(), seed=0
    )
    assert len(result.candidates) == 4
    assert result.cost.generated_tokens == sum(c.num_tokens for c in result.candidates)
    best = max(result.candidates, key=lambda c: c.step_scores[-1])
    assert result.answer == best.answer  # distinct answers: weighted = the best score's


def test_tree_searches_are_refused_by_name(world):
    partial = PromptConfig().prompt("Problem 0?", partial="## Step 1\n\n", key="p0")
    with pytest.raises(GenerationError, match="beam search, DVTS"):
        world.generator().generate([partial], SamplingParams(n=1))


def test_an_unknown_problem_is_named(world):
    unknown = PromptConfig().prompt("Problem 9?", key="p9")
    with pytest.raises(GenerationError, match="problem 'p9' is not in the replay pool"):
        world.generator().generate([unknown], SamplingParams(n=1))


def test_text_the_pool_never_recorded_has_no_score(world):
    with pytest.raises(UnrecordedSampleError, match="problem 'p0' has no recorded sample"):
        world.verifier().score([ScoreRequest("Problem 0?", ("something new",))])


def test_recorded_scores_are_fitted_to_the_steps_keeping_the_last():
    assert fitted_scores((0.9,), 3) == (0.9, 0.9, 0.9)
    assert fitted_scores((0.1, 0.2, 0.3), 2) == (0.2, 0.3)
    assert fitted_scores((0.1, 0.2), 3) == (0.1, 0.1, 0.2)
    assert fitted_scores(None, 2) == (0.0, 0.0)
