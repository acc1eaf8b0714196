"""One cleaned form of an answer, shared by equivalence, canonical keys and the fallback.

People and models write the same answer many ways: "10 square units", "28 percent",
"1,000.99€", "0,111" (a decimal comma), "1 000", "185\\", "2^6 3^5 5^4" (a product by
juxtaposition), "1 1/2" (a mixed number), "1e20", "1.5 \\times 10^{3}", "2 + 5 = 7" (a
worked line whose last side is the answer), and the whole-answer shapes of ``forms`` (times
of day, "10weeks", "f(x) = 2x+3", "[[1,2],[3,4]]"). ``clean_answer`` rewrites these into what
math-verify and the number fast paths read correctly, and nothing else: every rule
applies only when the whole answer has the shape it names, so a list "1,2" stays a list
and "3xy" keeps its letters. Because ``is_equivalent`` and ``canonical_key`` both start
from this form, votes and grades follow the same rules.

Time: answers longer than ``limits.MAX_NORMALISE_CHARS`` only lose their whitespace, so
no pattern here ever runs on a long input.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from strategies.answers import forms, limits
from strategies.answers.extract import extract_answer, strip_math_delimiters

_UNICODE = str.maketrans(
    {
        "\u2212": "-",  # minus sign
        "\u2013": "-",
        "\u00d7": "\\times ",
        "\u22c5": "\\cdot ",
        "\u00b7": "\\cdot ",
        "\u00f7": "\\div ",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u2007": " ",
        "\uff05": "%",
        "\u00b0": "",  # degree sign
        "\u00b2": "^2",  # superscript two (m²)
        "\u00b3": "^3",
    }
)
# A LaTeX line break (two backslashes) is matched first so its second backslash is not a command.
_SPACING_COMMANDS = re.compile(
    r"(\\\\)|\\(?:left|right|displaystyle|big|Big|bigg|Bigg)(?![A-Za-z])|\\[!,;:> ]"
    r"|\\q?quad(?![A-Za-z])|~"
)
_TEXT_COMMANDS = re.compile(
    r"\\(?:text|textbf|textit|textnormal|textrm|mathrm|mathbf|mbox)\s*\{([^{}]*)\}"
)
# A \text{...} at the end of an answer is a unit or a word ("13\textbf{R}", "5\text{ cm}^2").
_TRAILING_TEXT = re.compile(
    r"\\(?:text|textbf|textit|textnormal|textrm|mathrm|mbox)\s*\{[^{}]*\}"
    r"(?:\s*\^\s*\{?[23]\}?)?\s*$"
)
_MERIDIEM_TEXT = re.compile(r"\\(?:text|textrm|mathrm|mbox)\s*\{\s*([AaPp]\.?\s?[Mm]\.?)\s*\}")
_DEGREES = re.compile(
    r"(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ(?![A-Za-z])|\\degree(?![A-Za-z]))"
    r"(?:\s*[CF](?![A-Za-z]))?"
)
_PERCENT_WORD = re.compile(r"(?<=[\d}])\s*(?:percent|per\s+cent|pct)\b\.?", re.IGNORECASE)
_PERCENT_SIGN = re.compile(r"\\?%")
_CURRENCY = re.compile(r"\\\$|[€£¥]|\\euro(?![A-Za-z])|\\pounds(?![A-Za-z])|\b(?:USD|EUR)\b")
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")
_UNIT_TOKEN = re.compile(r"([A-Za-z]+(?:/[A-Za-z]+)?)(?:\^\{?[23]\}?)?\.?")
_LETTER_OUTSIDE_COMMANDS = re.compile(r"(?<![\\A-Za-z])[A-Za-z]")
_COMMAND = re.compile(r"\\[A-Za-z]+")
_COMMAND_BEFORE_LETTER = re.compile(r"(\\[A-Za-z]+)\s+(?=[A-Za-z])")
_EXPONENT_THEN_DIGIT = re.compile(r"(\^\s*\{[^{}]*\}|\^\s*\d)\s+(?=\d)")
_SPACE_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?: \d{3})+(?:\.\d+)?")
_COMMA_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DECIMAL_COMMA = re.compile(r"([+-]?)(\d+),(\d+)")
_MIXED_NUMBER = re.compile(
    r"(?P<sign>-?)(?P<whole>\d+)(?:\s+(?P<num>\d+)/(?P<den>\d+)"
    r"|\s*\\frac\{(?P<bnum>\d+)\}\{(?P<bden>\d+)\})"
)
_E_NOTATION = re.compile(r"([+-]?\d+(?:\.\d+)?)[eE]([+-]?\d+)")
_TIMES_TEN = re.compile(
    r"([+-]?\d+(?:\.\d+)?)(?:\\times|\\cdot|\*|x)10\^(?:\{([+-]?\d+)\}|([+-]?\d))"
)
_LATEX_THOUSANDS = re.compile(r"(?<=\d)\{,\}(?=\d{3})")
_RELATIONS = ("<", ">", "\\le", "\\ge", "\\ne", "\\neq")
# Largest power of ten a number in scientific notation may carry and still be written out.
MAX_SCIENTIFIC_EXPONENT = 400

# Words that end an answer but are not units: functions, and short words that are math.
_MATH_WORDS = frozenset(
    [
        "sin",
        "cos",
        "tan",
        "cot",
        "sec",
        "csc",
        "log",
        "ln",
        "exp",
        "min",
        "max",
        "mod",
        "gcd",
        "lcm",
        "det",
        "arg",
        "sinh",
        "cosh",
        "tanh",
        "pi",
        "inf",
        "and",
        "or",
    ]
)
_TWO_LETTER_UNITS = frozenset(
    [
        "cm",
        "mm",
        "km",
        "kg",
        "mg",
        "ft",
        "in",
        "mi",
        "ml",
        "hr",
        "lb",
        "oz",
        "yd",
        "ms",
        "ns",
        "mb",
        "gb",
        "kb",
    ]
)


def clean_answer(answer: str) -> str:
    """The form answers are compared and keyed in (see the module doc for the rules)."""
    if len(answer) > limits.MAX_NORMALISE_CHARS:
        return "".join(answer.split())  # linear: no pattern runs on a long input
    # A bare answer comes back from extraction as it is, so reading every answer through
    # the whole cascade costs nothing and grades sentences ("Hence y = 2x + 3.") right.
    extracted = extract_answer(answer, "full")
    text = (extracted if extracted is not None else answer).translate(_UNICODE)
    text = strip_math_delimiters(text)
    text = _UNESCAPED_DOLLAR.sub("", text)
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    text = text.replace("\\varnothing", "\\emptyset").replace("\u2205", "\\emptyset")
    text = _SPACING_COMMANDS.sub(lambda match: match.group(1) or " ", text)
    text = _MERIDIEM_TEXT.sub(lambda match: " " + match.group(1), text)  # kept for forms
    text = _strip_trailing_text(text)
    text = _TEXT_COMMANDS.sub(lambda match: " " + match.group(1) + " ", text)
    text = _DEGREES.sub("", text)
    text = _PERCENT_WORD.sub("\\%", text)
    text = _PERCENT_SIGN.sub("\\%", text)
    text = _CURRENCY.sub("", text)
    text = _strip_stray_characters(text)
    text = _strip_unit_words(text)
    text = _whole_number_forms(text.strip())
    text = _EXPONENT_THEN_DIGIT.sub(lambda match: match.group(1) + "\\cdot ", text)
    # Spaces only matter after a command word followed by a letter (``\cos x``).
    text = _COMMAND_BEFORE_LETTER.sub(lambda match: match.group(1) + "\0", text)
    text = re.sub(r"\s+", "", text).replace("\0", " ")
    text = _LATEX_THOUSANDS.sub("", text)
    text = forms.rewrite(text)
    text = _scientific(text)
    text = _last_side_of_arithmetic(text)
    return text.rstrip(".")


def normalize_answer_string(answer: str) -> str:
    """The string form answers fall back to when math-verify cannot judge: equal forms,
    equal answers."""
    return clean_answer(answer)


def _strip_stray_characters(text: str) -> str:
    """A trailing lone backslash ("185\\") or sentence stop is a typo, not part of the answer."""
    text = text.strip().rstrip(".!;")
    trailing = len(text) - len(text.rstrip("\\"))
    if trailing % 2 == 1:
        text = text[:-1]
    return text


def _strip_unit_words(text: str) -> str:
    """ "10 square units" -> "10": trailing words go when what they follow has no letters
    of its own (outside LaTeX commands), so "x weeks" and "3 xy" keep theirs. One word at
    a time from the right, without a pattern over the whole text."""
    stripped = text.rstrip()
    while True:
        parts = stripped.rsplit(None, 1)
        if len(parts) != 2:
            break
        word = _UNIT_TOKEN.fullmatch(parts[1])
        if word is None or not _is_unit_word(word.group(1)):
            break
        stripped = parts[0]
    return _keep_if_numeric(text, stripped)


def _strip_trailing_text(text: str) -> str:
    """ "13\\textbf{R}", "5\\text{ cm}^2" -> the number (same condition as words)."""
    stripped = text
    while (match := _TRAILING_TEXT.search(stripped)) is not None:
        stripped = stripped[: match.start()]
    return _keep_if_numeric(text, stripped)


def _keep_if_numeric(text: str, stripped: str) -> str:
    if stripped == text:
        return text
    if _LETTER_OUTSIDE_COMMANDS.search(stripped) or not any(c.isdigit() for c in stripped):
        return text
    return stripped


def _is_unit_word(word: str) -> bool:
    first = word.split("/", 1)[0].lower()
    if first in _MATH_WORDS:
        return False
    return "/" in word or len(first) >= 3 or first in _TWO_LETTER_UNITS


def _whole_number_forms(text: str) -> str:
    """Thousands separators, decimal commas and mixed numbers, read on the whole answer."""
    if (_SPACE_THOUSANDS.fullmatch(text) or _COMMA_THOUSANDS.fullmatch(text)) and not (
        text.lstrip("+-").startswith("0")
    ):
        return text.replace(" ", "").replace(",", "")
    decimal_comma = _DECIMAL_COMMA.fullmatch(text)
    if decimal_comma is not None:
        sign, whole, fraction = decimal_comma.groups()
        # "0,111" and "2,74" are decimals; "1,2" and "3,5" stay lists (pairs are common
        # answers, and one digit after the comma is how a list of digits looks).
        if whole == "0" or (len(fraction) != 3 and len(fraction) >= 2):
            return f"{sign}{whole}.{fraction}"
        return text
    mixed = _MIXED_NUMBER.fullmatch(text)
    if mixed is not None:
        numerator = int(mixed["num"] or mixed["bnum"])
        denominator = int(mixed["den"] or mixed["bden"])
        if 0 < numerator < denominator:
            whole = int(mixed["whole"])
            return f"{mixed['sign']}\\frac{{{whole * denominator + numerator}}}{{{denominator}}}"
    return text


def _scientific(text: str) -> str:
    """``1e20``, ``2.5e-7``, ``1.5\\times10^{3}`` written out as the decimals they are
    (math-verify would read the ``e`` as Euler's number)."""
    match = _E_NOTATION.fullmatch(text)
    if match is not None:
        mantissa, exponent = match.group(1), match.group(2)
    else:
        match = _TIMES_TEN.fullmatch(text)
        if match is None:
            return text
        mantissa, exponent = match.group(1), match.group(2) or match.group(3)
    if abs(int(exponent)) > MAX_SCIENTIFIC_EXPONENT:
        return text
    try:
        value = Decimal(mantissa).scaleb(int(exponent))
    except InvalidOperation:
        return text
    written = format(value, "f")
    if "." in written:
        written = written.rstrip("0").rstrip(".")
    return written


def _last_side_of_arithmetic(text: str) -> str:
    """ "2+5=7" -> "7": a worked line of plain arithmetic answers with its last side.
    Equations with unknowns and inequalities are left to math-verify."""
    if "=" not in text or any(relation in text for relation in _RELATIONS):
        return text
    sides = text.split("=")
    if any(not side for side in sides):
        return text
    if any(_LETTER_OUTSIDE_COMMANDS.search(_COMMAND.sub("", side)) for side in sides):
        return text
    last = sides[-1]
    if re.fullmatch(r"[+-]?\d+(?:\.\d+)?|[+-]?\\frac\{\d+\}\{\d+\}|[+-]?\d+/\d+", last):
        return last
    return text
