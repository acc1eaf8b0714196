"""Particle filtering: its resampling rule, its pool and ledger, and what it buys on the
seeded simulator (paired by problem, an exact sign test on the discordant ones)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from test_search_doubles import PROMPTS, Script, ScriptedGenerator, ScriptedVerifier, problems

from strategies.answers import grade
from strategies.backends.simulator import SimulatedWorld
from strategies.generation import sample_count
from strategies.search import get_strategy
from strategies.search.particle_filtering import ParticleSelector, log_odds
from strategies.search.selector import Node


def test_resampling_draws_in_proportion_to_softmax_of_log_odds():
    scores = [0.9, 0.5, 0.2]
    temperature = 2.0
    draws: Counter[str] = Counter()
    selector = ParticleSelector(particles=3, temperature=temperature, seed=11)
    for _ in range(3000):
        selector.finished = []
        children = [Node(0, f"p{i}\n\n", 5, rank=s) for i, s in enumerate(scores)]
        draws.update(
            e.node.text for e in selector.select(children, 0).expand for _ in range(e.children)
        )
    weights = [math.exp(log_odds(s) / temperature) for s in scores]
    expected = [w / sum(weights) for w in weights]
    observed = [draws[f"p{i}\n\n"] / 9000 for i in range(3)]
    assert np.allclose(observed, expected, atol=0.02), (observed, expected)


def test_copies_of_a_particle_are_one_prompt_with_that_many_children():
    selector = ParticleSelector(particles=8, temperature=0.01, seed=0)
    children = [Node(0, "good\n\n", 5, rank=0.9), Node(0, "bad\n\n", 5, rank=0.1)]
    choice = selector.select(children, 0)
    assert [(e.node.text, e.children) for e in choice.expand] == [("good\n\n", 8)]


def test_finished_particles_stay_in_the_population_and_form_the_pool():
    selector = ParticleSelector(particles=4, temperature=1e6, seed=3)  # about uniform
    done = Node(0, "boxed\n\n", 5, finished=True, rank=0.99)
    first = selector.select([done, Node(0, "open\n\n", 5, rank=0.01)], 0)
    assert first.expand, "this seed draws the open particle too"
    assert all(not e.node.finished for e in first.expand) and not first.solutions
    assert selector.finished and all(n is done for n in selector.finished)
    last = selector.select([Node(0, "open\n\nend", 9, finished=True, rank=0.5)], 1)
    assert not last.expand and len(last.solutions) == 4
    assert all(node.finished for node in last.solutions)


def test_ledger_and_pool_on_scripted_steps():
    generator = ScriptedGenerator(default=Script(steps=3))
    results = get_strategy("particle_filtering").run(
        problems(2), 8, generator, ScriptedVerifier(), prompt_config=PROMPTS
    )
    assert generator.calls[0].params.n == 8
    for result in results:
        assert len(result.candidates) == 8, "the pool is the N final particles, copies included"
        assert all(c.finish_reason == "eos" for c in result.candidates)
        assert result.answer == "42" and result.cost.generations == 8 * 3
        assert result.extra["effective_budget"] == 8
    for call in generator.calls[1:]:
        steps = sum(sample_count(p, call.params) for p in call.prompts)
        assert steps <= 2 * 8, "at most N steps per problem"


def test_spec_parameters_and_errors():
    strategy = get_strategy("particle_filtering:resample_temperature=0.5,depth=12")
    assert strategy.spec == "particle_filtering:depth=12,resample_temperature=0.5"
    assert strategy.needs_step_verifier and not strategy.reuses_samples
    with pytest.raises(ValueError, match="unknown parameter 'beam_width'"):
        get_strategy("particle_filtering:m=4")
    with pytest.raises(ValueError, match="resample_temperature must be > 0"):
        get_strategy("particle_filtering:resample_temperature=0")


def world_hardest(count: int = 200) -> tuple[SimulatedWorld, list]:
    world = SimulatedWorld(count, seed=0)
    ranked = sorted(world.problems, key=lambda p: p.metadata["difficulty"])
    return world, ranked[-count // 5 :]


def test_a_search_is_reproducible_and_independent_of_its_batch():
    world, hardest = world_hardest()
    strategy = get_strategy("particle_filtering")

    def texts(batch, seed=0):
        results = strategy.run(batch, 8, world.generator(), world.verifier(), seed=seed)
        return [[c.text for c in r.candidates] for r in results]

    together = texts(hardest[:6])
    assert together == [texts([p])[0] for p in hardest[:6]]
    assert texts(hardest[:6], seed=1) != together


def one_sided_sign_test(wins: int, losses: int) -> float:
    n = wins + losses
    return sum(math.comb(n, k) for k in range(wins, n + 1)) / 2**n if n else 1.0


def test_particle_filtering_beats_weighted_best_of_n_on_the_hardest_fifth():
    """Step-level guidance finds right answers that N whole samples rarely contain."""
    world, hardest = world_hardest()
    golds = [p.answer for p in hardest]
    right = {}
    for spec in ("particle_filtering", "weighted_best_of_n"):
        results = get_strategy(spec).run(hardest, 16, world.generator(), world.verifier(), seed=0)
        right[spec] = [grade(r.answer, g) for r, g in zip(results, golds, strict=True)]
    pairs = list(zip(right["particle_filtering"], right["weighted_best_of_n"], strict=True))
    wins, losses = sum(a and not b for a, b in pairs), sum(b and not a for a, b in pairs)
    p_value = one_sided_sign_test(wins, losses)
    assert p_value < 0.01, f"hardest fifth, N=16: PF wins {wins}, loses {losses}, p={p_value:.3g}"
