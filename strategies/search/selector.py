"""What a step-level search decides, apart from the mechanics: the selector interface.

The engine (``strategies.search.tree``) expands nodes, looks ahead, scores, marks
finished children and books every call; a ``Selector`` decides, for one problem at a
time, which scored children survive, how many children each survivor gets next step, and
which finished children join the final pool. Beam search, DVTS, particle filtering and
REBASE are selectors of a few dozen lines each.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class Node:
    """A partial (or finished) solution of one problem: a beam, a particle.

    ``group`` is a tag a selector may set on the first step's children (DVTS's subtree);
    children inherit their parent's. ``rank`` is the reduced verifier score (``last``,
    ``min`` or ``prod`` of the scored steps, with the look-ahead's steps when there is
    one); ``step_scores`` are the scores of the node's own steps.
    """

    problem: int
    text: str
    num_tokens: int
    group: int = 0
    finish_reason: str = "stop"
    finished: bool = False
    step_scores: tuple[float, ...] = ()
    rank: float = 0.0


@dataclass(frozen=True)
class Expansion:
    """Expand ``node`` into ``children`` new children next step."""

    node: Node
    children: int


@dataclass
class StepChoice:
    """A selector's decision for one problem after one step.

    ``expand`` lists the nodes to continue and their child counts (empty: the problem's
    search is over); ``solutions`` are finished nodes that join the final pool, which
    the engine refuses for an unfinished node.
    """

    expand: list[Expansion] = field(default_factory=list)
    solutions: list[Node] = field(default_factory=list)


class Selector(ABC):
    """One problem's search policy; a fresh one per problem and run."""

    @abstractmethod
    def first_children(self) -> int:
        """How many first steps to sample from the empty solution."""

    @abstractmethod
    def select(self, children: list[Node], depth: int) -> StepChoice:
        """Decide after step ``depth`` (0-based) from this step's scored ``children``, in
        generation order (ties go to the earlier child). At the depth limit every child
        is finished."""

    def extra(self) -> dict[str, Any]:
        """What the selector wants recorded in ``SearchResult.extra``."""
        return {}


def ranked(nodes: Sequence[Node]) -> list[Node]:
    """Best rank first; ties keep generation order."""
    order = sorted(range(len(nodes)), key=lambda i: (-nodes[i].rank, i))
    return [nodes[i] for i in order]


def merged(expansions: Iterable[Expansion]) -> list[Expansion]:
    """One expansion per distinct text, child counts summed, in first-seen order.

    Identical partial solutions are one prefix: expanding it once into the summed
    number of children draws the same distribution, and keeps two copies from receiving
    the same samples on a backend that seeds by prompt.
    """
    by_text: dict[str, tuple[Node, int]] = {}
    for expansion in expansions:
        node, count = by_text.get(expansion.node.text, (expansion.node, 0))
        by_text[expansion.node.text] = (node, count + expansion.children)
    return [Expansion(node, count) for node, count in by_text.values() if count > 0]


def softmax(values: Sequence[float], temperature: float) -> list[float]:
    """Probabilities proportional to exp(value / temperature), computed stably."""
    if temperature <= 0:
        raise ValueError(f"a softmax temperature must be > 0, got {temperature}")
    if not values:
        return []
    top = max(values)
    weights = [math.exp((v - top) / temperature) for v in values]
    total = math.fsum(weights)
    return [w / total for w in weights]
