"""Every point where `ttc serve` touches the router's budget policies, in one module."""

from __future__ import annotations

from collections.abc import Sequence

from router.commands.solve import spent_in
from router.policies import BudgetPolicy, PolicyError, parse_policy
from router.policies.total import TotalPolicy
from router.records import AnswerRecord
from router.solver import Router

__all__ = [
    "BudgetPolicy",
    "PolicyError",
    "is_total",
    "request_policy",
    "server_policy",
    "spent",
    "total_budget",
]


def server_policy(text: str, budgets: Sequence[int]) -> BudgetPolicy:
    policy = parse_policy(text)
    policy.check(budgets)
    return policy


def request_policy(text: str, budgets: Sequence[int]) -> BudgetPolicy:
    policy = parse_policy(text)
    if is_total(policy):
        raise PolicyError(
            "total:B shares B over many problems and a request is one problem; send "
            "auto, N or price:LAMBDA (a server-wide total is `ttc serve --budget total:B`)"
        )
    policy.check(budgets)
    return policy


def is_total(policy: BudgetPolicy) -> bool:
    return isinstance(policy, TotalPolicy)


def total_budget(policy: BudgetPolicy) -> float:
    assert isinstance(policy, TotalPolicy)
    return policy.value


def spent(record: AnswerRecord, policy: BudgetPolicy, router: Router) -> float:
    return spent_in([record], policy, router.cost_unit)
