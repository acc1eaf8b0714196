"""An arithmetic step checker: a verifier with no model that recomputes written equations.

Small models get arithmetic wrong in ways a calculator catches ("47 + 38 = 125"), so for
arithmetic work this is a real verifier, cheap enough to score every beam of every step.

How a step is read:

1. The text is normalised: math delimiters ("$", "\\(", "\\[", GSM8K's "<<" ">>") become
   boundaries, "\\times", "\\cdot", "×", "·" and "x" between digits become "*", "\\div"
   and "÷" become "/", "\\frac{a}{b}" becomes "((a)/(b))", "\\sqrt{a}" a square root,
   braces become parentheses, "\\text{...}" keeps its words, markdown bold and thousands
   separators go.
2. Every "=" (not "==", "<=", ">=", "!=") is an equation between the longest run of
   arithmetic (digits, ".", + - * / ^, parentheses, square roots) just before it and the
   longest run just after it. So a chain "2+3 = 5 = 5" is two equations.
3. An equation is *checkable* only when both sides are plainly whole expressions: a side
   touching a letter ("3x", "x + 3", "5 apples - 2" read as "- 2"), a percentage or a
   LaTeX command, a lone number right after a word ("20% of 50 = 10" would read "50 =
   10"), or a number followed by an operator word ("= 5 times 3") is not checkable.
   Unreadable beats wrongly read: a false alarm would punish a correct solution.
4. Both sides are parsed by sympy's ``parse_expr`` over that character whitelist (no
   names but ``sqrt`` can reach it), with exponent towers refused before evaluation, and
   evaluated to 30 significant digits. They must agree exactly, or, when a side is written
   with decimals, to half a unit in the last decimal place of the side written with the
   fewest decimals (so "10/3 = 3.33" holds and "2/3 = 0.66" does not).

How a step is scored (a PRM scores a prefix, so failures carry forward): step ``i`` gets
``fail_score`` when any equation in steps 1..i fails, else ``pass_score`` when at least
one equation in steps 1..i was checked, else ``neutral_score``. With
``check_boxed=True``, a numeric ``\\boxed{}`` answer that differs from the right-hand side
of the last checked equation so far also counts as a failure at its step (off by default:
the last equation is not always the final answer).

Results are cached per distinct step text and per distinct equation. ``num_tokens`` is an
estimate, a quarter of the characters of the steps (the checker reads no tokens, and its
``num_parameters`` is 0, so it adds no FLOPs to the ledger).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from strategies.verification import ScoreRequest, StepScores

_ARITHMETIC = r"0-9.\s+\-*/^()√"
_TRAILING_RUN = re.compile(f"[{_ARITHMETIC}]*$")
_LEADING_RUN = re.compile(f"^[{_ARITHMETIC}]*")
_EMPTY_PARENTHESES = re.compile(r"\(\s*\)")
_EQUALS = re.compile(r"(?<![<>!=])=(?!=)")
# Two numbers separated only by spaces ("2. 12 * 3") are two things, not a product.
_NUMBER_GAP = re.compile(r"[\d.)]\s+(?=[\d(√])")
_DECIMALS = re.compile(r"\d*\.(\d+)")
_OPERATOR_WORDS = frozenset(
    [
        "times",
        "plus",
        "minus",
        "divided",
        "multiplied",
        "over",
        "percent",
        "squared",
        "cubed",
        "of",
        "to",
        "by",
        "mod",
    ]
)
_BOUNDARY_CHARS = ";:,([{"
_GLUE_CHARS = ";([{"
_MAX_OPERAND_CHARS = 200
_MAX_EXPONENT_PRODUCT = 1000

_SIMPLE_REPLACEMENTS = (
    ("\\\\", " ; "),
    ("\\boxed", ""),
    ("\\$", " "),
    ("$", " "),
    ("\\(", " "),
    ("\\)", " "),
    ("\\[", " ; "),
    ("\\]", " ; "),
    ("&", " "),
    ("<<", " ; "),
    (">>", " ; "),
    ("**", " "),
    ("\\left", ""),
    ("\\right", ""),
    ("{,}", ""),
    ("\\times", " * "),
    ("\\cdot", " * "),
    ("\\ast", " * "),
    ("×", " * "),
    ("·", " * "),
    ("∙", " * "),
    ("\\div", " / "),
    ("÷", " / "),
    ("−", "-"),
    ("\\dfrac", "\\frac"),
    ("\\tfrac", "\\frac"),
    ("\\!", ""),
    ("\\,", " "),
    ("\\;", " "),
    ("\\:", " "),
    ("\\qquad", " "),
    ("\\quad", " "),
)
_TEXT_COMMAND = re.compile(r"\\(?:text|textbf|textit|mathrm|mbox|operatorname)\s*\{([^{}]*)\}")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_DIGIT_TIMES_DIGIT = re.compile(r"(?<=\d)\s*[x×]\s*(?=\d)")


@dataclass(frozen=True)
class EquationCheck:
    """One equation found in a step: both sides as evaluated, and whether it holds."""

    lhs: str
    rhs: str
    holds: bool
    rhs_value: float


@dataclass(frozen=True)
class StepCheck:
    """What the checker found in one step."""

    equations: tuple[EquationCheck, ...]
    boxed_value: float | None

    @property
    def failed(self) -> bool:
        return any(not e.holds for e in self.equations)


class ArithmeticStepChecker:
    """A ``Verifier`` that recomputes the arithmetic in each step (see the module doc)."""

    name = "arithmetic"
    num_parameters = 0

    def __init__(
        self,
        *,
        pass_score: float = 0.95,
        fail_score: float = 0.05,
        neutral_score: float = 0.6,
        check_boxed: bool = False,
        cache_size: int = 100_000,
    ) -> None:
        for label, value in (
            ("pass", pass_score),
            ("fail", fail_score),
            ("neutral", neutral_score),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{label}_score must be in [0, 1], got {value}")
        self.pass_score = pass_score
        self.fail_score = fail_score
        self.neutral_score = neutral_score
        self.check_boxed = check_boxed
        self.cache_size = cache_size
        self._steps: dict[str, StepCheck] = {}
        self._equations: dict[tuple[str, str], tuple[bool, float] | None] = {}

    def score(self, requests: Sequence[ScoreRequest]) -> list[StepScores]:
        return [self._score_one(request) for request in requests]

    def _score_one(self, request: ScoreRequest) -> StepScores:
        scores = []
        failed = checked = False
        last_value: float | None = None
        for step in request.steps:
            found = self.check_step(step)
            failed = failed or found.failed
            checked = checked or bool(found.equations)
            if found.equations:
                last_value = found.equations[-1].rhs_value
            if (
                self.check_boxed
                and found.boxed_value is not None
                and last_value is not None
                and not _close(found.boxed_value, last_value, 0.0)
            ):
                failed = True
            if failed:
                scores.append(self.fail_score)
            elif checked:
                scores.append(self.pass_score)
            else:
                scores.append(self.neutral_score)
        characters = sum(len(step) for step in request.steps)
        return StepScores(scores=tuple(scores), num_tokens=math.ceil(characters / 4))

    def check_step(self, step: str) -> StepCheck:
        cached = self._steps.get(step)
        if cached is not None:
            return cached
        equations = []
        for lhs, rhs in find_equations(step):
            result = self._check_equation(lhs, rhs)
            if result is not None:
                holds, rhs_value = result
                equations.append(EquationCheck(lhs, rhs, holds, rhs_value))
        boxed = boxed_number(step) if self.check_boxed else None
        found = StepCheck(tuple(equations), boxed)
        self._remember(self._steps, step, found)
        return found

    def _check_equation(self, lhs: str, rhs: str) -> tuple[bool, float] | None:
        key = (lhs, rhs)
        if key not in self._equations:
            self._remember(self._equations, key, evaluate_equation(lhs, rhs))
        return self._equations[key]

    def _remember(self, cache: dict[Any, Any], key: Any, value: Any) -> None:
        if len(cache) >= self.cache_size:
            cache.clear()
        cache[key] = value


def normalize_math_text(text: str) -> str:
    """Rewrite LaTeX-ish and markdown arithmetic into the checker's plain form."""
    text = _TEXT_COMMAND.sub(lambda m: f" {m.group(1)} ", text)
    for old, new in _SIMPLE_REPLACEMENTS:
        text = text.replace(old, new)
    text = _THOUSANDS.sub("", text)
    text = _rewrite_braced_commands(text)
    text = text.replace("{", "(").replace("}", ")")
    return _DIGIT_TIMES_DIGIT.sub(" * ", text)


