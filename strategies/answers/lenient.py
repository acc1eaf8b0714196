"""A second look, in the worker, at pairs math-verify called different.

math-verify is right far more often than not, so its "equal" is final; when it says
"different", three small rules may still find the answers equal, each for a reason
math-verify does not model:

- **written precision** (``precision``): ``125.66`` against ``40\\pi``, also inside tuples,
  intervals, sets and matrices (``(1.732, 2)`` against ``(\\sqrt3, 2)``);
- **vectors and matrices**: a one-row or one-column matrix against a tuple or a bracket
  pair of the same entries in the same order (math-verify reads ``(1,2)`` and ``[1,2]``
  as intervals); ordered things stay ordered, and two intervals still need the same
  brackets;
- **complex numbers**: ``i`` is the imaginary unit (``1+2i`` against ``i(2-i)``);
- **inequalities and intervals**: ``x \\le 3`` is ``(-\\infty, 3]`` (one unknown only).

Runs only inside a worker process, so the parent's deadline bounds it like math-verify.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from strategies.answers.precision import DECIMAL, approximates, approximates_fraction

# Deepest nesting of tuples, sets and matrices walked; most elements of a set matched.
MAX_DEPTH = 4
MAX_SET_SIZE = 12


def lenient_equal(gold: Any, pred: Any, gold_text: str, pred_text: str) -> bool:
    """Whether two parsed answers are equal by one of the module's rules."""
    decimals = DECIMAL.findall(gold_text) + DECIMAL.findall(pred_text)
    return _equal(gold, pred, decimals, 0)


def with_imaginary_unit(node: Any) -> Any:
    """``node`` with the symbol ``i`` read as the imaginary unit."""
    from sympy import Basic, I

    if not isinstance(node, Basic):
        return node
    symbols = [symbol for symbol in node.free_symbols if getattr(symbol, "name", "") == "i"]
    return node.subs(symbols[0], I) if symbols else node


def _equal(first: Any, second: Any, decimals: list[str], depth: int) -> bool:
    from sympy import FiniteSet, Interval, MatrixBase, Set

    if depth > MAX_DEPTH:
        return False
    first, second = _assigned_value(first), _assigned_value(second)
    if isinstance(first, MatrixBase) and isinstance(second, MatrixBase):
        if first.shape != second.shape:
            return False
        return all(_equal(a, b, decimals, depth + 1) for a, b in zip(first, second, strict=True))
    both_intervals = isinstance(first, Interval) and isinstance(second, Interval)
    if both_intervals and (first.left_open, first.right_open) != (
        second.left_open,
        second.right_open,
    ):
        return False  # [1, 2] is not (1, 2)
    first_items, second_items = _sequence(first), _sequence(second)
    if first_items is not None and second_items is not None:
        if len(first_items) != len(second_items):
            return False
        return all(
            _equal(a, b, decimals, depth + 1)
            for a, b in zip(first_items, second_items, strict=True)
        )
    if isinstance(first, FiniteSet) and isinstance(second, FiniteSet):
        return _same_set(list(first.args), list(second.args), decimals, depth)
    for relation, other in ((first, second), (second, first)):
        solution = _solution_set(relation)
        if solution is not None and isinstance(other, Set):
            return bool(solution == other)
    # At the top, math-verify has just compared these two: no need to ask it again.
    return _leaf_equal(first, second, decimals, compare=depth > 0)


def _solution_set(node: Any) -> Any:
    """The interval an inequality in one unknown describes (``x \\le 3``), else None."""
    from sympy import Intersection
    from sympy.core.relational import Equality, Relational, Unequality

    if type(node).__name__ == "And":  # a chain, -1 < x \\le 4
        parts = [_solution_set(part) for part in getattr(node, "_unsorted_args", node.args)]
        symbols = {symbol for part in node.args for symbol in part.free_symbols}
        if len(symbols) != 1 or any(part is None for part in parts):
            return None
        return Intersection(*parts)
    if not isinstance(node, Relational) or isinstance(node, (Equality, Unequality)):
        return None
    if len(node.free_symbols) != 1:
        return None
    try:
        return node.as_set()
    except (NotImplementedError, TypeError, ValueError):
        return None


def _assigned_value(node: Any) -> Any:
    """``x = 2.236`` -> 2.236: an assignment to one unknown answers with its value."""
    from sympy import Eq, Symbol

    if isinstance(node, Eq) and isinstance(node.lhs, Symbol):
        return node.rhs
    return node


def _sequence(node: Any) -> list[Any] | None:
    """The entries, in order, of a vector, a tuple or an interval read as a pair."""
    from sympy import Interval, MatrixBase, Tuple

    if isinstance(node, MatrixBase) and 1 in node.shape:
        return list(node)
    if isinstance(node, Tuple):
        return list(node.args)
    if isinstance(node, (tuple, list)):
        return list(node)
    if isinstance(node, Interval) and node.start.is_finite and node.end.is_finite:
        return [node.start, node.end]
    return None


def _same_set(first: list[Any], second: list[Any], decimals: list[str], depth: int) -> bool:
    if len(first) != len(second) or len(first) > MAX_SET_SIZE:
        return False
    unmatched = list(second)
    for element in first:
        match = next(
            (i for i, other in enumerate(unmatched) if _equal(element, other, decimals, depth + 1)),
            None,
        )
        if match is None:
            return False
        unmatched.pop(match)
    return True


def _leaf_equal(first: Any, second: Any, decimals: list[str], compare: bool) -> bool:
    from math_verify import verify
    from sympy import Basic, Float

    if not (isinstance(first, Basic) and isinstance(second, Basic)):
        return False
    if compare and verify([first], [second], timeout_seconds=None):  # type: ignore[arg-type]
        return True
    first_i, second_i = with_imaginary_unit(first), with_imaginary_unit(second)
    if (first_i is not first or second_i is not second) and _difference_is_zero(first_i, second_i):
        return True
    for decimal, exact in ((first, second), (second, first)):
        if isinstance(decimal, Float) and not isinstance(exact, Float):
            written = _written(decimal, decimals)
            if written is not None and _approximates(written, exact):
                return True
    return False


def _difference_is_zero(first: Any, second: Any) -> bool:
    from sympy import expand

    try:
        difference = expand((first - second).doit())  # sqrt(-1) is parsed unevaluated
    except (TypeError, ValueError, AttributeError):
        return False
    return bool(difference == 0)


def _written(value: Any, decimals: list[str]) -> str | None:
    """How a parsed decimal was written (its places count), found among the source's decimals."""
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        return None
    for text in decimals:
        if abs(Decimal(text) - parsed) < Decimal("1e-9"):
            return text
    return None


def _approximates(written: str, exact: Any) -> bool:
    from sympy import Float, Rational

    if not getattr(exact, "is_number", False) or exact.atoms(Float):
        return False
    if isinstance(exact, Rational):
        return approximates_fraction(written, Fraction(int(exact.p), int(exact.q)))
    places = len(written.split(".")[1])
    value = exact.evalf(places + 25)
    real, imaginary = value.as_real_imag()
    if imaginary != 0 or not isinstance(real, Float):
        return False
    try:
        return approximates(written, Decimal(str(real)))
    except InvalidOperation:
        return False
