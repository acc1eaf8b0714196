"""One generator call per tree-search step, whatever child counts the nodes ask for.

The tree engine used to make one call per distinct child count at each step of REBASE
and particle filtering (2-4 calls, each its own decoding loop on transformers). It now
makes one, each node carrying its own count (``Prompt.samples``). That must change
nothing but the number of calls: ``grouped_expand`` below is the earlier expansion, kept
as the reference, and every search on the simulator must give the same answers, texts,
step scores, token counts and ledgers (all but ``generator_calls``) under both.
"""

from __future__ import annotations

import pytest
from test_search_doubles import PROMPTS, Script, ScriptedGenerator, ScriptedVerifier, problems

from strategies.backends.simulator import SimulatedWorld
from strategies.generation import Completion, SamplingParams, sample_count
from strategies.search import tree
from strategies.search.registry import get_strategy
from strategies.search.result import SearchResult
from strategies.search.selector import Expansion, Node

SEARCHES = [
    "beam_search",
    "dvts",
    "particle_filtering",
    "rebase",
    "rebase:depth=5,step_tokens=40,max_tokens=200",  # caps, steps cut mid-way, to EOS
    "particle_filtering:depth=4,resample_temperature=0.5",
]


def grouped_expand(
    self: tree._TreeRun, expansions: list[Expansion], depth: int, last: bool
) -> list[Node]:
    """The earlier ``_TreeRun._expand``: one generator call per distinct child count."""
    by_count: dict[int, list[int]] = {}
    for index, expansion in enumerate(expansions):
        by_count.setdefault(expansion.children, []).append(index)
    outputs: dict[int, list[Completion]] = {}
    for count, indices in by_count.items():
        parents = [expansions[i].node for i in indices]
        caps = [self._cap(node, last) for node in parents]
        params = SamplingParams(
            n=count,
            max_tokens=max(caps),
            temperature=self.config.temperature,
            top_p=self.config.top_p,
            stop=() if last else (self.delimiter,),
            seed=self._seed(depth, 0),
        )
        results = self.ledger.generate(
            [self._prompt(node, cap) for node, cap in zip(parents, caps, strict=True)],
            params,
            [node.problem for node in parents],
            stage=f"step {depth + 1}" + (" (to EOS)" if last else ""),
        )
        outputs.update(zip(indices, results, strict=True))
    return [
        self._child(expansion.node, completion, last)
        for index, expansion in enumerate(expansions)
        for completion in outputs[index]
    ]


def outcome(result: SearchResult) -> dict:
    """Everything a search returns but its timing and its number of generator calls."""
    cost = result.cost.to_dict()
    cost.pop("wall_time_s")
    cost.pop("generator_calls")
    extra = {k: v for k, v in result.extra.items() if k != "batch"}
    return {
        "answer": result.answer,
        "error": result.error,
        "chosen": result.chosen,
        "candidates": result.candidates,
        "cost": cost,
        "extra": extra,
    }


class CountingCalls:
    """Passes calls through, noting each call's sample count per prompt."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.num_parameters = inner.name, inner.num_parameters
        self.calls: list[list[int]] = []

    def generate(self, prompts, params):
        self.calls.append([sample_count(p, params) for p in prompts])
        return self.inner.generate(prompts, params)


@pytest.fixture(scope="module")
def world() -> SimulatedWorld:
    return SimulatedWorld(30, seed=11)


@pytest.mark.parametrize("spec", SEARCHES)
@pytest.mark.parametrize("budget", [4, 8, 16])
def test_one_call_per_step_gives_the_same_searches_on_the_simulator(world, spec, budget):
    strategy = get_strategy(spec)
    for seed in (0, 3):
        merged_generator = CountingCalls(world.generator())
        merged = strategy.run(world.problems, budget, merged_generator, world.verifier(), seed=seed)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(tree._TreeRun, "_expand", grouped_expand)
            grouped_generator = CountingCalls(world.generator())
            grouped = strategy.run(
                world.problems, budget, grouped_generator, world.verifier(), seed=seed
            )
        for new, old in zip(merged, grouped, strict=True):
            assert outcome(new) == outcome(old), (spec, budget, seed, new.problem_id)
            # One call per step the problem took part in (no look-ahead here).
            assert new.cost.generator_calls == new.extra["search_steps"]
            assert new.cost.generator_calls <= old.cost.generator_calls
        steps = max(r.extra["search_steps"] for r in merged)
        assert len(merged_generator.calls) == steps
        assert merged[0].extra["batch"]["generator_calls"] == steps
        total = sum(map(sum, merged_generator.calls))
        assert total == sum(map(sum, grouped_generator.calls)), "the same step generations"
        if spec.startswith(("beam_search", "dvts")):
            assert merged_generator.calls == grouped_generator.calls  # no own counts at all


def test_rebase_and_particle_filtering_did_merge_steps_with_several_counts(world):
    """The test above is no tautology: these searches do ask for several counts per step."""
    for spec in ("rebase", "particle_filtering"):
        counting = CountingCalls(world.generator())
        get_strategy(spec).run(world.problems, 8, counting, world.verifier(), seed=0)
        assert any(len(set(call)) > 1 for call in counting.calls), spec


def test_with_look_ahead_only_the_step_calls_merge(world):
    strategy = get_strategy("rebase:lookahead=1,depth=6")
    merged = strategy.run(world.problems, 8, world.generator(), world.verifier(), seed=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tree._TreeRun, "_expand", grouped_expand)
        grouped = strategy.run(world.problems, 8, world.generator(), world.verifier(), seed=1)
    for new, old in zip(merged, grouped, strict=True):
        assert outcome(new) == outcome(old)


@pytest.mark.parametrize("name", ["rebase", "particle_filtering"])
def test_scripted_steps_merge_into_one_call_each(name):
    """On the scripted double (seeded by sample index): the same pools and ledgers."""
    scripts = {"p0": Script(steps=4), "p1": Script(steps=2), "p2": Script(steps=6, answer="7")}
    batch = problems(3)
    merged_generator = ScriptedGenerator(scripts)
    merged = get_strategy(f"{name}:depth=5").run(
        batch, 8, merged_generator, ScriptedVerifier(), prompt_config=PROMPTS, seed=4
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tree._TreeRun, "_expand", grouped_expand)
        grouped_generator = ScriptedGenerator(scripts)
        grouped = get_strategy(f"{name}:depth=5").run(
            batch, 8, grouped_generator, ScriptedVerifier(), prompt_config=PROMPTS, seed=4
        )
    for new, old in zip(merged, grouped, strict=True):
        assert outcome(new) == outcome(old)
    steps = max(r.extra["search_steps"] for r in merged)
    assert len(merged_generator.calls) == steps <= len(grouped_generator.calls)
    for call in merged_generator.calls:
        counts = [sample_count(p, call.params) for p in call.prompts]
        assert call.params.n == max(counts)
        # Only a node asking for fewer than the call's n carries its own count.
        assert all(
            (p.samples is None) == (c == call.params.n)
            for p, c in zip(call.prompts, counts, strict=True)
        )


def test_the_plan_bounds_calls_at_one_per_step():
    plan = get_strategy("rebase:depth=7").plan(16)
    assert plan.max_generator_calls == 7
    plan = get_strategy("particle_filtering:depth=5,lookahead=2").plan(8)
    assert plan.max_generator_calls == 5 + 2 * 4
