"""What "budget N" means: the number of full solutions a strategy may spend per problem.

The budget is comparable across strategies (DESIGN.md s.2): strategies at the same N
cost about the same tokens. Each strategy's ``plan(N)`` says exactly how it spends N
(``generations_for_budget(spec, N)`` from a spec); its module docstring says why.

- Strategies over N independent full solutions (majority, best-of-N, weighted
  best-of-N): N samples to EOS, one generator call, one verifier call when they score.
  Those that reuse R earlier samples (the router's earlier rounds) generate only N - R new ones.
- Step-level searches (beam search, DVTS, particle filtering, REBASE): at most N step
  generations per search step ("beams"), plus N x k greedy look-ahead steps (none at
  the last step), for at most ``depth`` steps. A "generation" in the ledger is one
  completion returned by the generator: a single step here, a whole solution for
  sampling. So a search costs about N full solutions when k = 0 and about N x (k + 1)
  with look-ahead: ``solution_equivalents``. Counts are upper bounds: finished nodes
  leave, so later steps may expand fewer, and a search stops when nothing is live.
  A search may use fewer than N beams (beam search rounds N down to a multiple of its
  width): ``effective_budget`` says how many.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BudgetPlan:
    """How a strategy spends budget N on one problem."""

    strategy: str
    budget: int
    effective_budget: int
    solution_equivalents: int
    max_generator_calls: int
    max_generations: int
    max_verifier_calls: int
    beam_width: int | None = None
    groups: int | None = None
    kept_per_group: int | None = None
    lookahead: int = 0


def check_budget(budget: int) -> None:
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be a positive integer, got {budget!r}")


def sampling_plan(strategy: str, budget: int, *, uses_verifier: bool) -> BudgetPlan:
    check_budget(budget)
    return BudgetPlan(
        strategy=strategy,
        budget=budget,
        effective_budget=budget,
        solution_equivalents=budget,
        max_generator_calls=1,
        max_generations=budget,
        max_verifier_calls=1 if uses_verifier else 0,
    )


def tree_plan(
    strategy: str,
    budget: int,
    *,
    beams: int,
    depth: int,
    lookahead: int,
    beam_width: int | None = None,
    groups: int | None = None,
    kept_per_group: int | None = None,
) -> BudgetPlan:
    """The plan of a step-level search making at most ``beams`` step generations in one
    generator call per step (children of several counts share it: ``Prompt.samples``),
    plus its look-ahead calls."""
    check_budget(budget)
    return BudgetPlan(
        strategy=strategy,
        budget=budget,
        effective_budget=beams,
        solution_equivalents=beams * (1 + lookahead),
        max_generator_calls=depth + lookahead * (depth - 1),
        max_generations=beams * depth + beams * lookahead * (depth - 1),
        max_verifier_calls=depth,
        beam_width=beam_width,
        groups=groups,
        kept_per_group=kept_per_group,
        lookahead=lookahead,
    )


def generations_for_budget(spec: str, budget: int) -> BudgetPlan:
    """The plan of strategy ``spec`` (e.g. ``"beam_search:m=4"``) at budget N."""
    # Imported here because the registry builds strategies that use this module's plans.
    from strategies.search.registry import get_strategy

    return get_strategy(spec).plan(budget)
