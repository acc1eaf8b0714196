"""An LLM-as-judge verifier: any chat model asked, step by step, "is this step correct?".

It needs no PRM weights, so it is the verifier of last resort and the CPU default (with
the embedded SmolLM2). A small judge is a weak signal; the point is that it is a real one
and that it works with whatever chat model is at hand, including the generator itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strategies.backends.chat import render_prompt_ids
from strategies.generation import ChatMessage, Prompt
from strategies.verification import ScoreRequest
from strategies.verifiers.hf_base import (
    CausalLMVerdictVerifier,
    ModelSpec,
    ScoringRow,
    verdict_token_ids,
)

DEFAULT_JUDGE_MODEL = "smollm2"
YES_WORDS = ("Yes", " Yes", "yes", " yes", "YES")
NO_WORDS = ("No", " No", "no", " no", "NO")


class LLMJudgeVerifier(CausalLMVerdictVerifier):
    """Input format: for each step ``i`` of a request, one chat with a single user turn,

        Here is a math problem and the first i step(s) of a solution to it.

        Problem:
        <problem>

        Solution so far:
        Step 1: <step 1>
        ...
        Step i: <step i>

        Is Step i correct? Answer Yes or No.

    rendered with the model's chat template and its generation prompt (one BOS). Step
    ``i``'s score is P(yes) / (P(yes) + P(no)) from the next-token logits, where P(yes)
    sums over the spellings in ``yes_words`` ("Yes", " Yes", "yes", ...) that are single
    tokens (or, when none is, over the first token of each), and likewise for no; a token
    both lists would use (a bare space, in some tokenizers) is dropped from both. So the
    judge rates each step given the ones before it.

    One forward pass per (request, step) prefix, batched across the whole call. A prompt
    longer than ``max_length`` drops its earliest steps (saying so in the prompt) until it
    fits; the problem and the step being judged are always kept.

    ``model`` is a model name ("smollm2", a local folder, a Hub id) or a preloaded
    ``(model, tokenizer)``, for instance the generator's own, to share its memory.
    """

    def __init__(
        self,
        model: ModelSpec = DEFAULT_JUDGE_MODEL,
        *,
        device: str | None = None,
        dtype: Any = None,
        batch_size: int = 16,
        max_length: int | None = None,
        yes_words: Sequence[str] = YES_WORDS,
        no_words: Sequence[str] = NO_WORDS,
    ) -> None:
        super().__init__(
            model,
            head="causal-lm",
            device=device,
            dtype=dtype,
            batch_size=batch_size,
            max_length=max_length,
        )
        self.name = f"judge:{self.name}"
        self._set_verdict_ids(
            verdict_token_ids(self.tokenizer, yes_words),
            verdict_token_ids(self.tokenizer, no_words),
            "the yes and no words",
        )

    @staticmethod
    def question(problem: str, steps: Sequence[str], first_step: int = 1) -> str:
        """The user turn that asks about the last of ``steps`` (numbered from ``first_step``)."""
        last = first_step + len(steps) - 1
        lines = [
            f"Here is a math problem and the first {last} step(s) of a solution to it.",
            "",
            "Problem:",
            problem.strip(),
            "",
            "Solution so far:",
        ]
        if first_step > 1:
            lines.append(f"(Steps 1 to {first_step - 1} are left out for length.)")
        lines += [f"Step {first_step + k}: {step.strip()}" for k, step in enumerate(steps)]
        lines += ["", f"Is Step {last} correct? Answer Yes or No."]
        return "\n".join(lines)

    def prompt_ids(self, problem: str, steps: Sequence[str]) -> list[int]:
        """Token ids of the prompt judging the last of ``steps``, shortened to fit."""
        ids: list[int] = []
        for skipped in range(len(steps)):
            text = self.question(problem, steps[skipped:], first_step=skipped + 1)
            prompt = Prompt(messages=(ChatMessage(role="user", content=text),))
            ids = render_prompt_ids(self.tokenizer, prompt)
            if self.max_length is None or len(ids) <= self.max_length:
                break
        return ids

    def encode(self, request: ScoreRequest) -> list[ScoringRow]:
        rows = []
        for i in range(len(request.steps)):
            ids = self.prompt_ids(request.problem, request.steps[: i + 1])
            rows.append(ScoringRow(tuple(ids), (len(ids) - 1,)))
        return rows
