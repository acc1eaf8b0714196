"""Which strategies a calibration evaluates, and how.

Strategy specs are those of ``strategies.search.registry`` (``beam_search:m=4``,
``best_of_n:reduction=min``). Their canonical ``spec`` is the key used in shards and
tables. Strategies that reuse samples (majority and both best-of-N:
``strategy.reuses_samples``) are *pool* strategies, estimated from the stage 1 pool;
every other registered strategy (beam search, DVTS, particle filtering, REBASE, and any
step-level search added later) is a *tree* strategy, run for real in stage 3 with the
run's generation settings (temperature, top_p, max tokens) unless its spec sets them
(``SearchStrategy.with_generation``).

Tree searches run at every budget N >= 2 (or, with ``--tree-budgets``, at the ones listed:
on a CPU the big tree budgets dominate the run time) that the strategy spends exactly (see
``strategies.search.budget``: N=6 with beam width 4 would run as N=4, so it is
skipped). N=1 is skipped because a one-beam search is one sample written step by step
at extra verifier cost, never a contender. A skipped budget is never silent: the plan's
``notes`` (printed with the summary) say which and why, and a budget named explicitly in
``--tree-budgets`` that a tree strategy cannot spend exactly is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

from strategies.generation import GenerationSettings
from strategies.search.base import SearchStrategy
from strategies.search.registry import get_strategy

MIN_TREE_BUDGET = 2
POOL_STRATEGY = "weighted_best_of_n"


@dataclass(frozen=True)
class PoolStrategy:
    key: str
    method: str
    reduction: str
    uses_verifier: bool


@dataclass(frozen=True)
class TreeStrategy:
    """``key``: the table's name of the strategy; ``runner``: it with the run's settings."""

    key: str
    runner: SearchStrategy
    budgets: tuple[int, ...]


@dataclass(frozen=True)
class StrategyPlan:
    pool: tuple[PoolStrategy, ...]
    tree: tuple[TreeStrategy, ...]
    notes: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.pool) + tuple(s.key for s in self.tree)


def plan_strategies(
    specs: Sequence[str],
    budgets: Sequence[int],
    *,
    tree_budgets: Sequence[int] | None = None,
    generation: GenerationSettings,
) -> StrategyPlan:
    pool: list[PoolStrategy] = []
    tree: list[TreeStrategy] = []
    notes: list[str] = []
    seen: set[str] = set()
    for spec in specs:
        strategy = get_strategy(spec)
        key = strategy.spec
        if key in seen:
            raise ValueError(f"--strategies names {key!r} twice")
        seen.add(key)
        if strategy.reuses_samples:
            pool.append(
                PoolStrategy(
                    key, strategy.method, strategy.config.reduction, strategy.needs_verifier
                )
            )
            continue
        runner = strategy.with_generation(generation)
        wanted = [
            b
            for b in sorted(set(budgets))
            if b >= MIN_TREE_BUDGET and (tree_budgets is None or b in tree_budgets)
        ]
        inexact = {b: runner.plan(b).effective_budget for b in wanted}
        inexact = {b: ran for b, ran in inexact.items() if ran != b}
        if inexact:
            shown = ", ".join(f"N={b} would run as N={ran}" for b, ran in inexact.items())
            reason = (
                f"{key} rounds a budget down to a multiple of its beam width ({shown}), so "
                f"it is not run at N={', '.join(str(b) for b in inexact)}"
            )
            if tree_budgets is not None:
                raise ValueError(
                    f"--tree-budgets: {reason}. Choose tree budgets it spends exactly, or "
                    "leave those out"
                )
            notes.append(f"{reason}; those budgets compare the sampling strategies only")
        runs_at = tuple(b for b in wanted if b not in inexact)
        tree.append(TreeStrategy(key, runner, runs_at))
    return StrategyPlan(tuple(pool), tuple(tree), tuple(notes))


def pool_sampler(generation: GenerationSettings) -> SearchStrategy:
    """What draws a pool (stage 1's K samples, the router's probe and pooled strategies):
    weighted best-of-N, every solution scored, under ``generation``'s settings."""
    strategy = get_strategy(POOL_STRATEGY)
    config = replace(strategy.config, **asdict(generation))
    return type(strategy)(strategy.name, config)
