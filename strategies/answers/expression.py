"""The last mathematical expression of a text, read whole (extraction's ``full`` tier).

Reading "the last number" cut answers apart: ``\\frac{1}{2}`` gave ``2``, ``x^2+2x+1``
gave ``+1``, "Hence y = 2x + 3." gave ``3``. Here the text is read as a reader does:

1. A text that already is an answer (one expression, a list, an interval, a matrix, a
   number with a unit word or two after it, one word) comes back as it is.
2. Otherwise the text is cut into tokens (math spans ``$..$``, ``\\(..\\)``, ``\\[..\\]``
   and ``\\begin..\\end`` environments whole, braced groups whole, commands, numbers,
   words, operators), and the tokens between two prose words or sentence ends form a
   *run*. The last run that holds mathematics (a digit, a command, a span or an operator
   between letters) is the final expression: what follows "is", "are" or "equals" at the
   end of a solution is such a run, since those words are prose.
3. Of a run with top-level ``=`` (or ``\\approx``), the last side is the answer ("3 + 4 =
   7" answers 7), except that an assignment to a name (``x = \\frac{3}{4}``,
   ``f(x) = 2x+3``) is kept whole, since the grader equates it with its value, and so is
   an equation set to zero (``5x - 7y + 11z + 4 = 0``).

A run never ends inside a brace group, a span or an environment, so no piece of a
``\\frac``, a power, a product or a list comes back.

Time: one left-to-right pass over at most ``limits.MAX_EXTRACT_CHARS`` characters; each
closing delimiter is looked for once per opening one, within ``MAX_SPAN_CHARS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Longest math span or environment read as one token (a real one is far shorter).
MAX_SPAN_CHARS = 4_000
# Longest text taken as an answer on its own (step 1 of the module doc).
MAX_BARE_CHARS = 500
# Words after a bare answer that may be its unit ("10 square units").
MAX_UNIT_WORDS = 3

_TOKEN = re.compile(
    r"\$\$|\$|\\\(|\\\[|\\begin\s*\{[A-Za-z*]{1,20}\}|\\[A-Za-z]+|\\.|\{"
    r"|\d+(?:\.\d+)?|\b[AaPp]\.[Mm]\.?|[A-Za-z]{2,}/[A-Za-z]+|[A-Za-z]+(?:'[A-Za-z]+)*"
    r"|\n|[ \t\r\f\v]+|.",
    re.DOTALL,
)
# Functions and words that are mathematics, not prose.
MATH_WORDS = frozenset(
    [
        "sin",
        "cos",
        "tan",
        "cot",
        "sec",
        "csc",
        "log",
        "ln",
        "lg",
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
        "arcsin",
        "arccos",
        "arctan",
        "pi",
        "inf",
        "infty",
        "sqrt",  # "sqrt(51)", written without a backslash
    ]
)
# Commands that hold words, not mathematics: alone they make no answer.
_TEXT_COMMANDS = frozenset(["\\text", "\\textbf", "\\textit", "\\mathrm", "\\mbox", "\\mathbf"])
# Cut off mid-expression ("13 +", "(227"): what dangles at the end is not part of it.
_DANGLING_CHARACTERS = " \t\r\f\v-+*/,("
_DANGLING_COMMANDS = ("\\cdot", "\\times", "\\div")
_BARE_TRIM = ' \t\r\f\v,;:`"'
# Prose markers that look like one-letter variables: "a prime", "I hope".
_ARTICLES = frozenset(["a", "A", "I"])
_SENTENCE_BREAKS = frozenset(":;?#")
_TRIM = " \t\r\f\v,;:*\"'`"
_CALCULATOR = re.compile(r"<<[^<>\n]{0,200}>>")  # GSM8K's "<<9*2=18>>" annotations
_RELATION_OPERATORS = "=+-*/^<>|&!"
_NAME = re.compile(
    r"(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]{1,4}\}?)?"
    r"(?:\s*\(\s*[A-Za-z](?:\s*,\s*[A-Za-z]){0,3}\s*\))?"
)
_SPACE_LIKE = ("space",)
_ASSIGNMENT = re.compile(r"(?P<name>[A-Za-z](?:_\{?\w{1,3}\}?)?) = (?P<value>.+)")


@dataclass(frozen=True)
class _Item:
    kind: str  # "math", "letter", "op", "space", "prose", "break"
    text: str  # what the item contributes to an answer (a span: its content)
    strong: bool = False  # a digit, command, span or group: mathematics for sure


def last_expression(text: str, whole: bool = True) -> str | None:
    """The final expression of ``text`` (see the module doc), or None when it has none.

    ``whole``: False when ``text`` is the cut-off tail of a longer text, which is then
    never taken as an answer on its own."""
    text = _CALCULATOR.sub("", text).strip()
    if not text:
        return None
    items = _tokens(text)
    if whole and len(text) <= MAX_BARE_CHARS:
        bare = _bare_answer(text, items)
        if bare is not None:
            return bare
    runs = _runs(items)
    if whole and len(text) <= MAX_BARE_CHARS:
        listed = _word_list(runs)
        if listed is not None:
            return listed
    for index in range(len(runs) - 1, -1, -1):
        if _is_candidate(runs[index][0]):
            return _with_alternatives(runs, index, final_side(_join(runs[index][0])))
    return None


def final_side(expression: str) -> str:
    """ "3 + 4 = 7" -> "7"; "x = 2 + 3 = 5" -> "5"; "x = \\frac34" and "f(x) = 2x" stay whole."""
    sides = [side.strip() for side in _top_level_sides(expression)]
    if len(sides) > 1 and not sides[-1]:
        return expression.strip()  # "61 + 91 =", cut off: it states no value
    sides = [side for side in sides if side] or [expression.strip()]
    if len(sides) == 1:
        return sides[0]
    if len(sides) == 2 and (_NAME.fullmatch(sides[0]) or _is_equation(sides)):
        return f"{sides[0]} = {sides[1]}"
    return sides[-1]


def _is_equation(sides: list[str]) -> bool:
    """ "5x - 7y + 11z + 4 = 0": an equation set to zero (a line, a plane) is the answer."""
    return sides[1] == "0" and re.search(r"(?<![\\A-Za-z])[A-Za-z]", sides[0]) is not None


# ---------------------------------------------------------------------------- tokens


def _tokens(text: str) -> list[_Item]:
    closing = _matching_braces(text)
    items: list[_Item] = []
    position, end = 0, len(text)
    while position < end:
        match = _TOKEN.match(text, position)
        assert match is not None  # the pattern ends in "." with DOTALL
        token = match.group(0)
        item, position = _read(text, token, match.end(), closing, items)
        if item is not None:
            items.append(item)
    return items


def _read(
    text: str, token: str, after: int, closing: dict[int, int], items: list[_Item]
) -> tuple[_Item | None, int]:
    """The item a token makes and where the next token starts."""
    start = after - len(token)
    if token in ("$$", "$", "\\(", "\\["):
        close = {"$$": "$$", "$": "$", "\\(": "\\)", "\\[": "\\]"}[token]
        found = _find_unescaped(text, close, after)
        if found >= 0:
            content = text[after:found].strip()
            if content and _reads_as_math(content):
                return _Item("math", content, strong=True), found + len(close)
        return _Item("space", " "), after  # a currency sign or a stray delimiter
    if token.startswith("\\begin") and token.endswith("}"):
        name = token[token.index("{") :]
        found = text.find("\\end" + name, after, after + MAX_SPAN_CHARS)
        if found < 0:
            found = text.find("\\end " + name, after, after + MAX_SPAN_CHARS)
        if found >= 0:
            stop = text.index("}", found) + 1
            return _Item("math", text[start:stop], strong=True), stop
        return _Item("math", token, strong=True), after
    if token == "{":
        group_end = closing.get(start)
        if group_end is None:
            return _Item("break", token), after  # cut off: nothing after it is whole
        return _Item("math", text[start : group_end + 1], strong=True), group_end + 1
    if token in ("\\boxed", "\\fbox"):
        return _Item("break", token), after  # a box the box tier refused: cut off or empty
    if token.startswith("\\"):
        strong = (token[1:].isalpha() and token not in _TEXT_COMMANDS) or token[1:] in "{}%"
        return _Item("math", token, strong=strong), after
    if token[0].isdigit():
        return _Item("math", token, strong=True), after
    if token[0].isalpha():
        return _word(text, token, start, items), after
    if token == "\n":
        return _Item("break", token), after
    if token.isspace():
        return _Item("space", " "), after
    if token == ":" and start and text[start - 1].isdigit() and _followed_by_digit(text, after):
        return _Item("op", token), after  # a time of day, a ratio: 20:34, 3:2
    if token in _SENTENCE_BREAKS or (token == "." and not _followed_by_digit(text, after)):
        return _Item("break", token), after
    return _Item("op", token), after


def _word(text: str, word: str, start: int, items: list[_Item]) -> _Item:
    previous = text[start - 1] if start else " "
    if word.replace(".", "").lower() in ("am", "pm"):
        before = text[max(start - 3, 0) : start].rstrip()
        if before[-1:].isdigit():
            return _Item("math", word)  # "8:34 p.m.": part of the time
    if len(word) == 1:
        following = text[start + 1 : start + 3]
        article = word in _ARTICLES and previous.isspace() and following[:1] == " "
        if article and following[1:2].isalnum():
            return _Item("prose", word)
        return _Item("letter", word)
    if word.lower() in MATH_WORDS:
        return _Item("math", word, strong=True)
    if previous.isdigit() or previous in "})^_\\":
        return _Item("math", word)  # glued to a number ("10weeks", "2xy") or a group
    return _Item("prose", word)


def _followed_by_digit(text: str, position: int) -> bool:
    return position < len(text) and text[position].isdigit()


def _find_unescaped(text: str, needle: str, start: int) -> int:
    limit = start + MAX_SPAN_CHARS
    found = text.find(needle, start, limit)
    while found > 0 and text[found - 1] == "\\" and needle == "$":
        found = text.find(needle, found + 1, limit)
    return found


def _reads_as_math(content: str) -> bool:
    """A ``$..$`` whose content is prose ("5 each, and the total is $") pairs two currency
    signs, not math delimiters: it has two or more prose words outside commands and groups."""
    prose = 0
    for match in re.finditer(
        r"(?<![\\A-Za-z{])[A-Za-z]{2,}(?![A-Za-z}])", content[:MAX_SPAN_CHARS]
    ):
        if match.group(0).lower() not in MATH_WORDS:
            prose += 1
            if prose >= 2:
                return False
    return not (content[0].isdigit() and "\n\n" in content)


def _matching_braces(text: str) -> dict[int, int]:
    """Position of each ``{`` -> its matching ``}``, in one pass (escaped braces do not group)."""
    closing: dict[int, int] = {}
    stack: list[int] = []
    index, end = 0, len(text)
    while index < end:
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "{":
            stack.append(index)
        elif char == "}" and stack:
            closing[stack.pop()] = index
        index += 1
    return closing


# ------------------------------------------------------------------------------ runs


def _runs(items: list[_Item]) -> list[tuple[list[_Item], list[_Item]]]:
    """Each run with the prose and breaks (its gap) between it and the run before."""
    runs: list[tuple[list[_Item], list[_Item]]] = []
    current: list[_Item] = []
    gap: list[_Item] = []
    for item in items:
        if item.kind in ("prose", "break"):
            if current:
                runs.append((current, gap))
                current, gap = [], []
            gap.append(item)
        else:
            current.append(item)
    if current:
        runs.append((current, gap))
    return runs


def _with_alternatives(runs: list[tuple[list[_Item], list[_Item]]], index: int, answer: str) -> str:
    """ "x = -1 or x = 1" -> "-1, 1": assignments to one name joined by "or" / "and" are
    the list of its values (all solutions), not the last of them; so is a written list
    ("1, 2, and 3", "-2, 1 and 4")."""
    joined_by_word = index > 0 and _joined_by_word(runs[index][1])
    assignment = _ASSIGNMENT.fullmatch(answer)
    if assignment is None:
        before = "".join(item.text for item in runs[index - 1][0]).rstrip() if index else ""
        listed = "," in before and "=" not in before and _is_candidate(runs[index - 1][0])
        if joined_by_word and listed:
            return final_side(_join(runs[index - 1][0])) + ", " + answer
        return answer
    name, values = assignment["name"], [assignment["value"]]
    while index > 0:
        if not _joined_by_word(runs[index][1]):
            break
        previous = _ASSIGNMENT.fullmatch(final_side(_join(runs[index - 1][0])))
        if previous is None or previous["name"] != name:
            break
        values.insert(0, previous["value"])
        index -= 1
    return answer if len(values) == 1 else ", ".join(values)


def _word_list(runs: list[tuple[list[_Item], list[_Item]]]) -> str | None:
    """ "1 and 2", "-1 or 3": a whole text of values joined by "and" / "or" is their list."""
    if len(runs) < 2 or runs[0][1] or not all(_joined_by_word(gap) for _, gap in runs[1:]):
        return None
    values = [final_side(_join(run)) for run, _ in runs]
    if not all(_is_candidate(run) for run, _ in runs) or any("=" in value for value in values):
        return None  # assignments go through _with_alternatives
    return ", ".join(values)


def _joined_by_word(gap: list[_Item]) -> bool:
    return len(gap) == 1 and gap[0].text.lower() in ("or", "and")


def _is_candidate(run: list[_Item]) -> bool:
    if any(item.strong for item in run):
        return True
    letters = any(item.kind == "letter" for item in run)
    operators = any(item.kind == "op" and item.text in _RELATION_OPERATORS for item in run)
    return letters and operators


def _join(run: list[_Item]) -> str:
    spans = [item for item in run if item.kind not in _SPACE_LIKE]
    if len(spans) == 1:
        return spans[0].text.strip(_TRIM).rstrip(".")
    joined = "".join(item.text for item in run)
    return _complete(joined.strip(_TRIM).rstrip(".").strip(_TRIM))


def _complete(expression: str) -> str:
    """A cut-off expression without its dangling end: "13 +" -> "13", "50 (25" -> "25"."""
    trimmed, previous = expression, ""
    while trimmed != previous:  # from the end only: linear whatever the input
        previous = trimmed
        trimmed = trimmed.rstrip(_DANGLING_CHARACTERS)
        for command in _DANGLING_COMMANDS:
            trimmed = trimmed.removesuffix(command)
    depth, opened = 0, -1
    for index, char in enumerate(trimmed):
        if char in "([":  # intervals close "(" with "]" and "[" with ")"
            depth += 1
            if depth == 1:
                opened = index
        elif char in ")]" and depth:
            depth -= 1
    if depth:
        trimmed = trimmed[opened + 1 :].strip(_TRIM)  # what follows the unclosed "("
    return trimmed or expression


def _bare_answer(text: str, items: list[_Item]) -> str | None:
    """``text`` itself when it already is an answer (step 1 of the module doc)."""
    body = [item for item in items if item.kind != "space"]
    while body and body[-1].kind == "break" and body[-1].text == ".":
        body.pop()  # "5." ends a sentence, the answer is 5
    if not body or any(item.kind == "break" for item in body):
        return None
    if len(body) == 1 and body[0].kind == "prose":
        return body[0].text if len(body[0].text) <= 20 else None  # "Monday", "yes"
    first_prose = next((i for i, item in enumerate(body) if item.kind == "prose"), len(body))
    if first_prose == 0 or len(body) - first_prose > MAX_UNIT_WORDS:
        return None
    if any(item.kind != "prose" for item in body[first_prose:]):
        return None  # words between two expressions: a sentence
    if first_prose < len(body) and body[first_prose - 1].text == ",":
        return None  # "x = 5, as required": a clause, not a unit
    if len(body) == 1 and body[0].kind == "math" and body[0].text != text.strip():
        return body[0].text  # a whole math span: its content
    stripped = text.strip(_BARE_TRIM)
    while stripped.endswith(".") and not stripped.endswith("\\."):
        stripped = stripped[:-1].rstrip(_BARE_TRIM)
    return stripped or None


def _top_level_sides(expression: str) -> list[str]:
    """``expression`` split at ``=`` and ``\\approx`` outside brackets (not ``<=``, ``==``)."""
    sides: list[str] = []
    depth, start, index = 0, 0, 0
    length = len(expression)
    while index < length:
        char = expression[index]
        if char == "\\":
            if depth == 0 and expression.startswith("\\approx", index):
                sides.append(expression[start:index])
                start = index + len("\\approx")
                index = start
                continue
            index += 2
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif char == "=" and depth == 0:
            before = expression[index - 1] if index else " "
            after = expression[index + 1] if index + 1 < length else " "
            if before not in "<>!:=" and after != "=":
                sides.append(expression[start:index])
                start = index + 1
        index += 1
    sides.append(expression[start:])
    return sides
