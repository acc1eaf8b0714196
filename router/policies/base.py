"""What every budget policy is: a parsed ``--budget`` value that decides, round by round,
what each live problem does next.

The router runs in rounds (``router.rounds``). Before each round it shows the policy
every live problem's state and the batch's spend so far (``RoundView``); the policy
answers with one ``Decision`` per problem: stop and answer, sample up to a count, or
run a tree search at a budget. Adding a policy is one module in this package that
subclasses ``BudgetPolicy`` and registers itself with ``POLICIES``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from runtime.actions import MAX_RUNS, ActionKey, Decision, is_checked
from runtime.answer_rule import AnswerRule
from runtime.decision_model import SequentialModel
from strategies.registry import Registry
from strategies.search.result import Candidate


class PolicyError(ValueError):
    """A ``--budget`` value that cannot be used; the message says which forms exist."""


@dataclass(frozen=True)
class LiveProblem:
    """What a policy may look at for one problem between rounds."""

    problem_id: str
    features: np.ndarray  # runtime.states.state_features
    candidates: tuple[Candidate, ...]
    rung_index: int  # the model's rung for len(candidates)
    spent: float  # compute spent on it so far, in the router's cost unit


@dataclass(frozen=True)
class RoundView:
    """One round as the policy sees it. ``spent`` is the whole batch's spend so far
    (finished problems included); ``unit_cost`` converts the model's generations into
    the router's cost unit for samples and for each tree key."""

    model: SequentialModel
    problems: Sequence[LiveProblem]
    spent: float
    cost_unit: str

    def sample_cost(self, count: float) -> float:
        if self.cost_unit == "generations":
            return float(count)
        return float(count) * self.model.sample_flops

    def first_run_cost(self, decision: Decision, live: LiveProblem) -> float:
        """What ``decision`` spends for sure: a checked search's first run only (its
        further runs are admitted later, when the round can still pay for them)."""
        return self._cost(decision, live, 1.0)

    def expected_cost(self, decision: Decision, live: LiveProblem) -> float:
        """What ``decision`` is expected to spend: a checked search what it spent on
        average in calibration (``Decision.expected_cost``), sampling on what the model
        expects it to spend from here on."""
        if decision.kind == "sample":
            return self.sample_cost(decision.expected_cost)
        if decision.kind != "tree" or not is_checked(decision.strategy):
            return self.first_run_cost(decision, live)
        budget = float(decision.budget or 0)
        runs = decision.expected_cost / budget if budget > 0 else 1.0
        return self._cost(decision, live, min(max(runs, 1.0), float(MAX_RUNS)))

    def _cost(self, decision: Decision, live: LiveProblem, runs: float) -> float:
        if decision.kind == "stop":
            return 0.0
        if decision.kind == "sample":
            return self.sample_cost(max(0, (decision.budget or 0) - len(live.candidates)))
        return self.run_cost(decision.strategy or "", int(decision.budget or 0)) * runs

    def run_cost(self, strategy: str, budget: int) -> float:
        """One run of tree search ``strategy`` at ``budget``, in the router's unit."""
        if self.cost_unit == "generations":
            return float(budget)
        return self.model.tree_flops.get(str(ActionKey.of(strategy, budget).plain()), 0.0)


class SecondOpinionRoom:
    """What a round's second opinions may spend under a shared budget, drawn down as
    further runs are admitted: ``set_aside``, what the round planned for them, and up to
    ``most`` (what is left of the budget after every first run) for the searches in
    ``borrowing``, whose further runs are worth borrowing from later rounds."""

    def __init__(self, set_aside: float, most: float, borrowing: frozenset[str]) -> None:
        self.most = max(most, 0.0)
        self.set_aside = min(max(set_aside, 0.0), self.most)
        self.borrowing = borrowing

    def admit(self, key: str, count: int, cost: float) -> int:
        """How many of ``count`` further runs of ``key`` (``cost`` each) it pays for."""
        admitted = 0
        for _ in range(count):
            if cost <= self.set_aside + 1e-9:
                self.set_aside -= cost
            elif key not in self.borrowing or cost > self.most + 1e-9:
                break
            self.most -= cost
            self.set_aside = min(self.set_aside, self.most)
            admitted += 1
        return admitted


