"""Which strategies a calibration evaluates, and how.

Strategy specs are those of ``strategies.search.registry`` (``beam_search:m=4``,
``best_of_n:reduction=min``). Their canonical ``spec`` is the key used in shards and
tables. Strategies that reuse samples (majority and both best-of-N:
``strategy.reuses_samples``) are *pool* strategies, estimated from the stage 1 pool;
every other registered strategy (beam search, DVTS, particle filtering, REBASE, and any
step-level search added later) is a *tree* strategy, run for real in stage 3 with the
run's generation settings (temperature, top_p, max tokens) unless its spec sets them.

Tree searches run at every budget N >= 2 (or, with ``--tree-budgets``, at the ones listed:
on a CPU the big tree budgets dominate the run time) that the strategy spends exactly (see
``strategies.search.budget``: N=6 with beam width 4 would run as N=4, so it is
skipped). N=1 is skipped because a one-beam search is one sample written step by step
at extra verifier cost, never a contender. A skipped budget is never silent: the plan's
``notes`` (printed with the summary) say which and why, and a budget named explicitly in
``--tree-budgets`` that a tree strategy cannot spend exactly is an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from strategies.search.registry import get_strategy

MIN_TREE_BUDGET = 2


@dataclass(frozen=True)
class PoolStrategy:
    key: str
    method: str
    reduction: str
    uses_verifier: bool


@dataclass(frozen=True)
class TreeStrategy:
    key: str
    run_spec: str
    budgets: tuple[int, ...]


@dataclass(frozen=True)
class StrategyPlan:
    pool: tuple[PoolStrategy, ...]
    tree: tuple[TreeStrategy, ...]
    notes: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.pool) + tuple(s.key for s in self.tree)


def _with_generation_settings(key: str, settings: Mapping[str, object]) -> str:
    given = key.partition(":")[2]
    names = {item.partition("=")[0] for item in given.split(",") if item}
    extra = [f"{name}={value}" for name, value in settings.items() if name not in names]
    if not extra:
        return key
    return key + ("," if given else ":") + ",".join(extra)


def plan_strategies(
    specs: Sequence[str],
    budgets: Sequence[int],
    *,
    tree_budgets: Sequence[int] | None = None,
    temperature: float,
    top_p: float,
    max_tokens: int,
) -> StrategyPlan:
    pool: list[PoolStrategy] = []
    tree: list[TreeStrategy] = []
    notes: list[str] = []
    seen: set[str] = set()
    generation = {"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens}
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
        run_spec = _with_generation_settings(key, generation)
        runner = get_strategy(run_spec)
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
        tree.append(TreeStrategy(key, run_spec, runs_at))
    return StrategyPlan(tuple(pool), tuple(tree), tuple(notes))


def sampling_spec(*, temperature: float, top_p: float, max_tokens: int, reduction: str) -> str:
    """The spec stage 1 runs: K full solutions, each scored (weighted best-of-N's pool)."""
    return (
        f"weighted_best_of_n:temperature={temperature},top_p={top_p},"
        f"max_tokens={max_tokens},reduction={reduction}"
    )
