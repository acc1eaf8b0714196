"""Every point where `ttc serve` touches the router's budget policies, in one module.

The policy API is being reworked (Router v2); keeping the server's few uses here means a
change there is a change to this file only. The server needs to: read the server's
default and a request's budget (refusing what the calibration never measured), tell a
``total:B`` policy and its B, and price what a record spent in the router's cost unit.
"""

from __future__ import annotations

from collections.abc import Sequence

from router.policy import BudgetPolicy, PolicyError, check_policy, parse_policy
from router.records import AnswerRecord
from router.solve_command import spent_in
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
    """``ttc serve --budget``: any form `ttc solve` takes."""
    policy = parse_policy(text)
    check_policy(policy, budgets)
    return policy


def request_policy(text: str, budgets: Sequence[int]) -> BudgetPolicy:
    """A request's ``ttc.budget``: auto, a measured N or price:LAMBDA."""
    policy = parse_policy(text)
    if is_total(policy):
        raise PolicyError(
            "total:B shares B over many problems and a request is one problem; send "
            "auto, N or price:LAMBDA (a server-wide total is `ttc serve --budget total:B`)"
        )
    if policy.kind == "fixed" and int(policy.value or 0) not in budgets:
        raise PolicyError(
            f"{policy} was never measured; the calibration measured budgets "
            f"{sorted(budgets)}: send one of them, auto or price:LAMBDA"
        )
    return policy


def is_total(policy: BudgetPolicy) -> bool:
    return policy.kind == "total"


def total_budget(policy: BudgetPolicy) -> float:
    return float(policy.value or 0.0)


def spent(record: AnswerRecord, policy: BudgetPolicy, router: Router) -> float:
    """What ``record`` cost in the unit the router's budgets count."""
    return spent_in([record], policy, router.cost_model.unit)
