"""The published stopping rules replayed on the calibration pools: what ``beta:N``,
``esc:N`` and (with scores) ``margin:N`` reach, and at what compute, on the calibration
problems.

Why: on small calibrations of real models the decision model's fitted values are
noisy, and a rule with no fitted parameter can do better at the same compute (the 3B
pool: Adaptive-Consistency matched majority@16 with 11 generations a problem, the
router's ``total:B`` needed 16). ``total:B`` compares these points with the decision
model's held-out price curve before it spends anything, and runs the rule where the
rule did better (``router.policies.envelope``). The rules have no fitted parameter, so
replaying them on the calibration problems is an honest estimate, and they run on the
same random orders as the decision model's own fit.
"""

from __future__ import annotations

from collections.abc import Sequence

from calibration.sequential.trajectories import TrainingPool, order_permutations
from runtime.decision_model import RulePoint
from runtime.stopping_rules import (
    AdaptiveConsistency,
    EarlyStopping,
    StoppingRule,
    VerifierMargin,
    stopping_point,
)
from strategies.search.selection import EncodedPool, choose


def rule_specs(budgets: Sequence[int], scored: bool) -> dict[str, tuple[StoppingRule, int]]:
    """The rules, each with its N, at every budget worth stopping early under (N >= 2),
    by the ``--budget`` form that runs them."""
    rules: dict[str, tuple[StoppingRule, int]] = {}
    for budget in sorted({b for b in budgets if b >= 2}):
        rules[f"beta:{budget}"] = (AdaptiveConsistency(), budget)
        rules[f"esc:{budget}"] = (EarlyStopping(), budget)
        if scored:
            rules[f"margin:{budget}"] = (VerifierMargin(), budget)
    return rules


def replay_rules(
    pools: Sequence[TrainingPool],
    budgets: Sequence[int],
    *,
    scored: bool,
    reduction: str,
    orders: int,
    seed: int,
) -> dict[str, RulePoint]:
    """Each rule's mean accuracy and generations per problem over the pools and orders
    (budgets past a pool's size are left out: the rule would run out of samples)."""
    size = min(len(p.candidates) for p in pools)
    specs = rule_specs([b for b in budgets if b <= size], scored)
    permutations = order_permutations(pools, orders, seed)
    hits = {name: 0.0 for name in specs}
    spent = {name: 0.0 for name in specs}
    answers = {name: rule.answer_rule(reduction) for name, (rule, _) in specs.items()}
    for pool, order in zip(pools, permutations, strict=True):
        encoded = {
            r: EncodedPool.from_candidates(pool.candidates, r)
            for r in {answer.reduction for answer in answers.values()}
        }
        for row in order:
            drawn = [pool.candidates[i] for i in row]
            for name, (rule, budget) in specs.items():
                count = stopping_point(rule, drawn, budget, reduction)
                answer = answers[name]
                chosen = int(choose(answer.method, encoded[answer.reduction], row[None, :count])[0])
                hits[name] += float(chosen >= 0 and pool.correct[chosen])
                spent[name] += count
    rows = len(pools) * orders
    return {
        name: RulePoint(round(hits[name] / rows, 6), round(spent[name] / rows, 4)) for name in specs
    }
