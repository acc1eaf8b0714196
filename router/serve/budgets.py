"""Every point where `ttc serve` touches the router's budget policies, in one module.

A request's budget is read by the same parser as ``--budget`` plus the shared checks of
``router.budget_checks``: plain ASCII numbers only, and no more compute than the
server allows per request (the calibration's largest measured N, or a lower ceiling),
with every stopping rule's parameter inside its range.
"""

from __future__ import annotations

from collections.abc import Sequence

from router.budget_checks import check_request, check_syntax
from router.commands.solve import spent_in
from router.policies import BudgetPolicy, PolicyError, parse_policy
from router.records import AnswerRecord
from router.solver import Router

__all__ = [
    "BudgetPolicy",
    "PolicyError",
    "metric_label",
    "request_policy",
    "server_policy",
    "spent",
]


def server_policy(text: str, budgets: Sequence[int]) -> BudgetPolicy:
    policy = parse_policy(check_syntax(text))
    policy.check(budgets)
    return policy


def request_policy(
    text: object, budgets: Sequence[int], ceiling: int | None = None
) -> BudgetPolicy:
    """A request's ``ttc.budget`` (a string or a whole number, never a bool) as a policy
    the server may run, or a PolicyError that says why not."""
    policy = parse_policy(check_syntax(text))
    if policy.batch_wide:
        raise PolicyError(
            "total:B shares B over many problems and a request is one problem; send "
            "auto, N or price:LAMBDA (a server-wide total is `ttc serve --budget total:B`)"
        )
    policy.check(budgets)
    check_request(policy, budgets, ceiling)
    return policy


def metric_label(policy: BudgetPolicy) -> str:
    """The policy's name (auto, fixed, price, ...): a bounded set of metric labels,
    whatever budget strings clients send."""
    return policy.name


def spent(record: AnswerRecord, policy: BudgetPolicy, router: Router) -> float:
    return spent_in([record], policy, router.cost_unit)
