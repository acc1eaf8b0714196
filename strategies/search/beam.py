"""Beam search and DVTS: two selectors over the same layout of N beams.

Both keep ``kept`` nodes per group and expand each into M children (M = ``beam_width``):

- **beam search** is one group per problem keeping its N/M best nodes;
- **DVTS** (diverse verifier tree search) is N/M independent groups (subtrees) per
  problem, each keeping its single best node. The first step's N children are dealt to
  the subtrees in order, M each.

The width used is ``min(M, N)`` and N is rounded down to a multiple of it (N=2, M=4 runs
with width 2 and one kept node; N=6, M=4 runs as N=4): ``plan(N).effective_budget``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strategies.search.base import register_strategy
from strategies.search.budget import BudgetPlan, check_budget, tree_plan
from strategies.search.selector import Expansion, Node, Selector, StepChoice, ranked
from strategies.search.tree import StepSearch, TreeSearchConfig


@dataclass(frozen=True)
class TreeLayout:
    """One problem's beams: ``groups`` groups, each keeping its ``kept`` best nodes per
    step, and every kept node expanding ``width`` children."""

    groups: int
    kept: int
    width: int

    @property
    def beams(self) -> int:
        return self.groups * self.kept * self.width


class LayoutSelector(Selector):
    """Keep each group's ``kept`` best children (ties: the earlier child; with ``dedupe``
    a child repeating a better one's text is skipped). A kept child that has finished
    joins the pool; the others expand ``width`` children each."""

    def __init__(self, layout: TreeLayout, dedupe: bool) -> None:
        self.layout = layout
        self.dedupe = dedupe

    def first_children(self) -> int:
        return self.layout.beams

    def select(self, children: list[Node], depth: int) -> StepChoice:
        if depth == 0:
            per_group = self.layout.kept * self.layout.width
            for j, child in enumerate(children):
                child.group = j // per_group
        groups: dict[int, list[Node]] = {}
        for child in children:
            groups.setdefault(child.group, []).append(child)
        choice = StepChoice()
        for members in groups.values():
            kept: list[Node] = []
            seen: set[str] = set()
            for member in ranked(members):
                if len(kept) == self.layout.kept:
                    break
                if self.dedupe:
                    if member.text in seen:
                        continue
                    seen.add(member.text)
                kept.append(member)
            for node in kept:
                if node.finished:
                    choice.solutions.append(node)
                else:
                    choice.expand.append(Expansion(node, self.layout.width))
        return choice

    def extra(self) -> dict[str, Any]:
        return {
            "effective_budget": self.layout.beams,
            "layout": {
                "groups": self.layout.groups,
                "kept_per_group": self.layout.kept,
                "beam_width": self.layout.width,
            },
        }


class LayoutSearch(StepSearch):
    """A search defined by its layout of N beams."""

    config_type = TreeSearchConfig

    def layout(self, budget: int) -> TreeLayout:
        raise NotImplementedError

    def plan(self, budget: int) -> BudgetPlan:
        config: TreeSearchConfig = self.config
        layout = self.layout(budget)
        return tree_plan(
            self.spec,
            budget,
            beams=layout.beams,
            depth=config.depth,
            lookahead=config.lookahead,
            beam_width=layout.width,
            groups=layout.groups,
            kept_per_group=layout.kept,
        )

    def selector(self, budget: int, seed: int) -> Selector:
        return LayoutSelector(self.layout(budget), self.config.dedupe)


@register_strategy("beam_search", summary="N beams, keep the best N/M per step, expand each M ways")
class BeamSearch(LayoutSearch):
    def layout(self, budget: int) -> TreeLayout:
        """One group per problem keeping its top N/M nodes."""
        check_budget(budget)
        width = min(self.config.beam_width, budget)
        return TreeLayout(groups=1, kept=budget // width, width=width)


@register_strategy("dvts", summary="N/M independent subtrees, each keeps its best of M per step")
class DVTS(LayoutSearch):
    def layout(self, budget: int) -> TreeLayout:
        """N/M independent subtrees per problem, each keeping its single best node."""
        check_budget(budget)
        width = min(self.config.beam_width, budget)
        return TreeLayout(groups=budget // width, kept=1, width=width)
