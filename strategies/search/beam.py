"""Beam search and DVTS: two selectors over the same layout of N beams.

Both expand ``kept`` nodes per group into M children each (M = ``beam_width``), so a step
costs at most N step generations:

- **beam search** is one group per problem: the N/M best unfinished children expand;
  every child that finishes joins the final pool, whatever its rank, up to N solutions.
- **DVTS** (diverse verifier tree search) is N/M independent subtrees per problem, each
  continuing with its single best child; the first step's N children are dealt to the
  subtrees in order, M each. A subtree ends when its best child has finished, and the
  finished children of its last expansion (up to M) join the pool: up to N in all.

The final answer is weighted best-of-N over the pool, which never holds an unfinished
solution. At N = M the two differ only in that beam search keeps finished children of
earlier steps while DVTS's single subtree keeps those of its last expansion.

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
    """What beam search and DVTS share: the layout, the first step's subtrees, the record."""

    def __init__(self, layout: TreeLayout, dedupe: bool) -> None:
        self.layout = layout
        self.dedupe = dedupe

    def first_children(self) -> int:
        return self.layout.beams

    def best_unfinished(self, nodes: list[Node], count: int) -> list[Node]:
        """The ``count`` best unfinished nodes (with ``dedupe``, distinct texts only)."""
        kept: list[Node] = []
        seen: set[str] = set()
        for node in ranked([n for n in nodes if not n.finished]):
            if len(kept) == count:
                break
            if self.dedupe:
                if node.text in seen:
                    continue
                seen.add(node.text)
            kept.append(node)
        return kept

    def extra(self) -> dict[str, Any]:
        return {
            "effective_budget": self.layout.beams,
            "layout": {
                "groups": self.layout.groups,
                "kept_per_group": self.layout.kept,
                "beam_width": self.layout.width,
            },
        }


class BeamSelector(LayoutSelector):
    """Every finished child joins the pool, whatever its rank, until it holds N (the best
    ranked of a step's finished children fill the last places); the N/M best unfinished
    children expand M ways each. As in search-and-learn's beam search."""

    def __init__(self, layout: TreeLayout, dedupe: bool) -> None:
        super().__init__(layout, dedupe)
        self.pooled = 0

    def select(self, children: list[Node], depth: int) -> StepChoice:
        room = self.layout.beams - self.pooled
        finished = [child for child in children if child.finished]
        solutions = finished if len(finished) <= room else ranked(finished)[:room]
        self.pooled += len(solutions)
        if self.pooled >= self.layout.beams:
            return StepChoice(solutions=solutions)
        kept = self.best_unfinished(children, self.layout.kept)
        return StepChoice([Expansion(n, self.layout.width) for n in kept], solutions)


class DVTSSelector(LayoutSelector):
    """Each subtree (the first step's children, M at a time) continues with its best
    child; when that child has finished, the subtree ends and every finished child of
    its last expansion joins the pool (search-and-learn returns all M siblings, unfinished
    ones too: its bug #57; here never an unfinished one)."""

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
            best = ranked(members)[0]
            if best.finished:
                choice.solutions.extend(m for m in members if m.finished)
            else:
                choice.expand.append(Expansion(best, self.layout.width))
        return choice


class LayoutSearch(StepSearch):
    """A search defined by its layout of N beams: M-wide nodes in ``groups`` groups
    (one group: beam search; N/M groups of one kept node: DVTS)."""

    config_type = TreeSearchConfig
    selector_type: type[LayoutSelector]
    one_group: bool

    def layout(self, budget: int) -> TreeLayout:
        check_budget(budget)
        width = min(self.config.beam_width, budget)
        nodes = budget // width
        if self.one_group:
            return TreeLayout(groups=1, kept=nodes, width=width)
        return TreeLayout(groups=nodes, kept=1, width=width)

    def selector(self, budget: int, seed: int) -> Selector:
        return self.selector_type(self.layout(budget), self.config.dedupe)

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


@register_strategy("beam_search", summary="N beams, keep the best N/M per step, expand each M ways")
class BeamSearch(LayoutSearch):
    short_name, label = "beam", "beam search"
    selector_type, one_group = BeamSelector, True


@register_strategy("dvts", summary="N/M independent subtrees, each keeps its best of M per step")
class DVTS(LayoutSearch):
    short_name, label = "dvts", "DVTS"
    selector_type, one_group = DVTSSelector, False
