"""Writing simulated steps as human-like text, and reading them back.

A step looks like a Llama 3.2 step in Meta's format, with one machine-readable line::

    ## Step 2: Update the running total
    We subtract 8 from the running total. Keeping track of the total avoids mistakes.
    62 - 8 = 54
    value = 54

and ends with "\\n\\n". After the last operation comes the conclusion, its own step as in
Llama's output, which restates the last value and ends with EOS::

    Therefore, the final answer is: $\\boxed{54}$. I hope it is correct.

The equation line shows the slip itself (``45 + 17 = 64``), so an arithmetic step
checker can catch it too; later steps do correct arithmetic on the wrong number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from strategies.simulation.tokens import count_tokens

STEP_END = "\n\n"
_VALUE_LINE = re.compile(r"^value = (-?\d+)[ \t]*$", re.MULTILINE)
_BOXED = re.compile(r"\\boxed\{\s*(-?\d+)\s*\}")

_TITLES = (
    "Update the running total",
    "Apply the next operation",
    "Combine the parts",
    "Work out the next value",
    "Carry out the operation",
    "Compute the intermediate result",
    "Follow the instructions",
    "Continue the calculation",
)
_ADD_SENTENCES = (
    "We add {c} to the running total.",
    "Adding {c} to {prev} gives the next total.",
    "Next, the problem says to add {c}.",
    "The next instruction is to add {c}.",
)
_SUBTRACT_SENTENCES = (
    "We subtract {c} from the running total.",
    "Taking {c} away from {prev} gives the next total.",
    "Next, the problem says to subtract {c}.",
    "The next instruction is to subtract {c}.",
)
_FILLERS = (
    "Keeping track of the total avoids mistakes.",
    "This follows the order given in the problem.",
    "We carry the result forward to the next step.",
    "Let me write the arithmetic out explicitly.",
    "Each operation changes the total by a fixed amount.",
    "It helps to work one operation at a time.",
    "The sign of the change matters here.",
    "Nothing else in the problem affects this step.",
    "We can double-check this by reversing the operation.",
    "So far the steps match the problem statement.",
    "The intermediate total is an integer, as expected.",
    "This is a simple but important step.",
)
CONCLUSION = "Therefore, the final answer is: $\\boxed{{{answer}}}$. I hope it is correct."


# Token counts of the fixed parts, so a step's count is a sum rather than a scan of the
# written text (tests check the sum against count_tokens on the text).
_TITLE_TOKENS = tuple(count_tokens(title) for title in _TITLES)
_ADD_TOKENS = tuple(count_tokens(template) for template in _ADD_SENTENCES)
_SUBTRACT_TOKENS = tuple(count_tokens(template) for template in _SUBTRACT_SENTENCES)
_FILLER_TOKENS = tuple(count_tokens(sentence) for sentence in _FILLERS)
# "## Step N:", the equation lines "a + c = v" and "value = v", and the closing "\n\n".
_FIXED_TOKENS = 3 + 5 + 3 + 1
_CONCLUSION_TOKENS = count_tokens(CONCLUSION.format(answer=0))


def _index(uniform: float, size: int) -> int:
    """An index in range(size) from a uniform in the open interval (0, 1)."""
    return int(uniform * size)


def write_step(
    number: int,
    previous: int,
    change: int,
    value: int,
    draws: tuple[float, ...],
    tokens_per_step: tuple[int, int],
) -> tuple[str, int]:
    """One step's text and its token count; ``draws`` choose wording and length.

    ``value`` may differ from ``previous + change``: that is a slip, shown as written.
    """
    if change >= 0:
        templates, template_tokens, sign = _ADD_SENTENCES, _ADD_TOKENS, "+"
    else:
        templates, template_tokens, sign = _SUBTRACT_SENTENCES, _SUBTRACT_TOKENS, "-"
    title_index = _index(draws[1], len(_TITLES))
    template_index = _index(draws[2], len(templates))
    used = _FIXED_TOKENS + _TITLE_TOKENS[title_index] + template_tokens[template_index]
    low, high = tokens_per_step
    target = low + _index(draws[3], high - low + 1)
    parts = [
        f"## Step {number}: {_TITLES[title_index]}\n"
        + templates[template_index].format(c=abs(change), prev=previous)
    ]
    filler = _index(draws[4], len(_FILLERS))
    stride = 1 + _index(draws[5], len(_FILLERS) - 1)
    while used < target and len(parts) <= len(_FILLERS):
        parts.append(_FILLERS[filler])
        used += _FILLER_TOKENS[filler]
        filler = (filler + stride) % len(_FILLERS)
    equation = f"\n{previous} {sign} {abs(change)} = {value}\nvalue = {value}"
    return " ".join(parts) + equation + STEP_END, used


def write_conclusion(answer: int) -> tuple[str, int]:
    """The closing sentence and its token count."""
    return CONCLUSION.format(answer=answer), _CONCLUSION_TOKENS


def read_value(step: str) -> int | None:
    """The step's stated value: its last "value = N" line, else its boxed answer."""
    values = _VALUE_LINE.findall(step)
    if values:
        return int(values[-1])
    boxed = _BOXED.findall(step)
    return int(boxed[-1]) if boxed else None


def has_final_answer(step: str) -> bool:
    return "\\boxed{" in step


@dataclass(frozen=True)
class SplitPrefix:
    """A partial answer cut into steps; ``closing`` is what ends an unfinished last step."""

    steps: tuple[str, ...]
    closing: str


def split_prefix(partial: str) -> SplitPrefix:
    """Complete steps end with "\\n\\n"; a trailing fragment (say, after max-token
    truncation) still counts as a step, which the continuation first closes."""
    pieces = partial.split(STEP_END)
    fragment = pieces[-1]
    steps = [piece for piece in pieces[:-1] if piece.strip()]
    closing = ""
    if fragment.strip():
        steps.append(fragment)
        closing = "\n" if fragment.endswith("\n") else STEP_END
    return SplitPrefix(tuple(steps), closing)
