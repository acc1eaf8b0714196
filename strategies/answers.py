"""Final answers of math solutions: extraction, equivalence, canonical keys and votes.

Why the machinery below exists:

* math-verify is the grader (DESIGN.md s.3): answers go to it wrapped in ``\\boxed{}``,
  because raw strings give false matches.
* math-verify can run for ever on some inputs (``10^{10^{10}}`` is one long C-level integer
  power that no signal interrupts; twenty nested parentheses keep the ANTLR parser busy for
  seconds) and its own timeouts use ``signal.alarm``, which fails outside the main thread.
  So its timeouts are switched off and every call runs in a small pool of worker
  processes that are killed when a call overruns its deadline. Cheap guards in front
  (length, bracket depth, and, inside the worker, the size of numbers a parsed expression
  would produce) keep known pathological inputs from costing a whole deadline.
* Voting must not compare answers pairwise (DESIGN.md s.2). ``canonical_key`` parses each
  distinct string once and reduces it to a string key (numbers rounded as math-verify
  rounds them, expressions fingerprinted by evaluating them at fixed points), so votes
  are dictionary lookups.
* Most final answers are plain numbers or fractions of integers. Those are read here,
  following math-verify's rules, without a round trip to a worker.

When math-verify cannot decide (no parse, a guard tripped, a deadline passed), answers
fall back to comparing ``normalize_answer_string`` forms.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import math
import os
import re
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

__all__ = [
    "canonical_key",
    "clear_caches",
    "extract_answer",
    "grade",
    "is_equivalent",
    "majority_vote",
    "normalize_answer_string",
    "weighted_vote",
]

# Seconds one math-verify call may run in a worker before the worker is killed. Below the
# 5 s promised to callers, leaving room for the kill and the string fallback.
MATH_VERIFY_TIMEOUT_S = 4.0
# Seconds a fresh worker may take to import math-verify (slow on a loaded machine).
WORKER_STARTUP_TIMEOUT_S = 120.0
# Answers longer than this, or nested deeper, skip math-verify (string comparison only):
# no real final answer is that long, and ANTLR's time grows steeply with nesting.
MAX_ANSWER_CHARS = 500
MAX_BRACKET_DEPTH = 8
# Expressions whose numbers would exceed this many decimal digits are not evaluated.
MAX_NUMBER_DIGITS = 5_000
# Decimal places numbers are rounded to in keys: math-verify's own float rounding.
KEY_DECIMAL_PLACES = 6
# Significant digits of the fingerprint of an expression with free symbols.
FINGERPRINT_DIGITS = 12
CANONICAL_KEY_CACHE_SIZE = 65_536
WORKER_PARSE_CACHE_SIZE = 4_096


# ----------------------------------------------------------------------------- extraction

_BOX_COMMAND = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_FINAL_ANSWER = re.compile(r"final answer is\s*:?", re.IGNORECASE)
_HOPE_SUFFIX = re.compile(r"\s*I hope it is correct\.?\s*$", re.IGNORECASE)
_GSM8K_ANSWER = re.compile(r"####\s*\$?\s*(-?[\d,]*\.?\d+)")


def extract_answer(text: str) -> str | None:
    """The final answer of a solution: last box, else "final answer is", else ``#### N``."""
    boxed = _last_box_content(text)
    if boxed is not None:
        return boxed
    final = _final_answer_phrase(text)
    if final is not None:
        return final
    gsm8k = _GSM8K_ANSWER.findall(text)
    if gsm8k:
        return gsm8k[-1].replace(",", "")
    return None


def _last_box_content(text: str) -> str | None:
    """Content of the last well-formed, non-empty ``\\boxed``/``\\fbox`` (truncated boxes are skipped)."""
    for match in reversed(list(_BOX_COMMAND.finditer(text))):
        content = _box_argument(text, match.end())
        if content:
            return content
    return None


def _box_argument(text: str, start: int) -> str | None:
    position = start
    while position < len(text) and text[position].isspace():
        position += 1
    if position >= len(text):
        return None
    if text[position] != "{":
        # ``\boxed 5``: the argument runs to the next space or dollar sign.
        token = re.match(r"[^\s$]+", text[position:])
        return token.group(0).rstrip(".,;") if token else None
    depth = 0
    index = position
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2  # an escaped character such as \{ or \} does not group
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[position + 1 : index].strip()
        index += 1
    return None


