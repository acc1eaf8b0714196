"""Prompt configurations: system prompt and few-shot examples, per model.

Few-shot examples are part of a prompt configuration because the right ones depend on
the model: SmolLM2-135M only writes \\boxed{} after one worked example (DESIGN.md s.4).
So is the way final answers are read (``extraction``, the tiers of
``strategies.answers.extract_answer``): the published MATH-500 setup reads boxes only
(``boxed``, for parity with its figures), while a model that often ends with "The final
answer is 7." instead of a box needs the whole cascade (``full``), or those answers are
lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from strategies.answers import check_extraction_mode
from strategies.generation import ChatMessage, Prompt

# Meta's evaluation prompt for Llama 3.2 (a functional string: keep it exactly).
LLAMA_MATH_SYSTEM_PROMPT = (
    "Solve the following math problem efficiently and clearly:\n\n"
    "- For simple problems (2 steps or fewer):\n"
    "Provide a concise solution with minimal explanation.\n\n"
    "- For complex problems (3 steps or more):\n"
    "Use this step-by-step format:\n\n"
    "## Step 1: [Concise description]\n"
    "[Brief explanation and calculations]\n\n"
    "## Step 2: [Concise description]\n"
    "[Brief explanation and calculations]\n\n"
    "...\n\n"
    "Regardless of the approach, always conclude with:\n\n"
    "Therefore, the final answer is: $\\boxed{answer}$. I hope it is correct.\n\n"
    "Where [answer] is just the final number or expression that solves the problem."
)

STEP_DELIMITER = "\n\n"


@dataclass(frozen=True)
class PromptConfig:
    """How a problem becomes a chat, and how its answers are read.

    ``few_shot`` holds (user, assistant) pairs; ``extraction`` is one of
    ``strategies.answers.EXTRACTION_MODES``. The defaults are the published Llama/MATH-500
    setup (Meta's prompt, boxed answers only).
    """

    name: str = "llama-math"
    system_prompt: str | None = LLAMA_MATH_SYSTEM_PROMPT
    few_shot: tuple[tuple[str, str], ...] = ()
    step_delimiter: str = STEP_DELIMITER
    extraction: str = "boxed"

    def __post_init__(self) -> None:
        check_extraction_mode(self.extraction)

    def messages(self, problem_text: str) -> tuple[ChatMessage, ...]:
        chat: list[ChatMessage] = []
        if self.system_prompt:
            chat.append(ChatMessage("system", self.system_prompt))
        for user, assistant in self.few_shot:
            chat.append(ChatMessage("user", user))
            chat.append(ChatMessage("assistant", assistant))
        chat.append(ChatMessage("user", problem_text))
        return tuple(chat)

    def prompt(self, problem_text: str, partial: str = "", key: str | None = None) -> Prompt:
        return Prompt(self.messages(problem_text), partial=partial, key=key)


SMOLLM2_ARITHMETIC = PromptConfig(
    name="smollm2-arithmetic",
    system_prompt=None,
    few_shot=(
        (
            "What is 9 + 6?",
            "## Step 1: Add the numbers\n9 + 6 = 15\n\nThe final answer is $\\boxed{15}$.",
        ),
    ),
    # Half its solutions end "The final answer is 7." or "... = 7" without a box.
    extraction="full",
)

PROMPT_CONFIGS: dict[str, PromptConfig] = {
    "llama-math": PromptConfig(),
    "smollm2-arithmetic": SMOLLM2_ARITHMETIC,
}


def get_prompt_config(name: str) -> PromptConfig:
    try:
        return PROMPT_CONFIGS[name]
    except KeyError:
        known = ", ".join(sorted(PROMPT_CONFIGS))
        raise ValueError(f"unknown prompt configuration {name!r}; known: {known}") from None
