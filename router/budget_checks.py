"""Checks on a ``--budget`` value beyond what each policy's parser reads, shared by the
command line and `ttc serve`.

Why a module of its own: the policies parse their arguments with ``int()`` and
``float()``, which read more than a user means: Unicode digits (``"٤"`` is 4), ``nan``,
``inf``, and numbers so small they become 0 (``price:1e-400``). And a per-request budget
on a server is an order for compute that someone else pays for: it may not exceed what
the calibration measured (the README's promise), and a stopping rule's parameter
outside its range (a confidence above 1) silently runs the full N. ``check_syntax`` is
for every reader of a budget; ``check_request`` adds the server's limits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from router.policies import BudgetPolicy, PolicyError, PricePolicy

# a plain decimal number, ASCII only: what a user writes, and nothing float() also reads
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_NAME = re.compile(r"[a-z_][a-z0-9_]*")

# (the parameter's name, lowest allowed, lowest included, highest, highest included,
# must it be a whole number) per stopping rule; a parameter outside it changes the rule
# into another one (a confidence above 1 never stops, so it always spends N)
PARAMETER_RANGES: dict[str, tuple[str, float, bool, float, bool, bool]] = {
    "beta": ("the confidence", 0.0, False, 1.0, False, False),
    "margin": ("the share", 0.0, False, 1.0, True, False),
    "esc": ("the window", 1.0, True, math.inf, True, True),
}


def check_syntax(text: object) -> str:
    """``text`` stripped, when every number in it is a plain finite ASCII number that
    does not underflow to 0; otherwise a PolicyError that says which part is wrong."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise PolicyError(f"--budget {text!r}: expected a string or a whole number")
    raw = str(text).strip()
    if not raw.isascii() or not raw.isprintable():
        raise PolicyError(f"--budget {raw!r}: only ASCII letters, digits and ':' are read")
    name, sep, rest = raw.partition(":")
    parts = rest.split(":") if sep else [name]
    if sep and not _NAME.fullmatch(name):
        raise PolicyError(f"--budget {raw!r}: {name!r} is not a policy name")
    for part in parts:
        if sep and not part:
            raise PolicyError(f"--budget {raw!r}: an empty value after ':'")
        if _NAME.fullmatch(part) and not sep:
            continue  # a bare policy name (auto)
        if not _NUMBER.fullmatch(part):
            raise PolicyError(f"--budget {raw!r}: {part!r} is not a plain decimal number")
        value = float(part)
        if not math.isfinite(value):
            raise PolicyError(f"--budget {raw!r}: {part!r} is too large to be a number here")
        if value == 0 and re.search(r"[1-9]", part.split("e")[0].split("E")[0]):
            raise PolicyError(f"--budget {raw!r}: {part!r} is too small (it reads as 0)")
    return raw


def largest_budget(policy: BudgetPolicy) -> int | None:
    """The most generations per problem a per-problem policy may spend, when it has a
    cap (N, and the stopping rules' N); None for the priced policies."""
    budget = getattr(policy, "budget", None)
    return budget if isinstance(budget, int) else None


def check_request(policy: BudgetPolicy, budgets: Sequence[int], ceiling: int | None) -> None:
    """Refuse a per-request policy that orders more compute than the server allows (the
    calibration's largest measured N, or ``ceiling`` when lower), or whose parameter is
    out of its range."""
    most = max(budgets) if budgets else None
    if ceiling is not None:
        most = ceiling if most is None else min(most, ceiling)
    cap = largest_budget(policy)
    if cap is not None and most is not None and cap > most:
        measured = ", ".join(str(b) for b in budgets)
        raise PolicyError(
            f"--budget {policy}: N={cap} is more than this server allows per request "
            f"({most}; the calibration measured N = {measured})"
        )
    if isinstance(policy, PricePolicy) and not policy.value > 0:
        raise PolicyError(
            f"--budget {policy}: a price must be > 0 (price 0 buys every action the "
            f"calibration has; ask for N={most} instead)"
        )
    _check_parameter(policy, cap)


def _check_parameter(policy: BudgetPolicy, cap: int | None) -> None:
    limits = PARAMETER_RANGES.get(policy.name)
    value = getattr(policy, "parameter", None)
    if limits is None or not isinstance(value, float):
        return
    what, low, low_in, high, high_in, whole = limits
    inside = (value >= low if low_in else value > low) and (
        value <= high if high_in else value < high
    )
    if whole and not value.is_integer():
        inside = False
    if whole and cap is not None and value > cap:
        inside = False
    if not inside:
        left, right = "[" if low_in else "(", "]" if high_in else ")"
        top = f"N={cap}" if whole and cap is not None else f"{high:g}"
        kind = "a whole number in " if whole else ""
        raise PolicyError(
            f"--budget {policy}: {what} must be {kind}{left}{low:g}, {top}{right}, got {value:g}"
        )
