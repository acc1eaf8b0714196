"""REBASE: the width split, the pool of exactly N, and what reward-balanced expansion
buys on the seeded simulator (paired by problem, exact sign tests)."""

from __future__ import annotations

import math

import pytest
from test_search_doubles import PROMPTS, Script, ScriptedGenerator, ScriptedVerifier, problems

from strategies.answers import grade
from strategies.backends.simulator import SimulatedWorld
from strategies.generation import sample_count
from strategies.search import get_strategy
from strategies.search.rebase import RebaseSelector, split_width
from strategies.search.selector import Node


@pytest.mark.parametrize(
    ("width", "shares", "expected"),
    [
        (8, [0.5, 0.25, 0.25], [4, 2, 2]),
        (5, [0.34, 0.33, 0.33], [2, 2, 1]),  # remainders 0.7, 0.65, 0.65: ties to the earlier
        (3, [0.98, 0.01, 0.01], [3, 0, 0]),
        (1, [0.5, 0.5], [1, 0]),
    ],
)
def test_the_width_is_split_exactly_by_largest_remainders(width, shares, expected):
    counts = split_width(width, shares)
    assert counts == expected and sum(counts) == width


def test_better_nodes_get_more_children_and_finished_ones_use_up_the_width():
    selector = RebaseSelector(width=8, temperature=0.1)
    children = [
        Node(0, "a\n\n", 5, rank=0.9),
        Node(0, "b\n\n", 5, rank=0.7),
        Node(0, "done", 5, rank=0.1, finished=True),
        Node(0, "c\n\n", 5, rank=0.2),
    ]
    choice = selector.select(children, 0)
    assert [n.text for n in choice.solutions] == ["done"]
    counts = {e.node.text: e.children for e in choice.expand}
    assert sum(counts.values()) == 7, "one unit of the width went to the finished child"
    assert counts["a\n\n"] > counts["b\n\n"] > counts.get("c\n\n", 0)
    weights = [math.exp(r / 0.1) for r in (0.9, 0.7, 0.2)]
    assert counts["a\n\n"] == round(7 * weights[0] / sum(weights))


def test_identical_children_are_expanded_once_with_their_summed_share():
    selector = RebaseSelector(width=4, temperature=1.0)
    twins = [Node(0, "same\n\n", 5, rank=0.5) for _ in range(4)]
    choice = selector.select(twins, 0)
    assert [(e.node.text, e.children) for e in choice.expand] == [("same\n\n", 4)]


def test_pool_holds_exactly_n_finished_solutions_and_the_ledger_stays_within_n():
    generator = ScriptedGenerator(default=Script(steps=4))
    results = get_strategy("rebase").run(
        problems(3), 8, generator, ScriptedVerifier(), prompt_config=PROMPTS
    )
    per_step: dict[int, int] = {}
    for call in generator.calls:
        depth = call.prompts[0].partial.count("\n\n")
        per_step[depth] = per_step.get(depth, 0) + sum(
            sample_count(p, call.params) for p in call.prompts
        )
    assert all(total <= 3 * 8 for total in per_step.values()), per_step
    for result in results:
        assert len(result.candidates) == 8 and result.answer == "42"
        assert all(c.finish_reason == "eos" for c in result.candidates)
        assert result.cost.generations == 8 * 4


def test_spec_parameters_and_errors():
    strategy = get_strategy("rebase:balance_temperature=0.5")
    assert strategy.spec == "rebase:balance_temperature=0.5"
    assert strategy.needs_step_verifier and not strategy.reuses_samples
    assert strategy.plan(16).effective_budget == 16
    with pytest.raises(ValueError, match="balance_temperature must be > 0"):
        get_strategy("rebase:balance_temperature=-1")
    with pytest.raises(ValueError, match="unknown parameter 'dedupe'"):
        get_strategy("rebase:dedupe=true")


def paired(spec_a: str, spec_b: str, budget: int) -> tuple[int, int]:
    """(problems only A gets right, problems only B gets right) on the hardest fifth."""
    world = SimulatedWorld(200, seed=0)
    hardest = sorted(world.problems, key=lambda p: p.metadata["difficulty"])[-40:]
    right = []
    for spec in (spec_a, spec_b):
        results = get_strategy(spec).run(hardest, budget, world.generator(), world.verifier())
        right.append([grade(r.answer, p.answer) for r, p in zip(results, hardest, strict=True)])
    pairs = list(zip(*right, strict=True))
    return sum(a and not b for a, b in pairs), sum(b and not a for a, b in pairs)


def sign_test_p(wins: int, losses: int) -> float:
    """One-sided exact binomial p-value of at least ``wins`` of the discordant pairs."""
    n = wins + losses
    return math.fsum(math.comb(n, k) for k in range(wins, n + 1)) / 2**n if n else 1.0


def test_rebase_beats_weighted_best_of_n_on_the_hardest_fifth():
    wins, losses = paired("rebase", "weighted_best_of_n", 16)
    assert sign_test_p(wins, losses) < 0.01, f"N=16: REBASE wins {wins}, loses {losses}"


def test_rebase_is_not_behind_beam_search_at_a_small_budget_on_the_hardest_fifth():
    """Balancing the width by reward spends a small budget better than a fixed M per
    survivor (Wu et al.: REBASE at or above beam search across budgets)."""
    wins, losses = paired("rebase", "beam_search", 4)
    assert wins >= losses, f"N=4: REBASE wins {wins}, loses {losses} against beam search"