def _final_answer_phrase(text: str) -> str | None:
    matches = list(_FINAL_ANSWER.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end() :].strip()
    line = rest.split("\n", 1)[0]
    line = _HOPE_SUFFIX.sub("", line)
    previous = None
    while line != previous:  # peel markdown bold, sentence stops and math delimiters
        previous = line
        line = _strip_math_delimiters(line.strip().strip("*").rstrip("."))
    return line or None


def _strip_math_delimiters(answer: str) -> str:
    answer = answer.strip()
    for opening, closing in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if len(answer) >= len(opening) + len(closing) and (
            answer.startswith(opening) and answer.endswith(closing)
        ):
            answer = answer[len(opening) : len(answer) - len(closing)].strip()
    return answer


# ---------------------------------------------------------------------- string forms

# A LaTeX line break (two backslashes) is matched first so its second backslash is not a command.
_SPACING_COMMANDS = re.compile(
    r"(\\\\)|\\(?:left|right|displaystyle)(?![A-Za-z])|\\[!,;:> ]|\\q?quad(?![A-Za-z])|~"
)
_TEXT_COMMANDS = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?")
_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d,])")
_COMMAND_BEFORE_LETTER = re.compile(r"(\\[A-Za-z]+)\s+(?=[A-Za-z])")
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")


def _light_clean(answer: str) -> str:
    """Only rewrites that cannot change what an answer means to math-verify."""
    answer = _strip_math_delimiters(answer)
    answer = _UNESCAPED_DOLLAR.sub("", answer)
    answer = answer.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    answer = _SPACING_COMMANDS.sub(lambda match: match.group(1) or " ", answer)
    # Spaces only matter after a command word followed by a letter (``\cos x``).
    answer = _COMMAND_BEFORE_LETTER.sub(lambda match: match.group(1) + "\0", answer)
    answer = re.sub(r"\s+", "", answer).replace("\0", " ")
    return answer.rstrip(".")


def normalize_answer_string(answer: str) -> str:
    """A looser string form for answers math-verify cannot judge: equal forms mean equal answers."""
    answer = _light_clean(answer)
    answer = _TEXT_COMMANDS.sub(lambda match: match.group(1), answer)
    answer = _DEGREES.sub("", answer)
    answer = _THOUSANDS.sub(lambda match: match.group(0).replace(",", ""), answer)
    answer = _COMMAND_BEFORE_LETTER.sub(lambda match: match.group(1) + "\0", answer)
    answer = re.sub(r"\s+", "", answer).replace("\0", " ")
    return answer.rstrip(".")


def _within_guards(answer: str) -> bool:
    """Whether an answer is small and shallow enough to hand to math-verify."""
    if len(answer) > MAX_ANSWER_CHARS:
        return False
    depth = deepest = 0
    index = 0
    while index < len(answer):
        char = answer[index]
        if char == "\\":
            index += 2
            continue
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
        index += 1
    return deepest <= MAX_BRACKET_DEPTH


# --------------------------------------------------------------------- number formatting

_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")


