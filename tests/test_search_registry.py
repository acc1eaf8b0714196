"""The strategy registry (spec strings) and the budget semantics table."""

from __future__ import annotations

import pytest

from calibration.sampling.strategy_plan import pool_sampler
from strategies.generation import GenerationSettings
from strategies.search import generations_for_budget, get_strategy, strategy_names
from strategies.search.base import STRATEGIES
from strategies.search.registry import strategy_parameters
from strategies.search.sampling import SamplingStrategy


def test_registered_strategies_declare_what_they_need():
    """Every registered name builds a strategy that says what it needs, instead of
    callers testing its class; the set of names is open (plug-ins add themselves)."""
    names = strategy_names()
    assert len(names) == len(set(names)) and {"majority", "beam_search"} <= set(names)
    for name in names:
        strategy = get_strategy(name)
        assert strategy.spec == name and STRATEGIES.summary(name)
        if strategy.reuses_samples:
            assert not strategy.needs_step_verifier
            assert strategy.plan(4).max_generator_calls == 1
        if strategy.needs_step_verifier:
            assert strategy.needs_verifier
    assert get_strategy("majority").reuses_samples and not get_strategy("majority").needs_verifier
    assert get_strategy("dvts").needs_step_verifier and not get_strategy("dvts").reuses_samples


def test_a_strategy_registered_in_its_own_module_is_found_by_spec():
    class Echo(SamplingStrategy):
        method = "majority"
        needs_verifier = False

    STRATEGIES.add("echo_for_test", Echo, summary="test only")
    try:
        strategy = get_strategy("echo_for_test:temperature=0.5")
        assert isinstance(strategy, Echo) and strategy.spec == "echo_for_test:temperature=0.5"
        assert "echo_for_test" in strategy_names()
    finally:
        STRATEGIES._entries.pop("echo_for_test")
        STRATEGIES._loaded.pop("echo_for_test")


def test_defaults_follow_the_design():
    beam = get_strategy("beam_search")
    assert beam.spec == "beam_search"
    assert (beam.config.beam_width, beam.config.depth, beam.config.temperature) == (4, 40, 0.8)
    assert beam.config.reduction == "last" and beam.config.lookahead == 0
    assert get_strategy("best_of_n").config.reduction == "last"
    sampling = get_strategy("majority").config
    assert (sampling.temperature, sampling.top_p, sampling.max_tokens) == (0.8, 1.0, 2048)


def test_spec_parameters_aliases_and_canonical_form():
    strategy = get_strategy(" dvts : m=8, depth=12, k=1, dedupe=yes, reduction=min ")
    config = strategy.config
    assert (config.beam_width, config.depth, config.lookahead, config.dedupe) == (8, 12, 1, True)
    assert strategy.spec == "dvts:beam_width=8,depth=12,lookahead=1,dedupe=true,reduction=min"
    assert get_strategy(strategy.spec).spec == strategy.spec
    assert get_strategy("beam_search:m=4,depth=40").spec == "beam_search"
    assert get_strategy("best_of_n:reduction=prod").spec == "best_of_n:reduction=prod"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("beam", "unknown strategy 'beam'; did you mean 'beam_search'.*known: .*majority"),
        ("", "empty strategy spec"),
        ("beam_search:width=4", "unknown parameter 'width' for beam_search; known: beam_width"),
        ("majority:reduction=min", "unknown parameter 'reduction' for majority"),
        ("beam_search:m=four", "bad value 'four' for beam_width"),
        ("beam_search:dedupe=maybe", "bad value 'maybe' for dedupe"),
        ("beam_search:m=4,m=8", "given twice"),
        ("beam_search:m", "needs the form name=value"),
        ("best_of_n:reduction=median", "unknown score reduction 'median'"),
        ("dvts:depth=0", "depth must be >= 1"),
        ("dvts:k=-1", "lookahead must be >= 0"),
    ],
)
def test_bad_specs_are_refused_clearly(spec, message):
    with pytest.raises(ValueError, match=message):
        get_strategy(spec)


def test_parameters_have_help():
    params = strategy_parameters("beam_search")
    assert "children per kept node" in params["beam_width"]
    assert "reduction" not in strategy_parameters("majority")


@pytest.mark.parametrize("name", ["majority", "best_of_n", "weighted_best_of_n"])
@pytest.mark.parametrize("budget", [1, 3, 16, 256])
def test_budget_of_sampling_strategies_is_the_number_of_samples(name, budget):
    plan = generations_for_budget(name, budget)
    assert plan.effective_budget == plan.solution_equivalents == plan.max_generations == budget
    assert plan.max_generator_calls == 1
    assert plan.max_verifier_calls == (0 if name == "majority" else 1)


@pytest.mark.parametrize(
    ("spec", "budget", "width", "groups", "kept", "effective"),
    [
        ("beam_search", 16, 4, 1, 4, 16),
        ("dvts", 16, 4, 4, 1, 16),
        ("beam_search", 256, 4, 1, 64, 256),
        ("dvts", 256, 4, 64, 1, 256),
        ("beam_search", 4, 4, 1, 1, 4),
        ("dvts", 4, 4, 1, 1, 4),
        ("beam_search", 2, 2, 1, 1, 2),
        ("dvts", 1, 1, 1, 1, 1),
        ("beam_search", 6, 4, 1, 1, 4),
        ("dvts:m=8", 16, 8, 2, 1, 16),
    ],
)
def test_budget_of_tree_searches_is_the_number_of_beams(
    spec, budget, width, groups, kept, effective
):
    plan = generations_for_budget(spec, budget)
    assert (plan.beam_width, plan.groups, plan.kept_per_group) == (width, groups, kept)
    assert plan.effective_budget == effective == groups * kept * width
    assert plan.solution_equivalents == effective
    assert plan.max_generator_calls == 40 and plan.max_verifier_calls == 40
    assert plan.max_generations == effective * 40


def test_lookahead_multiplies_the_cost():
    plan = generations_for_budget("beam_search:depth=10,k=2", 16)
    assert plan.solution_equivalents == 16 * 3
    assert plan.max_generator_calls == 10 + 2 * 9
    assert plan.max_generations == 16 * 10 + 16 * 2 * 9


@pytest.mark.parametrize("budget", [0, -4, 2.5, True])
def test_bad_budgets_are_refused(budget):
    with pytest.raises(ValueError, match="budget must be a positive integer"):
        generations_for_budget("dvts", budget)
    with pytest.raises(ValueError, match="budget must be a positive integer"):
        generations_for_budget("majority", budget)


def test_with_generation_fills_in_only_the_settings_a_spec_leaves_at_their_defaults():
    run = GenerationSettings(temperature=0.5, top_p=0.9, max_tokens=64, reduction="min")
    beam = get_strategy("beam_search:temperature=1.2").with_generation(run)
    assert (beam.config.temperature, beam.config.top_p, beam.config.max_tokens) == (1.2, 0.9, 64)
    assert beam.config.reduction == "last", "a search ranks by its own reduction"
    assert beam.spec == get_strategy("beam_search:temperature=1.2,top_p=0.9,max_tokens=64").spec
    majority = get_strategy("majority")
    assert majority.with_generation(GenerationSettings()) is majority


def test_the_pool_sampler_takes_every_generation_setting():
    run = GenerationSettings(temperature=0.5, top_p=0.9, max_tokens=64, reduction="min")
    sampler = pool_sampler(run)
    assert sampler.reuses_samples and sampler.name == "weighted_best_of_n"
    assert (sampler.config.temperature, sampler.config.max_tokens) == (0.5, 64)
    assert sampler.config.reduction == "min"
