"""Finding the final answer in a solution, in tiers a reader would use.

1. ``boxed``: the last well-formed, non-empty ``\\boxed{}`` / ``\\fbox{}``.
2. ``stated``: else an explicit final-answer phrase ("The final answer is 7.",
   "Answer: $9$", "the answer is 12 apples") or GSM8K's ``#### N``.
3. ``full``: else the last mathematical expression, read whole (``expression``): a text
   that already is an answer comes back as it is; otherwise the last run of mathematics
   between prose words, and of a worked line its last side.

Which tiers apply is a property of the prompt configuration (``PromptConfig.extraction``):
the published MATH-500 setup reads boxes only; a model that rarely boxes (SmolLM2) needs
the whole cascade, or half its solutions count as unanswered.

Every scan here is linear in the text and reads at most the last
``limits.MAX_EXTRACT_CHARS`` characters, so a hostile completion (30,000 spaces after
``####``, 14,000 unclosed boxes) costs milliseconds: extraction runs on every completion,
in the main process, with no worker deadline behind it.
"""

from __future__ import annotations

import re
from typing import Literal

from strategies.answers import limits
from strategies.answers.expression import last_expression

ExtractionMode = Literal["boxed", "stated", "full"]
EXTRACTION_MODES: tuple[str, ...] = ("boxed", "stated", "full")

# Longest answer a final-answer phrase may state (the rest of its line is cut).
MAX_STATED_CHARS = 500

_BOX_COMMAND = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BARE_TOKEN = re.compile(r"[^\s$]+")
# "final answer is", "the answer is", "Answer:", "Answer $9$"; the last one wins.
# "Final answer", "the answer is", "answer:", or "Answer" opening a line ("Answer $9$");
# a bare "answer" mid-sentence ("no answer here") states nothing.
_PHRASE = re.compile(
    r"\bfinal\s+answer\b(?:\s*(?:is\b|:|=)\s*:?|\**[ \t]*(?=\n|\$|\\\[|\\\(|$))"
    r"|\banswer\s+is\b\s*:?"
    r"|\banswer\s*:"
    r"|^[ \t*#>-]*answer\b\s*:?",
    re.IGNORECASE | re.MULTILINE,
)
_HOPE = "i hope it is correct"
_GSM8K_NUMBER = re.compile(r"-?[\d,]*\.?\d+")
_SENTENCE_END = re.compile(r"\.\s")


def check_extraction_mode(mode: str) -> None:
    if mode not in EXTRACTION_MODES:
        raise ValueError(
            f"unknown answer extraction mode {mode!r}; choose one of {', '.join(EXTRACTION_MODES)}"
        )


def extract_answer(text: str, mode: str = "full") -> str | None:
    """The final answer of a solution, by the tiers ``mode`` allows (see the module doc)."""
    check_extraction_mode(mode)
    stripped = text.rstrip()
    tail = stripped[-limits.MAX_EXTRACT_CHARS :]
    boxed = last_box_content(tail)
    if boxed is not None or mode == "boxed":
        return boxed
    stated = _stated_answer(tail)
    if stated is not None or mode == "stated":
        return stated
    return last_expression(tail, whole=len(tail) == len(stripped))


def states_final_answer(step: str, mode: str = "full") -> bool:
    """Whether a step states a final answer explicitly (a box, or, beyond ``boxed``, a
    final-answer phrase): what ends a beam. The last-expression tier never does, since
    every arithmetic step ends in a number."""
    return extract_answer(step, "boxed" if mode == "boxed" else "stated") is not None


# ------------------------------------------------------------------------------ boxes


def last_box_content(text: str) -> str | None:
    """Content of the last well-formed, non-empty ``\\boxed``/``\\fbox`` (cut-off boxes are skipped)."""
    boxes = [match.end() for match in _BOX_COMMAND.finditer(text)]
    if not boxes:
        return None
    closing = _matching_braces(text, boxes[0])
    for start in reversed(boxes):
        content = _box_argument(text, start, closing)
        if content:
            return content
    return None


def _matching_braces(text: str, start: int) -> dict[int, int]:
    """Position of each ``{`` (from ``start`` on) -> its matching ``}``, in one pass.

    An escaped character (``\\{``, ``\\}``) does not group. Unclosed braces are absent.
    """
    closing: dict[int, int] = {}
    stack: list[int] = []
    index, end = start, len(text)
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


