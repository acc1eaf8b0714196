"""Numeric LaTeX expressions (``3\\sqrt{13}``, ``-\\frac{\\pi}{6}``, ``2^6\\cdot 3^5``) valued
without math-verify, for canonical keys.

A vote needs one key per distinct answer string, and a math-verify parse costs 10-300 ms
(ANTLR) where this recursive-descent reading of the same string costs well under one.
It accepts only integers, ``+ - \\cdot \\times * / \\div``, juxtaposition, powers,
``\\frac``, ``\\sqrt`` (with an optional index), ``\\pi``, parentheses and braces, so its
value is the one math-verify's parser gives; anything else (a letter, a decimal point, a
comma, a relation, a huge power) returns None and goes to the worker. The key is the
worker's key for the same value (exact rationals stay exact; other values are rounded to
6 decimals from 40 significant digits); a test compares the two on generated and on
MATH-500 expressions.

``is_equivalent`` does not use this: a pair is judged by math-verify itself.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

from strategies.answers.numbers import format_decimal, fraction_key

# Working precision (significant digits) of irrational values.
PRECISION_DIGITS = 40
# Largest integer exponent and operand size (bits) evaluated exactly here.
MAX_EXPONENT = 256
MAX_BITS = 4_096
# Irrational values (and every one met on the way) stay below 2**64, about 1.8e19, so
# 40 significant digits leave 20 decimals: the 6 of the key hold even after a
# cancellation, and large irrationals (whose keys carry every integer digit) go to the worker.
MAX_IRRATIONAL_BITS = 64

_TOKEN = re.compile(
    r"\\(?:frac|dfrac|tfrac|sqrt|pi|cdot|times|div)(?![A-Za-z])|\d+|[-+*/^{}()\[\]]"
)

Value = Any  # Fraction (exact) or an mpmath mpf


class _Unsupported(Exception):
    """The string is outside the small language read here: leave it to math-verify."""


def numeric_key(cleaned: str) -> str | None:
    """The canonical key of a numeric expression, or None when it is not one read here."""
    if not cleaned or len(cleaned) > 200:
        return None
    tokens = _tokens(cleaned)
    if tokens is None:
        return None
    import mpmath

    context = mpmath.MPContext()  # a context of its own: mpmath's global one is shared
    context.dps = PRECISION_DIGITS
    try:
        parser = _Parser(tokens, context)
        value = parser.expression()
        if parser.position != len(tokens):
            return None
        return _key(value, context)
    except (_Unsupported, ZeroDivisionError, OverflowError, ValueError, TypeError):
        return None


def _tokens(text: str) -> list[str] | None:
    tokens: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        if match.start() != position:
            return None  # a character outside the language
        tokens.append(match.group(0))
        position = match.end()
    return tokens if position == len(text) else None


def _key(value: Value, context: Any) -> str:
    if isinstance(value, Fraction):
        return fraction_key(value)
    _check_size(value, context)
    text = context.nstr(value, PRECISION_DIGITS, min_fixed=-1)
    return "n:" + format_decimal(Decimal(text))


class _Parser:
    def __init__(self, tokens: list[str], context: Any) -> None:
        self.tokens = tokens
        self.position = 0
        self.context = context

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise _Unsupported
        self.position += 1
        return token

    def expression(self) -> Value:
        value = self.term()
        while self.peek() in ("+", "-"):
            operator = self.take()
            right = self.term()
            left, right = self.common(value, right)
            value = left + right if operator == "+" else left - right
        return value

    def term(self) -> Value:
        value = self.signed()
        while True:
            token = self.peek()
            if token in ("\\cdot", "\\times", "*"):
                self.take()
                left, right = self.common(value, self.signed())
                value = left * right
            elif token in ("/", "\\div"):
                self.take()
                left, divisor = self.common(value, self.signed())
                if divisor == 0:
                    raise ZeroDivisionError
                value = left / divisor
            elif token in ("\\sqrt", "\\pi"):
                # Juxtaposition: 2\sqrt{3}, 3\pi. math-verify reads "2\frac{1}{3}", "2{3}"
                # and "(9)(2)" as sums (mixed numbers), so those go to it.
                left, right = self.common(value, self.power())
                value = left * right
            else:
                return value

    def signed(self) -> Value:
        if self.peek() == "-":
            self.take()
            return -self.signed()
        if self.peek() == "+":
            self.take()
            return self.signed()
        return self.power()

    def power(self) -> Value:
        base = self.atom()
        if self.peek() != "^":
            return base
        self.take()
        if self.peek() == "{":
            exponent = self.group()
        else:
            token = self.take()
            if not token.isdigit():
                raise _Unsupported
            exponent = Fraction(int(token[0]))
            self.position -= 1 if len(token) > 1 else 0  # x^23 is x^2 followed by 3
            if len(token) > 1:
                self.tokens[self.position] = token[1:]
        return _power(base, exponent, self.context)

    def atom(self) -> Value:
        token = self.take()
        if token.isdigit():
            return Fraction(int(token))
        if token == "(":
            value = self.expression()
            self.take(")")
            return value
        if token == "{":
            self.position -= 1
            return self.group()
        if token == "\\pi":
            return +self.context.pi
        if token in ("\\frac", "\\dfrac", "\\tfrac"):
            numerator = self.argument()
            denominator = self.argument()
            numerator, denominator = self.common(numerator, denominator)
            if denominator == 0:
                raise ZeroDivisionError
            return numerator / denominator
        if token == "\\sqrt":
            index: Value = Fraction(2)
            if self.peek() == "[":
                self.take()
                index = self.expression()
                self.take("]")
            return _root(self.argument(), index, self.context)
        raise _Unsupported

    def common(self, first: Value, second: Value) -> tuple[Value, Value]:
        """Both exact, or both mpmath numbers (mpmath does not mix with Fraction)."""
        if isinstance(first, Fraction) and isinstance(second, Fraction):
            return first, second
        return (
            _check_size(_to_mp(first, self.context), self.context),
            _check_size(_to_mp(second, self.context), self.context),
        )

    def group(self) -> Value:
        self.take("{")
        value = self.expression()
        self.take("}")
        return value

    def argument(self) -> Value:
        """A braced group, or one digit (``\\frac12``, ``\\sqrt2``)."""
        if self.peek() == "{":
            return self.group()
        token = self.take()
        if not token.isdigit():
            raise _Unsupported
        if len(token) > 1:
            self.position -= 1
            self.tokens[self.position] = token[1:]
        return Fraction(int(token[0]))


def _check_size(value: Value, context: Any) -> Value:
    if not isinstance(value, Fraction) and value and context.mag(value) > MAX_IRRATIONAL_BITS:
        raise _Unsupported
    return value


def _to_mp(value: Value, context: Any) -> Value:
    if isinstance(value, Fraction):
        return context.mpf(value.numerator) / value.denominator
    return value


def _power(base: Value, exponent: Value, context: Any) -> Value:
    if isinstance(exponent, Fraction) and exponent.denominator == 1:
        if abs(exponent.numerator) > MAX_EXPONENT:
            raise _Unsupported
        if base == 0 and exponent < 0:
            raise ZeroDivisionError
        if isinstance(base, Fraction):
            size = max(base.numerator.bit_length(), base.denominator.bit_length())
            if size * abs(exponent.numerator) > MAX_BITS:
                raise _Unsupported
        return _check_size(base ** int(exponent), context)
    if isinstance(exponent, Fraction):
        if base < 0:
            raise _Unsupported  # a complex or sign-ambiguous root
        return _root(
            _power(base, Fraction(exponent.numerator), context),
            Fraction(exponent.denominator),
            context,
        )
    raise _Unsupported


def _root(radicand: Value, index: Value, context: Any) -> Value:
    if not (isinstance(index, Fraction) and index.denominator == 1 and 2 <= index <= 64):
        raise _Unsupported
    if radicand < 0:
        raise _Unsupported
    degree = int(index)
    if isinstance(radicand, Fraction):
        numerator = _exact_root(radicand.numerator, degree)
        denominator = _exact_root(radicand.denominator, degree)
        if numerator is not None and denominator is not None:
            return Fraction(numerator, denominator)
    return context.root(_to_mp(radicand, context), degree)


def _exact_root(value: int, degree: int) -> int | None:
    if value.bit_length() > MAX_BITS:
        raise _Unsupported
    guess = round(value ** (1.0 / degree)) if value else 0
    for candidate in (guess - 1, guess, guess + 1):
        if candidate >= 0 and candidate**degree == value:
            return candidate
    return None