def _format_decimal(value: Decimal, places: int = KEY_DECIMAL_PLACES) -> str:
    """Round half-even to ``places`` decimals; no exponent, no trailing zeros, no ``-0``."""
    with localcontext() as context:
        context.prec = max(28, value.adjusted() + places + 8)
        rounded = value.quantize(Decimal(1).scaleb(-places))
    text = format(rounded, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _fraction_key(value: Fraction) -> str:
    if value.denominator == 1 and abs(value.numerator).bit_length() > 13_000:
        return "h:" + format(value.numerator, "x")  # beyond int-to-str limits; exact
    with localcontext() as context:
        digits = max(len(str(abs(value.numerator))) - len(str(value.denominator)), 0)
        context.prec = digits + KEY_DECIMAL_PLACES + 12
        decimal = Decimal(value.numerator) / Decimal(value.denominator)
    return "n:" + _format_decimal(decimal)


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
    if _PLAIN_NUMBER.fullmatch(text) and len(text) <= 60:
        try:
            return Fraction(Decimal(text)), "." in text
        except (InvalidOperation, ValueError):
            return None
    match = _INTEGER_FRACTION.fullmatch(text)
    if match is None:
        return None
    numerator = match["numerator"] or match["digit_numerator"] or match["slash_numerator"]
    denominator = match["denominator"] or match["digit_denominator"] or match["slash_denominator"]
    if int(denominator) == 0 or len(numerator) + len(denominator) > 60:
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


def _simple_key(cleaned: str) -> str | None:
    """The key the worker would give a simple answer (braces around it change nothing)."""
    if cleaned.startswith("{") and cleaned.endswith("}"):
        cleaned = cleaned[1:-1]
    simple = _simple_answer(cleaned)
    return None if simple is None else _fraction_key(simple[1])


def _simple_verdict(pred: str, gold: str) -> bool | None:
    """math-verify's verdict on two simple answers, or None when one is not simple."""
    first, second = _simple_answer(pred), _simple_answer(gold)
    if first is None or second is None:
        return None
    (first_variable, first_value, first_decimal) = first
    (second_variable, second_value, second_decimal) = second
    if first_variable and second_variable and first_variable != second_variable:
        return None  # math-verify's strict rules about unknowns decide
    if first_decimal or second_decimal:
        return _fraction_key(first_value) == _fraction_key(second_value)
    return first_value == second_value


# ------------------------------------------------------------- worker side: math-verify


@functools.lru_cache(maxsize=WORKER_PARSE_CACHE_SIZE)
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
            if any(_log10_size(element) > MAX_NUMBER_DIGITS for element in item):
                return False
        elif isinstance(item, Basic) and _log10_size(item) > MAX_NUMBER_DIGITS:
            return False
    return True


def _has_expression(parsed: Sequence[Any]) -> bool:
    return any(not isinstance(item, str) for item in parsed)


def _equivalent_in_worker(pred: str, gold: str) -> bool | None:
    """math-verify's verdict, or None when it cannot judge (no parse, or numbers too big)."""
    from math_verify import verify

    gold_parsed = _parse_in_worker(gold)
    pred_parsed = _parse_in_worker(pred)
    if not (_has_expression(gold_parsed) and _has_expression(pred_parsed)):
        return None
    if not (_is_tame(gold_parsed) and _is_tame(pred_parsed)):
        return None
    return bool(
        verify(
            list(gold_parsed),
            list(pred_parsed),
            timeout_seconds=None,  # type: ignore[arg-type]
        )
    )


def _key_in_worker(answer: str) -> str | None:
    parsed = _parse_in_worker(answer)
    expressions = [item for item in parsed if not isinstance(item, str)]
    if not expressions or not _is_tame(expressions):
        return None
    return _expression_key(expressions[0], answer)


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
        return _fraction_key(Fraction(int(value.p), int(value.q)))
    if isinstance(value, Float):
        # Its written digits, as the parent reads plain decimals (not its binary expansion).
        return "n:" + _format_decimal(Decimal(str(value)))
    digits = max(_log10_size(value), 1.0)
    numeric = value.evalf(int(digits) + KEY_DECIMAL_PLACES + 15)
    real, imaginary = numeric.as_real_imag()
    if not (isinstance(real, (Float, Rational)) and isinstance(imaginary, (Float, Rational))):
        return "e:" + str(value)
    real_text = _format_decimal(Decimal(str(real)))
    imaginary_text = _format_decimal(Decimal(str(imaginary)))
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
            "0" if abs(number) < Decimal("1e-20") else format(number, f".{FINGERPRINT_DIGITS - 1}e")
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


def _serve_math_worker() -> None:
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
        limit = int(usage.ru_utime + usage.ru_stime + 2 * MATH_VERIFY_TIMEOUT_S) + 1
        if hard == resource.RLIM_INFINITY or limit <= hard:
            resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))
        try:
            reply = {"value": _handle_request(json.loads(line))}
        except Exception as error:  # a bad answer must not take the worker down
            reply = {"error": type(error).__name__}
        protocol.write(json.dumps(reply).encode() + b"\n")
        protocol.flush()


# ----------------------------------------------------------- parent side: worker pool


