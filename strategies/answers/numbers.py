"""Plain numbers and fractions of integers, read without math-verify.

Most final answers are one of these; reading them here, following math-verify's rules
(decimals compared to 6 places, the rest exactly), and ``precision``'s rule for a decimal
written against a fraction that has no finite decimal, spares a round trip to a worker. The
key format (``n:<decimal>``) is the one the worker gives any number, so keys computed
here and there agree (a test checks it).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction

from strategies.answers import limits
from strategies.answers.precision import approximates_fraction

# Longest numeral read here (longer ones go to the worker and its size guards).
MAX_SIMPLE_DIGITS = 60

_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")


def format_decimal(value: Decimal, places: int = limits.KEY_DECIMAL_PLACES) -> str:
    """Round half-even to ``places`` decimals; no exponent, no trailing zeros, no ``-0``."""
    with localcontext() as context:
        context.prec = max(28, value.adjusted() + places + 8)
        rounded = value.quantize(Decimal(1).scaleb(-places))
    text = format(rounded, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fraction_key(value: Fraction) -> str:
    if value.denominator == 1 and abs(value.numerator).bit_length() > 13_000:
        return "h:" + format(value.numerator, "x")  # beyond int-to-str limits; exact
    with localcontext() as context:
        digits = max(len(str(abs(value.numerator))) - len(str(value.denominator)), 0)
        context.prec = digits + limits.KEY_DECIMAL_PLACES + 12
        decimal = Decimal(value.numerator) / Decimal(value.denominator)
    return "n:" + format_decimal(decimal)


_INTEGER_FRACTION = re.compile(
    r"(?P<sign>-?)\\frac(?:\{(?P<numerator>[+-]?\d+)\}\{(?P<denominator>[+-]?\d+)\}"
    r"|(?P<digit_numerator>\d)(?P<digit_denominator>\d))"
    r"|(?P<slash_numerator>[+-]?\d+)/(?P<slash_denominator>\d+)"
)
# A one-letter unknown set to a value (``x=5``); e and i would parse as constants.
_ASSIGNMENT = re.compile(r"(?P<variable>[a-df-hj-zA-Z])=(?P<value>.+)")


def _simple_number(cleaned: str) -> tuple[Fraction, bool] | None:
    """(value, written with a decimal point) of a plain numeral or a fraction of integers.

    These are most final answers; reading them here spares a math-verify round trip while
    following math-verify's rules (decimals are compared to 6 places, the rest exactly).
    """
    text = cleaned
    if _THOUSANDS.fullmatch(text.lstrip("+-")):
        text = text.replace(",", "")
    if _PLAIN_NUMBER.fullmatch(text) and len(text) <= MAX_SIMPLE_DIGITS:
        try:
            return Fraction(Decimal(text)), "." in text
        except (InvalidOperation, ValueError):
            return None
    match = _INTEGER_FRACTION.fullmatch(text)
    if match is None:
        return None
    numerator = match["numerator"] or match["digit_numerator"] or match["slash_numerator"]
    denominator = match["denominator"] or match["digit_denominator"] or match["slash_denominator"]
    if int(denominator) == 0 or len(numerator) + len(denominator) > MAX_SIMPLE_DIGITS:
        return None
    value = Fraction(int(numerator), int(denominator))
    return (-value if match["sign"] else value), False


def _simple_answer(cleaned: str) -> tuple[str | None, Fraction, bool] | None:
    """(unknown or None, value, written with a decimal point) of ``5``, ``-\\frac{1}{2}``, ``x=0.5``."""
    assignment = _ASSIGNMENT.fullmatch(cleaned)
    variable, text = (
        (assignment["variable"], assignment["value"]) if assignment else (None, cleaned)
    )
    number = _simple_number(text)
    return None if number is None else (variable, *number)


def simple_key(cleaned: str) -> str | None:
    """The key the worker would give a simple answer (braces around it change nothing)."""
    if cleaned.startswith("{") and cleaned.endswith("}"):
        cleaned = cleaned[1:-1]
    simple = _simple_answer(cleaned)
    return None if simple is None else fraction_key(simple[1])


def simple_verdict(pred: str, gold: str) -> bool | None:
    """math-verify's verdict on two simple answers, or None when one is not simple."""
    first, second = _simple_answer(pred), _simple_answer(gold)
    if first is None or second is None:
        return None
    (first_variable, first_value, first_decimal) = first
    (second_variable, second_value, second_decimal) = second
    if first_variable and second_variable and first_variable != second_variable:
        return None  # math-verify's strict rules about unknowns decide
    if first_decimal or second_decimal:
        if fraction_key(first_value) == fraction_key(second_value):
            return True
        if first_decimal != second_decimal:  # a decimal against an exact fraction
            decimal_text, exact = (
                (_numeral(pred), second_value) if first_decimal else (_numeral(gold), first_value)
            )
            return approximates_fraction(decimal_text, exact)
        return False
    return first_value == second_value


def _numeral(cleaned: str) -> str:
    """The numeral of ``5.25`` or ``x=5.25``."""
    assignment = _ASSIGNMENT.fullmatch(cleaned)
    return assignment["value"] if assignment else cleaned
