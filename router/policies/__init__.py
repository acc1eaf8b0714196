"""Budget policies: how the router turns what it knows into spending, one module each.

``parse_policy`` reads a ``--budget`` value: ``auto``, ``N``, ``price:LAMBDA``,
``total:B``, or a named stopping rule (``beta:N``, ``esc:N``, ``margin:N``). Every
policy registers itself in ``POLICIES`` from its own module, found by the registry
(a new policy is one file in this package).
"""

from __future__ import annotations

from router.policies.auto import AutoPolicy
from router.policies.base import POLICIES, BudgetPolicy, LiveProblem, PolicyError, RoundView
from router.policies.fixed import FixedPolicy
from router.policies.price import PricePolicy
from router.policies.total import TotalPolicy

__all__ = [
    "POLICIES",
    "AutoPolicy",
    "BudgetPolicy",
    "FixedPolicy",
    "LiveProblem",
    "PolicyError",
    "PricePolicy",
    "RoundView",
    "TotalPolicy",
    "forms",
    "parse_policy",
]


def forms() -> str:
    return ", ".join(POLICIES.get(name).forms for name in POLICIES.names())


def parse_policy(text: str | BudgetPolicy) -> BudgetPolicy:
    """A ``--budget`` value as a policy; unknown forms name the known ones."""
    if isinstance(text, BudgetPolicy):
        return text
    raw = str(text).strip()
    name, sep, argument = raw.partition(":")
    if not sep:
        if raw.lstrip("+-").isdigit():
            return FixedPolicy.parse(raw)
        if raw in POLICIES and raw == "auto":
            return AutoPolicy()
        if raw in POLICIES:
            raise PolicyError(f"--budget {raw!r}: expected {POLICIES.get(raw).forms}")
        raise PolicyError(f"--budget {raw!r}: {POLICIES.unknown_message(raw)}; forms: {forms()}")
    if name not in POLICIES:
        raise PolicyError(f"--budget {raw!r}: {POLICIES.unknown_message(name)}; forms: {forms()}")
    return POLICIES.get(name).parse(argument)