class _WorkerGone(Exception):
    """The worker died or stopped answering; it must be discarded."""


class _MathWorker:
    """One child process running ``_serve_math_worker``."""

    def __init__(self) -> None:
        package_root = str(Path(__file__).resolve().parents[1])
        code = (
            "import sys; sys.path.append(" + repr(package_root) + "); "
            "from strategies.answers import _serve_math_worker; _serve_math_worker()"
        )
        self._process = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C reaches the caller, not its workers
        )
        assert self._process.stdout is not None and self._process.stdin is not None
        self._stdin = self._process.stdin
        self._stdout_fd = self._process.stdout.fileno()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._stdout_fd, selectors.EVENT_READ)
        self._buffer = bytearray()
        ready = self._read_line(time.monotonic() + WORKER_STARTUP_TIMEOUT_S)
        if ready is None or not json.loads(ready).get("ready"):
            self.kill()
            raise RuntimeError(
                "the math-verify worker did not start within "
                f"{WORKER_STARTUP_TIMEOUT_S:.0f} s (exit code {self._process.poll()}); "
                "run `python -c 'import math_verify'` to see why"
            )

    def request(self, payload: dict[str, Any], deadline: float) -> Any:
        """The worker's reply, or ``_WorkerGone`` when it dies or misses the deadline."""
        try:
            self._stdin.write(json.dumps(payload).encode() + b"\n")
            self._stdin.flush()
        except OSError as error:
            raise _WorkerGone from error
        line = self._read_line(deadline)
        if line is None:
            raise _WorkerGone
        reply = json.loads(line)
        if "error" in reply:
            return None
        return reply["value"]

    def _read_line(self, deadline: float) -> bytes | None:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                return None
            chunk = os.read(self._stdout_fd, 65_536)
            if not chunk:
                raise _WorkerGone
            self._buffer += chunk
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return line

    def kill(self) -> None:
        self._process.kill()
        self._process.wait()
        self._selector.close()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()


class _WorkerPool:
    """Up to ``size`` workers shared by all threads; a worker that overruns is killed."""

    def __init__(self, size: int) -> None:
        self.owner_pid = os.getpid()
        self._size = size
        self._idle: list[_MathWorker] = []
        self._live = 0
        self._condition = threading.Condition()
        self._starting = 0
        self.discarded = 0  # workers killed after a miss or a crash (observable in tests)

    def call(self, payload: dict[str, Any], timeout_s: float) -> Any:
        """The worker's reply, or None when no worker could answer within ``timeout_s``."""
        worker, deadline = self._acquire(timeout_s)
        if worker is None:
            return None
        if time.monotonic() >= deadline:
            self._release(worker)  # healthy, merely too late for this call
            return None
        try:
            reply = worker.request(payload, deadline)
        except _WorkerGone:
            self._discard(worker)
            return None
        except BaseException:
            self._discard(worker)
            raise
        self._release(worker)
        return reply

    def broadcast_to_idle(self, payload: dict[str, Any]) -> None:
        with self._condition:
            idle, self._idle = self._idle, []
        for worker in idle:
            try:
                worker.request(payload, time.monotonic() + MATH_VERIFY_TIMEOUT_S)
            except _WorkerGone:
                self._discard(worker)
                continue
            self._release(worker)

    def shutdown(self) -> None:
        with self._condition:
            idle, self._idle = self._idle, []
            self._live -= len(idle)
        for worker in idle:
            worker.kill()

    def _acquire(self, timeout_s: float) -> tuple[_MathWorker | None, float]:
        """A worker and the deadline of the call; time spent on workers' start-up is not
        counted, as it is no fault of the caller's input."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while not self._idle and self._live >= self._size:
                started_waiting = time.monotonic()
                if self._starting:
                    self._condition.wait(0.5)
                    deadline += time.monotonic() - started_waiting
                    continue
                remaining = deadline - started_waiting
                if remaining <= 0:
                    return None, deadline
                self._condition.wait(remaining)
            if self._idle:
                return self._idle.pop(), deadline
            self._live += 1
            self._starting += 1
        try:
            worker = _MathWorker()
        except BaseException:
            with self._condition:
                self._live -= 1
                self._condition.notify()
            raise
        finally:
            with self._condition:
                self._starting -= 1
        return worker, time.monotonic() + timeout_s

    def _release(self, worker: _MathWorker) -> None:
        with self._condition:
            self._idle.append(worker)
            self._condition.notify()

    def _discard(self, worker: _MathWorker) -> None:
        worker.kill()
        with self._condition:
            self._live -= 1
            self.discarded += 1
            self._condition.notify()


_pool: _WorkerPool | None = None
_pool_lock = threading.Lock()


def _worker_pool() -> _WorkerPool:
    """The process's pool, created on first use (and afresh in a forked child)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool.owner_pid != os.getpid():
            _pool = _WorkerPool(size=max(2, min(4, os.cpu_count() or 2)))
            atexit.register(_pool.shutdown)
        return _pool


