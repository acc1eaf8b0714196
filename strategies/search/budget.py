"""What "budget N" means for each strategy: the one place that says it.

The budget is the number of full solutions a strategy may spend per problem (DESIGN.md
s.2), so strategies at the same N cost about the same tokens and can be compared:

| strategy           | budget N means                                  | generator calls            | generations (completions)          | verifier calls |
|--------------------|-------------------------------------------------|----------------------------|------------------------------------|----------------|
| majority           | N full solutions sampled to EOS                 | 1                          | N                                  | 0              |
| best_of_n          | N full solutions, each scored                   | 1                          | N                                  | 1              |
| weighted_best_of_n | N full solutions, each scored                   | 1                          | N                                  | 1              |
| beam_search        | N beams: N/M kept nodes x M children per step   | <= depth + k (depth - 1)   | <= N depth + N k (depth - 1)       | <= depth       |
| dvts               | N beams: N/M subtrees x M children per step     | <= depth + k (depth - 1)   | <= N depth + N k (depth - 1)       | <= depth       |

Tree searches (M = beam width, k = lookahead):
- The width used is ``min(M, N)`` and N is rounded down to a multiple of it: the effective
  budget is ``(N // width) * width``. So N < M still runs (N=2, M=4: width 2, one kept
  node) and N=6, M=4 runs as N=4; ``BudgetPlan.effective_budget`` says which.
- A "generation" in the ledger is one completion returned by the generator: a single
  step for tree searches, a whole solution for sampling. Tree searches spend at most N
  step generations per search step plus N x k greedy lookahead steps (none at the last
  step), so their token cost is comparable with N full solutions when k = 0 and about
  N x (k + 1) solutions with lookahead: ``solution_equivalents``.
- Counts are upper bounds: finished beams leave the pool, so later steps expand fewer
  nodes, and the search stops when no beam is live.
- Sampling strategies that reuse R earlier samples (the router's probe) generate only
  N - R new ones.
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


@dataclass(frozen=True)
class TreeLayout:
    """One problem's search tree: ``groups`` independent groups, each keeping its
    ``kept`` best nodes per step, and every kept node expanding ``width`` children."""

    groups: int
    kept: int
    width: int

    @property
    def beams(self) -> int:
        return self.groups * self.kept * self.width


def check_budget(budget: int) -> None:
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be a positive integer, got {budget!r}")


def beam_search_layout(budget: int, beam_width: int) -> TreeLayout:
    """One group per problem keeping its top N/M nodes."""
    check_budget(budget)
    width = min(beam_width, budget)
    return TreeLayout(groups=1, kept=budget // width, width=width)


def dvts_layout(budget: int, beam_width: int) -> TreeLayout:
    """N/M independent subtrees per problem, each keeping its single best node."""
    check_budget(budget)
    width = min(beam_width, budget)
    return TreeLayout(groups=budget // width, kept=1, width=width)


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
    strategy: str, budget: int, layout: TreeLayout, depth: int, lookahead: int
) -> BudgetPlan:
    beams = layout.beams
    return BudgetPlan(
        strategy=strategy,
        budget=budget,
        effective_budget=beams,
        solution_equivalents=beams * (1 + lookahead),
        max_generator_calls=depth + lookahead * (depth - 1),
        max_generations=beams * depth + beams * lookahead * (depth - 1),
        max_verifier_calls=depth,
        beam_width=layout.width,
        groups=layout.groups,
        kept_per_group=layout.kept,
        lookahead=lookahead,
    )


def generations_for_budget(spec: str, budget: int) -> BudgetPlan:
    """The plan of strategy ``spec`` (e.g. ``"beam_search:m=4"``) at budget N."""
    # Imported here because the registry builds strategies that use this module's plans.
    from strategies.search.registry import get_strategy

    return get_strategy(spec).plan(budget)
