"""The worker side: math-verify's parse and verify, and canonical keys of parsed answers.

This code runs only inside the worker processes ``pool`` starts (one JSON request per
line on stdin, one JSON reply per line on stdout), never in the caller's process:
math-verify can run for ever on some inputs (``10^{10^{10}}`` is one C-level integer
power no signal interrupts) and its own timeouts use ``signal.alarm``, which fails in
threads. So its timeouts are off here, and the parent kills a worker that overruns.
Cheap guards (the size of numbers a parsed expression would produce) keep known
pathological inputs from costing a whole deadline.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from strategies.answers import limits
from strategies.answers.lenient import lenient_equal, with_imaginary_unit
from strategies.answers.normalise import normalize_answer_string
from strategies.answers.numbers import format_decimal, fraction_key


@functools.lru_cache(maxsize=limits.WORKER_PARSE_CACHE_SIZE)
def _parse_in_worker(answer: str) -> tuple[Any, ...]:
    from math_verify import LatexExtractionConfig, parse

    return tuple(
        parse(
            "\\boxed{" + answer + "}",
            extraction_config=[LatexExtractionConfig()],
            parsing_timeout=None,  # type: ignore[arg-type]
        )
    )


def _log10_size(node: Any) -> float:
    """Upper estimate of the decimal digits evaluating ``node`` could produce (inf: too many)."""
    from sympy import Float, Pow, Rational, factorial

    if isinstance(node, Rational):
        return max(abs(node.p).bit_length(), abs(node.q).bit_length()) * 0.302
    if isinstance(node, Float):
        _sign, _mantissa, exponent, bit_count = node._mpf_
        return abs(exponent + bit_count) * 0.302
    if isinstance(node, Pow):
        base_size = _log10_size(node.base)
        exponent = node.exp
        if isinstance(exponent, Rational) and abs(exponent.p).bit_length() < 40:
            exponent_bound = abs(float(exponent))
        else:
            exponent_size = _log10_size(exponent)
            if exponent_size > 7:
                return math.inf
            exponent_bound = 10.0**exponent_size
        return exponent_bound * max(base_size, 1.0)
    if isinstance(node, factorial):
        argument_size = _log10_size(node.args[0])
        if argument_size > 7:
            return math.inf
        bound = 10.0**argument_size
        return bound * max(math.log10(bound), 1.0)
    return sum((_log10_size(argument) for argument in getattr(node, "args", ())), 0.0)


def _is_tame(parsed: Sequence[Any]) -> bool:
    from sympy import Basic, MatrixBase

    for item in parsed:
        if isinstance(item, MatrixBase):
            if any(_log10_size(element) > limits.MAX_NUMBER_DIGITS for element in item):
                return False
        elif isinstance(item, Basic) and _log10_size(item) > limits.MAX_NUMBER_DIGITS:
            return False
    return True


def _has_expression(parsed: Sequence[Any]) -> bool:
    return any(not isinstance(item, str) for item in parsed)


def _equivalent_in_worker(pred: str, gold: str) -> bool | None:
    """math-verify's verdict, then ``lenient``'s second look at a "different", or None when
    it cannot judge (no parse, or numbers too big)."""
    from math_verify import verify

    gold_parsed = _parse_in_worker(gold)
    pred_parsed = _parse_in_worker(pred)
    if not (_has_expression(gold_parsed) and _has_expression(pred_parsed)):
        return None
    if not (_is_tame(gold_parsed) and _is_tame(pred_parsed)):
        return None
    if verify(list(gold_parsed), list(pred_parsed), timeout_seconds=None):  # type: ignore[arg-type]
        return True
    gold_expression = next(item for item in gold_parsed if not isinstance(item, str))
    pred_expression = next(item for item in pred_parsed if not isinstance(item, str))
    return lenient_equal(gold_expression, pred_expression, gold, pred)


def _key_in_worker(answer: str) -> str | None:
    parsed = _parse_in_worker(answer)
    expressions = [item for item in parsed if not isinstance(item, str)]
    if not expressions or not _is_tame(expressions):
        return None
    # ``i`` is the imaginary unit in keys as in ``lenient``: "1+2i" and "i(2-i)" share one.
    return _expression_key(with_imaginary_unit(expressions[0]), answer)


def _expression_key(node: Any, source: str | None = None) -> str:
    """A string that equivalent parsed answers usually share (``source``: the whole answer)."""
    from latex2sympy2_extended.logic import And
    from sympy import (
        E,
        FiniteSet,
        Interval,
        MatrixBase,
        Mul,
        Rational,
        Set,
        Symbol,
        Tuple,
        UnevaluatedExpr,
    )
    from sympy.core.relational import Relational

    def key(child: Any) -> str:
        return _expression_key(child)

    if isinstance(node, MatrixBase):
        elements = ",".join(key(element) for element in node)
        return f"M{node.shape[0]}x{node.shape[1]}({elements})"
    if isinstance(node, Tuple):
        return "(" + ",".join(key(element) for element in node.args) + ")"
    if isinstance(node, Interval):
        # math-verify treats an open interval (a, b) like the pair (a, b).
        if node.left_open and node.right_open and node.start.is_finite and node.end.is_finite:
            return "(" + key(node.start) + "," + key(node.end) + ")"
        left = "(" if node.left_open else "["
        right = ")" if node.right_open else "]"
        return "I" + left + key(node.start) + "," + key(node.end) + right
    if isinstance(node, FiniteSet):
        if len(node.args) == 1:  # math-verify equates {a} with a
            return key(node.args[0])
        return "{" + ",".join(sorted(key(element) for element in node.args)) + "}"
    if isinstance(node, Set):
        if node.is_empty:
            return "{}"
        return "S:" + type(node).__name__ + "(" + ",".join(sorted(map(key, node.args))) + ")"
    if isinstance(node, And):
        return "and(" + ",".join(key(argument) for argument in node._unsorted_args) + ")"
    if isinstance(node, Relational):
        return _relation_key(node, key)
    if isinstance(node, Mul) and len(node.args) == 2:
        value, unit = node.args
        if unit == UnevaluatedExpr(Rational(1, 100)):
            # A percentage: math-verify equates 50% with 50 but 0.5% with 0.005.
            return key(value) if value.is_Integer else key(value * Rational(1, 100))
    if isinstance(node, Symbol):
        return "t:" + node.name.lower()
    if isinstance(node, Mul) and all(arg == E or isinstance(arg, Symbol) for arg in node.args):
        # Letters run together (``Monday``): parsed as a product, meant as a word.
        if source is not None:
            return "t:" + normalize_answer_string(source).lower()
        return "t:" + "*".join(sorted(str(argument).lower() for argument in node.args))
    if getattr(node, "is_number", False):
        return _number_key(node)
    if getattr(node, "free_symbols", None):
        return _fingerprint_key(node)
    return "e:" + str(node)


def _relation_key(node: Any, key: Callable[[Any], str]) -> str:
    """Equations and inequalities, each kind reduced to one orientation."""
    from latex2sympy2_extended import is_expr_of_only_symbols
    from sympy import Eq, GreaterThan, LessThan, StrictGreaterThan, StrictLessThan

    if isinstance(node, Eq):
        if is_expr_of_only_symbols(node.lhs):
            return key(node.rhs)  # an assignment ``x = 5`` answers 5
        difference = node.lhs - node.rhs
        return "eq:" + min(key(difference), key(-difference))
    if isinstance(node, (StrictLessThan, LessThan)):
        name = "lt:" if isinstance(node, StrictLessThan) else "le:"
        return name + key(node.lhs - node.rhs)
    if isinstance(node, (StrictGreaterThan, GreaterThan)):
        name = "lt:" if isinstance(node, StrictGreaterThan) else "le:"
        return name + key(node.rhs - node.lhs)
    return "e:" + str(node)


def _number_key(node: Any) -> str:
    from sympy import Float, Integer, Rational, nan, oo, zoo

    value = node.doit() if hasattr(node, "doit") else node
    if value in (nan, zoo):
        return "e:" + str(value)
    if value == oo or value == -oo:
        return "n:" + ("inf" if value == oo else "-inf")
    if isinstance(value, (Integer, Rational)):
        return fraction_key(Fraction(int(value.p), int(value.q)))
    if isinstance(value, Float):
        # Its written digits, as the parent reads plain decimals (not its binary expansion).
        return "n:" + format_decimal(Decimal(str(value)))
    digits = max(_log10_size(value), 1.0)
    numeric = value.evalf(int(digits) + limits.KEY_DECIMAL_PLACES + 15)
    real, imaginary = numeric.as_real_imag()
    if not (isinstance(real, (Float, Rational)) and isinstance(imaginary, (Float, Rational))):
        return "e:" + str(value)
    real_text = format_decimal(Decimal(str(real)))
    imaginary_text = format_decimal(Decimal(str(imaginary)))
    if imaginary_text == "0":
        return "n:" + real_text
    return "c:" + real_text + "," + imaginary_text


def _probe_value(name: str) -> float:
    """A fixed point, different for each symbol name, at which expressions are fingerprinted."""
    digest = int(hashlib.sha256(name.encode()).hexdigest()[:12], 16)
    return 1.1 + (digest % 1_000_003) / 1_000_003 * 0.8


def _fingerprint_key(node: Any) -> str:
    from sympy import Float

    symbols = sorted(node.free_symbols, key=lambda symbol: symbol.name)
    point = {symbol: Float(_probe_value(symbol.name), 30) for symbol in symbols}
    value = node.subs(point).evalf(30)
    if not value.is_number:
        return "e:" + str(node)
    real, imaginary = value.as_real_imag()
    parts = []
    for part in (real, imaginary):
        if not isinstance(part, Float) and not part.is_Rational:
            return "e:" + str(node)
        number = Decimal(str(part))
        # Evaluation noise of an expression that is exactly zero is not a value.
        parts.append(
            "0"
            if abs(number) < Decimal("1e-20")
            else format(number, f".{limits.FINGERPRINT_DIGITS - 1}e")
        )
    names = ",".join(symbol.name for symbol in symbols)
    return f"f[{names}]:{parts[0]},{parts[1]}"


def _handle_request(request: dict[str, Any]) -> Any:
    operation = request["op"]
    if operation == "equiv":
        return _equivalent_in_worker(request["pred"], request["gold"])
    if operation == "key":
        return _key_in_worker(request["answer"])
    if operation == "clear":
        _parse_in_worker.cache_clear()
        return None
    raise ValueError(f"unknown worker operation {operation!r}")


def serve() -> None:
    """Main loop of a worker process: one JSON request per line in, one JSON reply out."""
    import logging
    import resource

    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt replies
    for name in ("math_verify", "latex2sympy2_extended"):
        logging.getLogger(name).setLevel(logging.ERROR)
    for sample in ("\\frac{1}{2}", "(1,2)", "x^2+1", "\\sqrt{2}"):
        _key_in_worker(sample)  # warm the parser's caches before the first real request
    _parse_in_worker.cache_clear()
    protocol.write(b'{"ready": true}\n')
    protocol.flush()
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    for line in sys.stdin.buffer:
        # If the parent dies while this worker is stuck, the kernel ends it (SIGXCPU).
        usage = resource.getrusage(resource.RUSAGE_SELF)
        limit = int(usage.ru_utime + usage.ru_stime + 2 * limits.MATH_VERIFY_TIMEOUT_S) + 1
        if hard == resource.RLIM_INFINITY or limit <= hard:
            resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))
        try:
            reply = {"value": _handle_request(json.loads(line))}
        except Exception as error:  # a bad answer must not take the worker down
            reply = {"error": type(error).__name__}
        protocol.write(json.dumps(reply).encode() + b"\n")
        protocol.flush()
