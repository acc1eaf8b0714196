"""The search ceiling: from which price up the router stops searching, chosen held out.

Why: a tree search's value is fitted on the calibration problems that ran it, a few dozen
on a CPU, while sampling on and stopping also learn from every problem with samples (the
decision pool: hundreds). Held out on SmolLM2 the searches' noisy values cost more than
they earned at moderate prices (price 0.005: 44.1 % at 13.0 generations with searches,
43.8 % at 7.3 without), yet they still paid where compute is cheap (price 0: 52.1 % at
35 generations against 44.9 % at 9.7). The switch margin cannot say that: it docks a
search the same at every price, and without a search among the actions, stopping and
sampling on are fitted on their own. So the price grid is cut once: below the ceiling
the model is the one fitted with searches, from it up the one fitted without.

The cut is chosen as the switch margin is (``fit.cautious_choice``): the two-fold held-out
net value (accuracy minus price x generations), averaged over the price grid, per problem;
no ceiling unless one beats it by more than a standard error, then the lowest ceiling
within a standard error of the best (searching at fewer prices is the cautious side).
At each grid price a model with a ceiling is, exactly, either the model fitted with
searches or the one fitted without, so every candidate is scored from those two replays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from calibration.sequential.fit import (
    DEFAULT_PRICES,
    Fold,
    cautious_choice,
    heldout_nets,
    with_search_ceiling,
)
from calibration.sequential.trajectories import Trajectories


def choose_search_ceiling(
    data: Trajectories,
    folds: Sequence[Fold],
    prices: Sequence[float] = DEFAULT_PRICES,
) -> tuple[float | None, list[Fold]]:
    """The ceiling chosen on the folds' held-out halves (None: search at every price), and
    the folds refitted with it. ``folds`` carry the switch margin already chosen. Without
    tree searches there is nothing to stop: None and the folds as they are."""
    grid = tuple(sorted(prices))
    if not data.trees or not folds or not grid:
        return None, list(folds)
    never = [_with_ceiling(fold, grid[0]) for fold in folds]
    searching = heldout_nets(data, folds, grid)
    sampling = heldout_nets(data, never, grid)
    # candidate k: the k highest prices do not search (k = 0: the status quo)
    candidates: list[float | None] = [None, *reversed(grid)]
    scores = [
        np.vstack([*searching[: len(grid) - k], *sampling[len(grid) - k :]]).mean(axis=0)
        for k in range(len(candidates))
    ]
    chosen = cautious_choice(list(range(len(candidates))), scores)
    ceiling = candidates[chosen]
    if ceiling is None:
        return None, list(folds)
    if ceiling == grid[0]:
        return ceiling, never
    return ceiling, [_with_ceiling(fold, ceiling) for fold in folds]


def _with_ceiling(fold: Fold, ceiling: float) -> Fold:
    model = fold.model
    model = with_search_ceiling(model, fold.fitted, model.prices, ceiling, fold.sampled)
    return replace(fold, model=model)
