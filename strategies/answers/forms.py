"""Whole-answer shapes that math-verify misreads, rewritten into what it reads right.

Each rule looks at the whole (cleaned, space-free) answer and applies only when all of
it has the shape the rule names, so it cannot touch a piece of a larger expression:

- ``time_of_day``: ``8:34 PM``, ``8:34pm``, ``8:34 p.m.``, ``20:34`` -> ``20:34``;
  ``3pm`` -> ``15:00``
  (math-verify reads ``20:34`` as the ratio 10/17 and ``PM`` as a product of letters);
- ``glued_unit``: ``10weeks``, ``12cm`` -> ``10``, ``12`` (a number with a unit word
  glued on; "3xy" keeps its letters, "2pi" and "5sin" are mathematics);
- ``function_value``: ``f(x)=2x+3`` -> ``2x+3``, so it equals ``y=2x+3`` as math-verify
  already equates ``y=2x+3`` with ``2x+3``;
- ``bracket_matrix``: ``[[1,2],[3,4]]`` -> ``\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}``
  (math-verify reads the list as two intervals);
- ``numeral_base`` (a check, not a rewrite): ``52_9`` is not ``52_8``, though math-verify
  drops the subscript and equates them (``4210_7`` still equals ``4210``).

Time: each rule is one anchored pattern without nested repetition, on answers already
capped at ``limits.MAX_NORMALISE_CHARS`` characters.
"""

from __future__ import annotations

import re

_TIME = re.compile(
    r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2})(?::\d{2})?)?"
    r"(?P<half>am|pm|a\.m\.?|p\.m\.?)?",
    re.IGNORECASE,
)
_GLUED_UNIT = re.compile(
    r"(?P<number>[+-]?\d[\d,]*(?:\.\d+)?)(?P<word>[A-Za-z]+(?:/[A-Za-z]+)?)(?:\^\{?[23]\}?)?"
)
_FUNCTION_VALUE = re.compile(
    r"(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?\w{1,3}\}?)?(?:\^\{-1\})?"
    r"\((?:[a-z](?:,[a-z]){0,3})\)=(?P<value>[^=<>]+)"
)
_BASE_NUMERAL = re.compile(r"[0-9A-Za-z]{1,40}_\{?(?P<base>\d{1,2})\}?")
_BRACKET_ROWS = re.compile(r"\[(?P<rows>\[[^\[\]]*\](?:,\[[^\[\]]*\])+)\]")
# Words glued to a number that are mathematics, not units.
_NOT_UNITS = frozenset(
    ["pi", "sin", "cos", "tan", "log", "ln", "exp", "sqrt", "cdot", "times", "xy", "ab"]
)
# Two-letter unit words (longer words glued to a number are taken as units).
_TWO_LETTER_UNITS = frozenset(
    [
        *("cm", "mm", "km", "kg", "mg", "ft", "mi", "ml", "hr", "lb", "oz", "yd", "ms"),
        *("am", "pm", "st", "nd", "rd", "th"),  # "8am"; ordinal suffixes: "11th" answers 11
    ]
)


def time_of_day(text: str) -> str | None:
    """``H:MM`` on a 24-hour clock, or None when ``text`` is not a time of day."""
    match = _TIME.fullmatch(text)
    if match is None:
        return None
    half = (match["half"] or "").lower()
    if match["minute"] is None and not half:
        return None  # "12" is a number; "3pm" is a time
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if minute > 59:
        return None
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half.startswith("p") else 0)
    elif hour > 23:
        return None
    return f"{hour}:{minute:02d}"


def glued_unit(text: str) -> str | None:
    """The number of ``10weeks``, or None when the letters are not a unit word."""
    match = _GLUED_UNIT.fullmatch(text)
    if match is None:
        return None
    word = match["word"].split("/", 1)[0].lower()
    powered = match.group(0) != match["number"] + match["word"]
    if len(word) == 1 and not (powered and word == "m"):
        return None  # "2x" is a product; only "m^2" is a one-letter unit here
    if word in _NOT_UNITS or (len(word) == 2 and word not in _TWO_LETTER_UNITS):
        return None
    return match["number"]


def function_value(text: str) -> str | None:
    """The right side of ``f(x)=...`` (a named function of plain variables), else None."""
    match = _FUNCTION_VALUE.fullmatch(text)
    return None if match is None else match["value"]


def bracket_matrix(text: str) -> str | None:
    """A ``pmatrix`` for a list of equally long bracket rows, else None."""
    match = _BRACKET_ROWS.fullmatch(text)
    if match is None:
        return None
    rows = [_split_top_level(row) for row in match["rows"][1:-1].split("],[")]
    if len({len(row) for row in rows}) != 1 or any(not entry for row in rows for entry in row):
        return None
    body = "\\\\".join("&".join(row) for row in rows)
    return "\\begin{pmatrix}" + body + "\\end{pmatrix}"


def numeral_base(text: str) -> str | None:
    """The base of ``4210_7`` or ``52_{8}`` ("7", "8"), or None when ``text`` is not a numeral
    with a base subscript."""
    match = _BASE_NUMERAL.fullmatch(text)
    return None if match is None else match["base"]


def rewrite(text: str) -> str:
    """``text`` with the first rule that matches its whole shape applied (see the module doc)."""
    for rule in (time_of_day, glued_unit, function_value, bracket_matrix):
        rewritten = rule(text)
        if rewritten is not None:
            return rewritten
    return text


def _split_top_level(row: str) -> list[str]:
    entries, depth, start = [], 0, 0
    for index, char in enumerate(row):
        if char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
        elif char == "," and depth == 0:
            entries.append(row[start:index])
            start = index + 1
    entries.append(row[start:])
    return entries
