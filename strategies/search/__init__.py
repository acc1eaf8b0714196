"""Search strategies: majority vote, best-of-N, weighted best-of-N, and the step-level
searches (beam search, DVTS, particle filtering, REBASE: ``strategy_names()`` lists them).

Start with ``get_strategy("beam_search:m=4")`` and ``strategy.run(problems, budget,
generator, verifier, prompt_config=..., seed=...)``; ``strategy.plan(N)`` says how it
spends budget N (``strategies.search.budget``); ``strategies.search.selection`` holds the
selection rules as pure functions, shared with calibration and the router. Step-level
searches are one engine (``strategies.search.tree``) plus a selector each.
"""

from strategies.search.base import SearchStrategy
from strategies.search.budget import BudgetPlan, generations_for_budget
from strategies.search.registry import get_strategy, strategy_names, strategy_parameters
from strategies.search.result import Candidate, SearchResult
from strategies.search.selection import (
    Choice,
    EncodedPool,
    best_of_n,
    choose,
    majority,
    reduce_scores,
    select,
    weighted_best_of_n,
)

__all__ = [
    "BudgetPlan",
    "Candidate",
    "Choice",
    "EncodedPool",
    "SearchResult",
    "SearchStrategy",
    "best_of_n",
    "choose",
    "generations_for_budget",
    "get_strategy",
    "majority",
    "reduce_scores",
    "select",
    "strategy_names",
    "strategy_parameters",
    "weighted_best_of_n",
]
