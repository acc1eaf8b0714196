"""The router's actions: the key that names a fixed run, and one decision.

An action key is written ``strategy[+check]@budget``: ``majority@8``, ``rebase@4``,
``rebase:depth=6,step_tokens=48,max_tokens=128+check@8``. It keys the decision model's
tree searches, the calibration's tables and every report, so it is parsed and written
here only: a strategy's own parameters may hold any character but ``@`` is the last
separator, and ``+check`` (a search that may run again for a second opinion) sits
between the strategy and the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CHECK_SUFFIX = "+check"
# a checked search runs at most this many times (the first run and two second opinions)
MAX_RUNS = 3

ActionKind = Literal["stop", "sample", "tree"]


def is_checked(strategy: str | None) -> bool:
    """Whether a strategy name asks for second opinions (``rebase+check``)."""
    return bool(strategy) and str(strategy).endswith(CHECK_SUFFIX)


def base_strategy(strategy: str) -> str:
    """The strategy without its ``+check``."""
    return strategy[: -len(CHECK_SUFFIX)] if is_checked(strategy) else strategy


@dataclass(frozen=True)
class ActionKey:
    """A fixed run: ``base`` strategy (parameters included), whether it is ``checked``,
    and its ``budget`` in generations (N)."""

    base: str
    budget: int
    checked: bool = False

    @classmethod
    def parse(cls, text: str) -> ActionKey:
        strategy, at, budget = text.rpartition("@")
        if not at or not strategy or not budget.isdigit():
            raise ValueError(f"action key {text!r}: expected STRATEGY@N, N a whole number")
        return cls.of(strategy, int(budget))

    @classmethod
    def of(cls, strategy: str, budget: int) -> ActionKey:
        """From a strategy name that may end in ``+check``."""
        return cls(base_strategy(strategy), int(budget), is_checked(strategy))

    @property
    def strategy(self) -> str:
        """The strategy as named in records: ``+check`` included when checked."""
        return self.base + CHECK_SUFFIX if self.checked else self.base

    @property
    def most_generations(self) -> int:
        """The most this action may spend: its budget, three times over for a search that
        may ask for a second opinion. Every cap admits an action at this, so none is
        ever overspent."""
        return self.budget * (MAX_RUNS if self.checked else 1)

    def with_check(self) -> ActionKey:
        return ActionKey(self.base, self.budget, True)

    def plain(self) -> ActionKey:
        return ActionKey(self.base, self.budget, False)

    def __str__(self) -> str:
        return f"{self.strategy}@{self.budget}"


def action_key(strategy: str, budget: int) -> str:
    """The written key of ``strategy`` at ``budget`` (what tables and models are keyed by)."""
    return str(ActionKey.of(strategy, budget))


def split_label(label: str) -> tuple[str, str]:
    """A report label's (strategy, ``@N``) halves; a label without a budget (``router``,
    ``stop``) comes back whole, with an empty second half."""
    try:
        key = ActionKey.parse(label)
    except ValueError:
        return label, ""
    return key.strategy, f"@{key.budget}"


@dataclass(frozen=True)
class Decision:
    """One action for one problem. ``budget``: the tree's N, or the rung to sample up to.

    ``expected_accuracy`` is the model's P(final answer right) under this action (and the
    policy after it); ``expected_cost`` the further generations it expects to spend.
    """

    kind: ActionKind
    expected_accuracy: float
    expected_cost: float
    strategy: str | None = None
    budget: int | None = None

    @property
    def key(self) -> ActionKey:
        """The tree search this decision runs (only for ``kind == "tree"``)."""
        if self.kind != "tree" or self.strategy is None or self.budget is None:
            raise ValueError(f"{self.kind!r} decisions have no action key")
        return ActionKey.of(self.strategy, self.budget)

    @property
    def label(self) -> str:
        if self.kind == "tree":
            return str(self.key)
        return "stop" if self.kind == "stop" else f"sample to {self.budget}"