def _rewrite_braced_commands(text: str) -> str:
    """``\\frac{a}{b}`` to ``((a)/(b))`` and ``\\sqrt{a}`` to ``√((a))``, innermost first."""
    for _ in range(50):
        match = re.search(r"\\(frac|sqrt)\s*\{", text)
        if match is None:
            return text
        first_end = _closing_brace(text, match.end() - 1)
        if first_end is None:
            return text[: match.start()] + " \\unreadable " + text[match.end() :]
        first = text[match.end() : first_end]
        if match.group(1) == "sqrt":
            replacement, end = f"√(({first}))", first_end + 1
        else:
            rest = first_end + 1
            while rest < len(text) and text[rest] == " ":
                rest += 1
            second_end = _closing_brace(text, rest) if text[rest : rest + 1] == "{" else None
            if second_end is None:
                replacement, end = " \\unreadable ", first_end + 1
            else:
                replacement = f"(({first})/({text[rest + 1 : second_end]}))"
                end = second_end + 1
        text = text[: match.start()] + replacement + text[end:]
    return text


def _closing_brace(text: str, open_index: int) -> int | None:
    depth = 0
    for index in range(open_index, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    return None


def find_equations(step: str) -> list[tuple[str, str]]:
    """The checkable equations of a step, as (left side, right side) strings."""
    text = normalize_math_text(step)
    segments = _EQUALS.split(text)
    equations = []
    for left_segment, right_segment in itertools.pairwise(segments):
        lhs = _left_operand(left_segment)
        right = _right_operand(right_segment)
        if lhs is None or right is None:
            continue
        rhs, before_word = right
        if before_word and _is_bare_number(lhs) and _is_bare_number(rhs):
            continue  # "12 = 1 dozen" states a unit, not a sum
        equations.append((lhs, rhs))
    return equations


def _left_operand(segment: str) -> str | None:
    match = _TRAILING_RUN.search(segment)
    assert match is not None  # the pattern matches the empty string
    run, before = match.group(), segment[: match.start()]
    if before and not run[:1].isspace() and before[-1] not in _GLUE_CHARS:
        return None  # glued to a letter or symbol: "x2 = 4", "a_1 = 5", "5:8 = 13"
    gaps = list(_NUMBER_GAP.finditer(run))
    if gaps:
        before, run = before + run[: gaps[-1].end()], run[gaps[-1].end() :]
    operand = run.strip()
    at_boundary = not before.strip() or before.rstrip()[-1] in _BOUNDARY_CHARS
    while operand.count("(") > operand.count(")") and operand.startswith("("):
        operand = operand[1:].lstrip()
    if not operand or operand[0] in "+*/^" or operand[-1] in "+-*/^":
        return None  # the run starts mid-expression: "x + 3 = 10" reads "+ 3"
    if not at_boundary and (operand[0] == "-" or _is_bare_number(operand)):
        return None  # "apples - 3 = 13", "20% of 50 = 10"
    return operand if _balanced(operand) else None


def _right_operand(segment: str) -> tuple[str, bool] | None:
    """The right side, and whether a word follows it."""
    match = _LEADING_RUN.match(segment)
    assert match is not None
    run, after = match.group(), segment[match.end() :]
    gaps = list(_NUMBER_GAP.finditer(run))
    if gaps:
        run, after = run[: gaps[0].start() + 1], run[gaps[0].start() + 1 :] + after
    operand = run.strip()
    word = None
    if after:
        glued = not run[-1:].isspace()
        follower = after.lstrip()
        word = re.match(r"[A-Za-z]+", follower)
        if glued and (after[0].isalnum() or after[0] in "\\_'"):
            return None  # "3x", "5\pi"
        if follower[:1] in "%!\\_'" and follower:
            return None  # "50%", "3!", "2 \pi"
        if word and (len(word.group()) == 1 or word.group().lower() in _OPERATOR_WORDS):
            return None  # "= 3 x", "= 5 times 3"
    operand = operand.rstrip(".").rstrip()
    while operand.count(")") > operand.count("(") and operand.endswith(")"):
        operand = operand[:-1].rstrip()
    if not operand or operand[0] in "+*/^" or operand[-1] in "+-*/^(":
        return None
    return (operand, word is not None) if _balanced(operand) else None


def _is_bare_number(operand: str) -> bool:
    return re.fullmatch(r"-?\s*[\d.]+", operand) is not None


def _balanced(operand: str) -> bool:
    depth = 0
    for char in operand:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def evaluate_equation(lhs: str, rhs: str) -> tuple[bool, float] | None:
    """Whether ``lhs = rhs`` holds (and the right side's value); None if not evaluable."""
    left, right = evaluate_operand(lhs), evaluate_operand(rhs)
    if left is None or right is None:
        return None
    written = [_decimal_places(side) for side in (lhs, rhs)]
    places = [d for d in written if d is not None]
    tolerance = 0.5 * 10.0 ** -min(places) if places else 0.0
    return _close(left, right, tolerance), right


def _close(a: float, b: float, tolerance: float) -> bool:
    return abs(a - b) <= tolerance + 1e-12 * max(1.0, abs(a), abs(b))


def _decimal_places(operand: str) -> int | None:
    found = _DECIMALS.findall(operand)
    return max(len(d) for d in found) if found else None


def evaluate_operand(operand: str) -> float | None:
    """The value of one whitelisted arithmetic expression, or None.

    ``parse_expr`` evaluates generated Python, so the input is restricted to the
    checker's character whitelist first; exponent towers are refused on the unevaluated
    tree, because sympy would otherwise compute 9^9^9 exactly.
    """
    if len(operand) > _MAX_OPERAND_CHARS or re.search(f"[^{_ARITHMETIC}]", operand):
        return None
    if _EMPTY_PARENTHESES.search(operand):
        return None  # sympy would parse "()" to a Tuple (and warn that Mul(2, ()) is deprecated)
    import sympy
    from sympy.parsing.sympy_parser import (
        auto_number,
        convert_xor,
        implicit_multiplication,
        parse_expr,
        rationalize,
    )

    names = {
        name: getattr(sympy, name)
        for name in ("Integer", "Float", "Rational", "Add", "Mul", "Pow", "Symbol", "sqrt")
    }
    try:
        expression = parse_expr(
            operand.replace("√", "sqrt"),
            local_dict={},
            global_dict=names,
            transformations=(auto_number, rationalize, convert_xor, implicit_multiplication),
            evaluate=False,
        )
    except Exception:  # any parse failure of whitelisted text means "not checkable"
        return None
    if not _is_arithmetic(expression) or not _exponents_are_small(expression):
        return None
    try:
        value = expression.evalf(30)
        if not (value.is_real and value.is_finite):
            return None
        return float(value)
    except (ArithmeticError, TypeError, ValueError, AttributeError):
        return None  # a checker never stops a batch: what sympy cannot evaluate is unchecked


def _is_arithmetic(expression: Any) -> bool:
    """Numbers and operations only. Whitelisted text can still parse to other sympy
    objects (empty parentheses gave a ``Tuple``, whose evaluation raised and stopped a
    600-problem run), so the tree itself is checked, not just the characters."""
    import sympy

    if not isinstance(expression, sympy.Expr) or expression.free_symbols:
        return False
    return all(isinstance(node, sympy.Expr) for node in sympy.preorder_traversal(expression))


def _exponents_are_small(expression: Any) -> bool:
    import sympy

    product = 1.0
    for node in sympy.preorder_traversal(expression):
        if isinstance(node, sympy.Pow):
            exponent = node.exp
            if not exponent.is_Number:
                return False
            product *= max(1.0, abs(float(exponent)))
            if product > _MAX_EXPONENT_PRODUCT:
                return False
    return True


def boxed_number(step: str) -> float | None:
    """The value of the last ``\\boxed{...}`` in a step, when it is plain arithmetic."""
    start = step.rfind("\\boxed{")
    if start == -1:
        return None
    end = _closing_brace(step, start + len("\\boxed"))
    if end is None:
        return None
    inner = normalize_math_text(step[start + len("\\boxed{") : end]).strip().rstrip(".")
    return evaluate_operand(inner.strip())
