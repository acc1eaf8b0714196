"""Search strategies: majority vote, best-of-N, weighted best-of-N, beam search, DVTS.

Start with ``get_strategy("beam_search:m=4")`` and ``strategy.run(problems, budget,
generator, verifier, prompt_config=..., seed=...)``; ``strategies.search.budget`` says
what budget N means for each strategy; ``strategies.search.selection`` holds the
selection rules as pure functions, shared with calibration and the router.
"""

from strategies.search.base import SearchStrategy
from strategies.search.budget import BudgetPlan, generations_for_budget
from strategies.search.registry import STRATEGY_NAMES, get_strategy, strategy_parameters
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
    "STRATEGY_NAMES",
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
    "strategy_parameters",
    "weighted_best_of_n",
]