class BudgetPolicy(ABC):
    """A parsed ``--budget`` value. Subclasses set ``name`` and ``forms`` (for help)."""

    name: ClassVar[str]
    forms: ClassVar[str]

    @classmethod
    @abstractmethod
    def parse(cls, argument: str) -> BudgetPolicy:
        """Build from the text after ``name:`` (or the whole text for bare forms)."""

    @abstractmethod
    def __str__(self) -> str: ...

    @property
    def slug(self) -> str:
        """A file-name-safe form (for default output paths)."""
        return str(self).replace(":", "-")

    def check(self, budgets: Sequence[int], num_problems: int | None = None) -> None:  # noqa: B027
        """Refuse settings the calibration cannot serve, before any compute is spent (a
        hook: most policies can serve any calibration)."""

    @property
    def shared_budget(self) -> float | None:
        """What the whole batch may spend together (``total:B``); None where each problem
        is routed on its own."""
        return None

    @property
    def batch_wide(self) -> bool:
        """Whether the whole batch must be decided together: it shares one budget."""
        return self.shared_budget is not None

    def check_batch(  # noqa: B027
        self, num_problems: int, one_sample: float, unit: str, available: float | None = None
    ) -> None:
        """Refuse a shared budget this batch cannot honour (a hook: only policies with a
        ``shared_budget`` have one to check)."""

    def for_batch(
        self,
        model: SequentialModel,
        num_problems: int,
        budget_left: float | None,
        cost_unit: str,
    ) -> BudgetPolicy:
        """The policy to run on one batch (itself, unless a policy hands batches on)."""
        return self

    def check_model(self, model: SequentialModel) -> None:  # noqa: B027
        """Refuse a decision model this policy cannot use (a hook, like ``check``)."""

    def answer_rule(self, model: SequentialModel, samples: int) -> AnswerRule:
        """How a problem stopped with ``samples`` drawn is answered: the rule the
        calibration found best at that rung (the decision model is fitted on it)."""
        return model.answer_rule(samples)

    def needs_scores(self, model: SequentialModel) -> bool:
        """Whether samples must be scored: the decision model reads the scores of a
        scored calibration, whatever rule answers."""
        return model.scored

    @abstractmethod
    def decide(self, view: RoundView) -> list[Decision]:
        """One decision per ``view.problems`` entry, in order."""

    def second_opinion_room(
        self, view: RoundView, decisions: Sequence[Decision]
    ) -> SecondOpinionRoom | None:
        """What this round's second opinions (a checked search's further runs) may spend;
        None: no limit beyond each decision's own, for policies that admit a checked
        search at its most (every per-problem cap)."""
        return None

    def price(self, model: SequentialModel) -> float | None:
        """The price per unit of compute the policy routes at, when it has one."""
        return None

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and str(other) == str(self)

    def __hash__(self) -> int:
        return hash((type(self).__name__, str(self)))


# every module of this package is imported on the first lookup: a policy is one file
POLICIES: Registry[type[BudgetPolicy]] = Registry("budget policy", plugins="router.policies")


def parse_number(raw: str, text: str, what: str, *, positive: bool = True) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise PolicyError(f"--budget {raw!r}: {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise PolicyError(f"--budget {raw!r}: {what} must be a positive number")
    return value


def parse_count(raw: str, text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise PolicyError(f"--budget {raw!r}: {what} {text!r} is not a whole number") from None
    if value < 1:
        raise PolicyError(f"--budget {raw!r}: {what} must be >= 1")
    return value


def format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"
