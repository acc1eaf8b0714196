"""How a stopped problem's answer is chosen from its samples, picked per rung on the
calibration pools.

Why calibrated and not fixed: a verifier-weighted vote is the best rule where the
scores carry signal, and the worst where they carry none. On an unscored pool every
weight is equal, the "weighted" vote returns the first sample's answer whatever else
was drawn, and a decision model fitted on that vote learns that more samples never help
(it stopped after one sample on real unscored pools). So the calibration tries every
rule the pool can support at every rung, on the same random orders the decision model
is fitted on, keeps the best, and the decision model is then fitted on the answers that
rule gives. Unscored samples are never weighted: only majority vote is tried on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from runtime.answer_rule import AnswerRule, candidate_rules
from strategies.search.selection import REDUCTIONS, EncodedPool, choose

if TYPE_CHECKING:
    from calibration.sequential.trajectories import TrainingPool


def pools_are_scored(pools: Sequence[TrainingPool]) -> bool:
    """Whether the samples carry verifier scores that can tell solutions apart: some
    sample has step scores, and not every score is the same number."""
    values = {
        score for pool in pools for candidate in pool.candidates for score in candidate.step_scores
    }
    return len(values) > 1


def rule_hits(
    rule: AnswerRule, pool: TrainingPool, prefixes: np.ndarray, encoded: EncodedPool | None = None
) -> np.ndarray:
    """Per prefix (row of sample indices): whether ``rule`` answers it right."""
    if encoded is None:
        encoded = EncodedPool.from_candidates(pool.candidates, rule.reduction)
    chosen = choose(rule.method, encoded, prefixes)
    return np.where(chosen < 0, False, pool.correct[np.maximum(chosen, 0)])


def choose_answer_rules(
    pools: Sequence[TrainingPool], rungs: Sequence[int], permutations: Sequence[np.ndarray]
) -> dict[int, AnswerRule]:
    """Per rung above 0: the rule with the highest mean accuracy over every problem's
    prefixes (``permutations[i]``: problem i's random orders, one per row)."""
    rules = candidate_rules(pools_are_scored(pools))
    if len(rules) == 1:
        return {rung: rules[0] for rung in rungs if rung > 0}
    totals = {rung: np.zeros(len(rules)) for rung in rungs if rung > 0}
    for pool, orders in zip(pools, permutations, strict=True):
        encoded = {r: EncodedPool.from_candidates(pool.candidates, r) for r in REDUCTIONS}
        for rung, total in totals.items():
            prefixes = orders[:, :rung]
            for i, rule in enumerate(rules):
                total[i] += rule_hits(rule, pool, prefixes, encoded[rule.reduction]).mean()
    # argmax keeps the first of equal totals: majority, then the simpler reductions
    return {rung: rules[int(np.argmax(total))] for rung, total in totals.items()}
