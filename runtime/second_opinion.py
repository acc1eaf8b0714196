"""A tree search that asks for a second opinion when its own leaves disagree.

Why: on a search's finished leaves, the verifier-weighted share that agrees with the
answer says how sure the search is (on the simulator, AUROC about 0.8 for "the answer is
right"). A search that is unsure runs again with a fresh seed; if the two answers
differ, a third run breaks the tie. Independent runs fail independently much more than
one bigger search does, so "REBASE@8, again when unsure" beats REBASE@16 at about 60 %
of its compute on the simulator. The router offers it as its own action,
``strategy+check@B``, valued from the calibration's three recorded seeds per search.

One set of rules serves calibration (on recorded runs) and the router (on live runs),
so what the decision model was fitted on is what runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from runtime.actions import MAX_RUNS
from strategies.answers import canonical_key

AGREEMENT = 0.9  # below this verifier-weighted share of agreeing leaves, run again


def run_seed(seed: int, attempt: int) -> int:
    """The seed of a search's ``attempt``-th run (0: the plain search's own seed)."""
    return seed if attempt == 0 else (seed * 1_000_003 + 104_729 * attempt + 17) % (2**31 - 1)


@dataclass(frozen=True)
class Run:
    """One search's outcome, as the rules need it."""

    answer: str | None
    agreement: float

    @property
    def key(self) -> str | None:
        """Runs agree when their answers share a canonical key (as votes do: "7" and
        "7.0" are one answer)."""
        return None if self.answer is None else canonical_key(self.answer)


def needs_another(runs: Sequence[Run]) -> bool:
    """After one run: ask again when unsure; after two: break a disagreement."""
    if len(runs) == 1:
        return runs[0].agreement < AGREEMENT
    if len(runs) == 2:
        return runs[0].key != runs[1].key
    return False


def final_run(runs: Sequence[Run]) -> int:
    """The run whose answer wins: most runs agreeing, then the surest, then the first."""
    votes = [0 if run.key is None else sum(other.key == run.key for other in runs) for run in runs]
    return max(range(len(runs)), key=lambda i: (votes[i], runs[i].agreement, -i))


def recorded_outcome(runs: Sequence[tuple[Run, bool]], budget: int) -> tuple[float, float] | None:
    """Expected (accuracy, generations) of the checked search from three recorded runs,
    averaged over which of them comes first (and second); None with fewer runs."""
    if len(runs) < MAX_RUNS:
        return None
    accuracy = cost = 0.0
    orders = list(itertools.permutations(runs[:MAX_RUNS]))
    for order in orders:
        used = [order[0]]
        while needs_another([r for r, _ in used]):
            used.append(order[len(used)])
        accuracy += float(used[final_run([r for r, _ in used])][1])
        cost += budget * len(used)
    return accuracy / len(orders), cost / len(orders)