# ---------------------------------------------------------------------------- public API


def is_equivalent(pred: str, gold: str) -> bool:
    """Whether ``pred`` means the same as ``gold``; returns within about 5 s whatever the input."""
    pred_form, gold_form = normalize_answer_string(pred), normalize_answer_string(gold)
    if not pred_form or not gold_form:
        return False
    if pred_form == gold_form:
        return True
    pred_clean, gold_clean = _light_clean(pred), _light_clean(gold)
    simple = _simple_verdict(pred_clean, gold_clean)
    if simple is not None:
        return simple
    if not (_within_guards(pred_clean) and _within_guards(gold_clean)):
        return False
    verdict = _worker_pool().call(
        {"op": "equiv", "pred": pred_clean, "gold": gold_clean}, MATH_VERIFY_TIMEOUT_S
    )
    return verdict is True


def grade(pred: str | None, gold: str | None) -> bool:
    """Whether a (possibly missing) answer matches a (possibly missing) reference."""
    if pred is None or gold is None:
        return False
    return is_equivalent(pred, gold)


@functools.lru_cache(maxsize=CANONICAL_KEY_CACHE_SIZE)
def canonical_key(answer: str) -> str:
    """A key that equivalent answers usually share; computed once per distinct string.

    Known splits and merges, all rare in final answers: a pair ``(1,2)`` and a list ``1,2``
    get different keys (math-verify equates them); ``50\\%`` shares 50's key, not 0.5's
    (math-verify equates it with both); distinct exact numbers equal to 6 decimals share a key.
    """
    cleaned = _light_clean(answer)
    simple = _simple_key(cleaned)
    if simple is not None:
        return simple
    fallback = "s:" + normalize_answer_string(answer)
    if not cleaned or not _within_guards(cleaned):
        return fallback
    key = _worker_pool().call({"op": "key", "answer": cleaned}, MATH_VERIFY_TIMEOUT_S)
    return key if isinstance(key, str) else fallback


def clear_caches() -> None:
    """Forget cached keys and parses (benchmarks start cold; long runs bound memory)."""
    canonical_key.cache_clear()
    if _pool is not None and _pool.owner_pid == os.getpid():
        _pool.broadcast_to_idle({"op": "clear"})


def majority_vote(answers: list[str | None]) -> str | None:
    """The most frequent answer by canonical key (ties: first seen); None if there is none."""
    return _vote(answers, [1.0] * len(answers))


def weighted_vote(answers: list[str | None], scores: list[float]) -> str | None:
    """The answer whose samples' scores sum highest, grouped by canonical key (ties: first seen)."""
    if len(answers) != len(scores):
        raise ValueError(f"weighted_vote got {len(answers)} answers but {len(scores)} scores")
    if any(math.isnan(score) for score in scores):
        raise ValueError("weighted_vote got a NaN score")
    return _vote(answers, scores)


def _vote(answers: Sequence[str | None], weights: Sequence[float]) -> str | None:
    totals: dict[str, float] = {}
    first_answer: dict[str, str] = {}
    for answer, weight in zip(answers, weights, strict=True):
        if answer is None:
            continue
        key = canonical_key(answer)
        if key not in totals:
            totals[key] = 0.0
            first_answer[key] = answer
        totals[key] += weight
    if not totals:
        return None
    best = max(totals.values())
    winner = next(key for key, total in totals.items() if total == best)  # first seen
    return first_answer[winner]
