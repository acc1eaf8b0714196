"""REBASE, reward-balanced search (Wu et al., "Inference scaling laws: an empirical
analysis of compute-optimal inference for problem-solving with language models",
ICLR 2025).

Budget N is the total width. The first step samples N children. After each step, every
child that has finished joins the final pool and uses up one unit of the width; the width
left is split among the unfinished children in proportion to softmax(score / T) (score:
the child's step scores reduced by ``reduction``, ``last`` by default; T:
``balance_temperature``), so a promising node gets many children and a poor one none,
where beam search gives every survivor the same M. The split is exact (largest
remainders, ties to the earlier child) rather than the paper's per-node rounding, so a
step never spends more or less than the width left. The search ends when the pool holds
N solutions or at the depth limit (whose step runs to EOS); the answer is weighted
best-of-N over the pool. Reported to match sampling's MATH-500 accuracy at about half
its FLOPs.

Identical children are one prefix expanded into their summed share. Nodes asking for
different numbers of children share the step's one generator call, each prompt with its
own sample count (``Prompt.samples``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from strategies.search.base import register_strategy
from strategies.search.selector import Expansion, Node, Selector, StepChoice, merged, softmax
from strategies.search.tree import StepSearch, TreeSearchConfig


@dataclass(frozen=True)
class RebaseConfig(TreeSearchConfig):
    balance_temperature: float = field(
        default=0.1, metadata={"help": "T of the softmax over scores that splits the width"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.balance_temperature > 0:
            raise ValueError(f"balance_temperature must be > 0, got {self.balance_temperature}")


def split_width(width: int, shares: Sequence[float]) -> list[int]:
    """``width`` children split by ``shares`` (summing to 1) into integers that sum to it:
    each gets the floor of its share, the rest go to the largest remainders."""
    exact = [width * share for share in shares]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(shares)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: width - sum(counts)]:
        counts[i] += 1
    return counts


class RebaseSelector(Selector):
    def __init__(self, width: int, temperature: float) -> None:
        self.width = width
        self.left = width
        self.temperature = temperature
        self.widths: list[int] = []

    def first_children(self) -> int:
        return self.width

    def select(self, children: list[Node], depth: int) -> StepChoice:
        solutions = [child for child in children if child.finished][: self.left]
        self.left -= len(solutions)
        live = [child for child in children if not child.finished]
        if self.left <= 0 or not live:
            return StepChoice(solutions=solutions)
        shares = softmax([node.rank for node in live], self.temperature)
        counts = split_width(self.left, shares)
        self.widths.append(sum(1 for count in counts if count))
        expand = merged(Expansion(node, count) for node, count in zip(live, counts, strict=True))
        return StepChoice(expand, solutions)

    def extra(self) -> dict[str, Any]:
        return {"effective_budget": self.width, "expanded_nodes_per_step": self.widths}


@register_strategy(
    "rebase", summary="total width N split among nodes by softmax(score / T) at each depth"
)
class Rebase(StepSearch):
    short_name, label = "rebase", "REBASE"
    config_type = RebaseConfig
    hidden_parameters = frozenset({"beam_width", "dedupe"})

    def selector(self, budget: int, seed: int) -> Selector:
        return RebaseSelector(budget, self.config.balance_temperature)
