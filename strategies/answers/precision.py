"""A decimal written against an exact value: equal when it is that value at the precision
it was written with.

``125.66`` for ``40\\pi`` and ``1.732`` for ``\\sqrt3`` are right answers (math-verify
compares at 6 decimals and calls them wrong); ``0.33`` for ``\\frac13`` is too coarse to
tell. The rule, in full:

- the decimal has k >= 1 places and at least ``MIN_SIGNIFICANT_DIGITS`` significant
  digits (``0.3333`` yes, ``0.33`` and ``1.41`` no);
- the exact value has no finite decimal expansion (an irrational number, or a fraction
  whose denominator has a prime factor other than 2 and 5): a value that can be written
  exactly must be (``2.9999`` is not 3, ``0.12`` is not ``\\frac18``);
- they differ by at most one unit in the k-th place, 10**-k: rounding (half a unit) and
  truncation (under one unit) both pass.

Only a pair (decimal, exact) is judged so, never two decimals, and never in canonical
keys: a tolerance is not transitive, so votes keep exact keys.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

MIN_SIGNIFICANT_DIGITS = 4

DECIMAL = re.compile(r"[+-]?\d+\.\d+")


def written_precision(decimal_text: str) -> tuple[int, int] | None:
    """(places, significant digits) of a decimal numeral, or None when it is not one."""
    text = decimal_text.strip()
    if not DECIMAL.fullmatch(text) or len(text) > 60:
        return None
    whole, places = text.lstrip("+-").split(".")
    digits = (whole + places).lstrip("0")
    return len(places), len(digits)


def terminates(value: Fraction) -> bool:
    """Whether a fraction has a finite decimal expansion."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


def approximates(decimal_text: str, exact: Decimal) -> bool:
    """Whether ``decimal_text`` is ``exact`` (a value with no finite decimal expansion,
    given to at least 20 more places than the decimal has) at its written precision."""
    precision = written_precision(decimal_text)
    if precision is None:
        return False
    places, significant = precision
    if significant < MIN_SIGNIFICANT_DIGITS:
        return False
    try:
        difference = abs(Decimal(decimal_text) - exact)
    except InvalidOperation:
        return False
    return difference <= Decimal(1).scaleb(-places)


def approximates_fraction(decimal_text: str, value: Fraction) -> bool:
    """``approximates`` for an exact fraction (False when it terminates: write it exactly)."""
    if terminates(value):
        return False
    precision = written_precision(decimal_text)
    if precision is None:
        return False
    scale = Decimal(10) ** (precision[0] + 20)
    exact = Decimal(value.numerator * int(scale) // value.denominator) / scale
    return approximates(decimal_text, exact)
