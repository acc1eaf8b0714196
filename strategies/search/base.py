"""The interface every search strategy shares, its registry, and the step that turns
pools into results.

A strategy registers itself next to its class (``@register_strategy("name", summary=...)``);
``STRATEGIES`` imports every module of ``strategies.search`` on first use, so a new
strategy is one module (and its tests) and nothing else changes. Callers never test a
strategy's class: they read what it declares (``reuses_samples``, ``needs_verifier``,
``needs_step_verifier``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from typing import Any, ClassVar, TypeVar

from strategies.generation import GenerationSettings, Generator
from strategies.problems import Problem
from strategies.prompts import PromptConfig
from strategies.registry import Registry
from strategies.search.accounting import BatchLedger
from strategies.search.budget import BudgetPlan
from strategies.search.result import Candidate, SearchResult
from strategies.search.selection import select
from strategies.verification import Verifier


class SearchStrategy(ABC):
    """A strategy with its parameters, ready to run on a batch of problems.

    ``run`` advances all problems together and returns one SearchResult per problem, in
    order. A generator or verifier exception propagates (with a note saying where); a
    problem that fails on its own (no extractable answer, a verifier that misaligns its
    scores) gets ``error`` set and the others go on.
    """

    #: the dataclass of the strategy's parameters (spec ``name:param=value``)
    config_type: ClassVar[type]
    #: config fields a spec may not set (they mean nothing to this strategy)
    hidden_parameters: ClassVar[frozenset[str]] = frozenset()
    #: a verifier scores its solutions (best-of-N) or steps (searches)
    needs_verifier: ClassVar[bool] = True
    #: it judges partial solutions step by step, so it needs a step-level verifier (PRM)
    needs_step_verifier: ClassVar[bool] = False
    #: it selects among N independent full solutions, so earlier samples (the router's
    #: earlier rounds, calibration's pool) can stand in for new ones (``run(reuse=...)``)
    reuses_samples: ClassVar[bool] = False
    #: how the final answer is chosen from the pool (strategies.search.selection)
    method: ClassVar[str] = "weighted_best_of_n"
    #: a cell-sized name for text grids ("" = the registered name) and a legend label
    short_name: ClassVar[str] = ""
    label: ClassVar[str] = ""

    def __init__(self, name: str, config: Any) -> None:
        self.name = name
        self.config = config

    @property
    def spec(self) -> str:
        """Name plus the parameters that differ from their defaults: a stable key."""
        changed = [
            f"{f.name}={_format_value(getattr(self.config, f.name))}"
            for f in fields(self.config)
            if getattr(self.config, f.name) != f.default
        ]
        return self.name + (":" + ",".join(changed) if changed else "")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}>"

    def with_generation(self, generation: GenerationSettings) -> SearchStrategy:
        """This strategy sampling with ``generation``'s settings (temperature, top_p,
        max_tokens; not the reduction it ranks by) wherever its spec left them at their
        defaults (a setting the spec names is kept): a table's keys leave them out, but
        the calibration ran with its own."""
        sampling = {f.name for f in fields(generation)} - {"reduction"}  # ranks stay own
        changes = {
            f.name: getattr(generation, f.name)
            for f in fields(self.config)
            if f.name in sampling
            and getattr(self.config, f.name) == f.default != getattr(generation, f.name)
        }
        return type(self)(self.name, replace(self.config, **changes)) if changes else self

    @abstractmethod
    def plan(self, budget: int) -> BudgetPlan:
        """How budget N is spent per problem (see strategies.search.budget)."""

    @abstractmethod
    def run(
        self,
        problems: Sequence[Problem],
        budget: int,
        generator: Generator,
        verifier: Verifier | None = None,
        *,
        prompt_config: PromptConfig | None = None,
        seed: int = 0,
        reuse: Sequence[Sequence[Candidate]] | None = None,
    ) -> list[SearchResult]:
        """Solve every problem at budget N; ``reuse`` offers earlier samples per problem."""

    def _check_verifier(self, verifier: Verifier | None) -> None:
        if self.needs_verifier and verifier is None:
            raise ValueError(f"strategy {self.spec!r} needs a verifier; none was given")


StrategyClass = TypeVar("StrategyClass", bound=type[SearchStrategy])
STRATEGIES: Registry[type[SearchStrategy]] = Registry("strategy", plugins="strategies.search")


def register_strategy(name: str, *, summary: str) -> Callable[[StrategyClass], StrategyClass]:
    """Class decorator: make the strategy available as ``name`` in specs."""

    def decorate(cls: StrategyClass) -> StrategyClass:
        STRATEGIES.add(name, cls, summary=summary)
        return cls

    return decorate


def display_names(name: str) -> tuple[str, str]:
    """(short name, label) of a registered strategy; an unknown one (an artifact made
    with a plug-in not installed here) is shown by its name."""
    if name not in STRATEGIES:
        return name, name
    cls = STRATEGIES.get(name)
    return cls.short_name or name, cls.label or name


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def assemble_results(
    *,
    strategy: str,
    method: str,
    reduction: str,
    problems: Sequence[Problem],
    budget: int,
    pools: Sequence[list[Candidate]],
    errors: Sequence[str | None],
    extras: Sequence[dict[str, Any]],
    ledger: BatchLedger,
) -> list[SearchResult]:
    """Choose each problem's answer from its pool and attach the problem's ledger.

    A problem that already failed (``errors[i]``) gets no answer: its pool is reported
    but not trusted.
    """
    batch = ledger.summary()
    results = []
    for index, problem in enumerate(problems):
        pool = pools[index]
        error = errors[index]
        answer = None
        chosen = None
        if pool and error is None:
            choice = select(method, pool, reduction)
            answer = choice.answer
            chosen = pool[choice.index] if choice.index >= 0 else None
        if answer is None and error is None:
            error = (
                f"no extractable answer in {len(pool)} solutions"
                if pool
                else "no solution was produced"
            )
        results.append(
            SearchResult(
                problem_id=problem.id,
                strategy=strategy,
                budget=budget,
                answer=answer,
                chosen=chosen,
                candidates=list(pool),
                cost=ledger.ledgers[index],
                error=error,
                extra={**extras[index], "batch": dict(batch)},
            )
        )
    return results