def _box_argument(text: str, start: int, closing: dict[int, int]) -> str | None:
    position = start
    while position < len(text) and text[position].isspace():
        position += 1
    if position >= len(text):
        return None
    if text[position] != "{":
        # ``\boxed 5``: the argument runs to the next space or dollar sign.
        token = _BARE_TOKEN.match(text, position)
        return token.group(0).rstrip(".,;") if token else None
    end = closing.get(position)
    if end is None:
        return None
    return text[position + 1 : end].strip()


# ---------------------------------------------------------------------- stated answers


def _stated_answer(text: str) -> str | None:
    """The answer stated last: by a final-answer phrase or by GSM8K's ``#### N``."""
    marker = _gsm8k_answer(text)
    for match in reversed(list(_PHRASE.finditer(text))):
        if marker is not None and marker[0] > match.start():
            break
        answer = _phrase_content(text, match.end())
        if answer is not None:
            return answer
    return None if marker is None else marker[1]


def _phrase_content(text: str, start: int) -> str | None:
    newline = text.find("\n", start)
    # A phrase at the end of its line ("**Final Answer**\n\n$7$") states the next line.
    line = text[start : newline if newline >= 0 else len(text)]
    if not line.strip() and newline >= 0:
        following = text[newline : newline + MAX_STATED_CHARS + 2].lstrip("\n")
        line = following.split("\n", 1)[0]
        if not line.lstrip().startswith(("$", "\\(", "\\[")):
            return None  # only a displayed formula on the next line is what it states
    line = line[:MAX_STATED_CHARS].strip()
    unpunctuated = line.rstrip(" .!")
    if unpunctuated[-len(_HOPE) :].lower() == _HOPE:
        line = unpunctuated[: -len(_HOPE)].strip()
    answer = _first_statement(line)
    if not answer or not _looks_like_an_answer(answer):
        return None
    return answer


def _first_statement(line: str) -> str:
    """The answer a phrase states: its first math span, else the final expression of the
    words up to the sentence end (the whole sentence when it has none)."""
    line = line.strip().strip("*").strip()
    span = _leading_math_span(line)
    if span is not None:
        return span
    if line.startswith(("$", "\\(", "\\[")):
        return ""  # a formula cut off before it closes states nothing
    end = _SENTENCE_END.search(line)
    if end is not None:
        line = line[: end.start()]
    previous = None
    while line != previous:  # peel markdown bold, sentence stops and math delimiters
        previous = line
        line = strip_math_delimiters(line.strip().strip("*").rstrip("."))
    # "The largest $n$ is 34", "indeed $25$": the sentence's final expression.
    return last_expression(line) or line


def _leading_math_span(line: str) -> str | None:
    for opening, closing in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if line.startswith(opening):
            end = line.find(closing, len(opening))
            while end > 0 and line[end - 1] == "\\" and closing == "$":
                end = line.find(closing, end + 1)  # "\$" is a dollar sign, not a delimiter
            if end > len(opening):
                return line[len(opening) : end].strip()
            return None
    return None


def _looks_like_an_answer(answer: str) -> bool:
    """A phrase such as "the answer to this question" states nothing: an answer has a
    digit, a LaTeX command, a symbol, or is one short word (``Monday``, ``x``)."""
    if any(char.isdigit() or char in "\\^_=<>()[]{}+-*/" for char in answer):
        return True
    words = answer.split()
    return len(words) == 1 and len(words[0]) <= 12


def _gsm8k_answer(text: str) -> tuple[int, str] | None:
    """(position, number) of the last ``#### N``."""
    position = text.rfind("####")
    while position >= 0:
        index = position + 4
        while index < len(text) and text[index].isspace():
            index += 1
        if index < len(text) and text[index] == "$":
            index += 1
            while index < len(text) and text[index].isspace():
                index += 1
        number = _GSM8K_NUMBER.match(text, index)
        if number is not None:
            return position, number.group(0).replace(",", "")
        position = text.rfind("####", 0, position)
    return None


def strip_math_delimiters(answer: str) -> str:
    """``$x$``, ``$$x$$``, ``\\(x\\)``, ``\\[x\\]`` -> ``x`` (one layer each, outermost first)."""
    answer = answer.strip()
    for opening, closing in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if len(answer) >= len(opening) + len(closing) and (
            answer.startswith(opening) and answer.endswith(closing)
        ):
            answer = answer[len(opening) : len(answer) - len(closing)].strip()
    return answer
