"""peiyi9979/math-shepherd-mistral-7b-prm: a PRM that reads a step tag after each step."""

from __future__ import annotations

from typing import Any

from strategies.verification import ScoreRequest
from strategies.verifiers.hf_base import (
    CausalLMVerdictVerifier,
    ModelSpec,
    ScoringRow,
    tokenize_marked_text,
)

MATH_SHEPHERD_HUB_ID = "peiyi9979/math-shepherd-mistral-7b-prm"
STEP_TAG = "ки"


class MathShepherdPRM(CausalLMVerdictVerifier):
    """Input format (the model card's): plain text, no chat template,

        problem + " " + "step_1 ки\\nstep_2 ки\\n...\\nstep_n ки"

    with the tokenizer's BOS in front. Steps are stripped of surrounding whitespace and of
    any "ки" they contain themselves (it would add a scoring position). Step ``i``'s score
    is the softmax over the logits of the good and bad tokens at the ``i``-th tag's own
    position; those tokens are the ones the card computes as ``encode("+ -")`` without BOS
    (for Mistral's tokenizer, "▁+" and "▁-", ids 648 and 387).

    ``model`` is a model name (``resolve_model``) or a preloaded ``(model, tokenizer)``;
    inputs longer than ``max_length`` (default: the model's context) are refused.
    """

    def __init__(
        self,
        model: ModelSpec = MATH_SHEPHERD_HUB_ID,
        *,
        device: str | None = None,
        dtype: Any = None,
        batch_size: int = 8,
        max_length: int | None = None,
        good_token: str = "+",
        bad_token: str = "-",
    ) -> None:
        super().__init__(
            model,
            head="causal-lm",
            device=device,
            dtype=dtype,
            batch_size=batch_size,
            max_length=max_length,
        )
        candidates = self.tokenizer.encode(f"{good_token} {bad_token}", add_special_tokens=False)
        if len(candidates) != 2:
            raise ValueError(
                f"{self.name}: {good_token!r} {bad_token!r} should encode as two tokens, "
                f"got {len(candidates)}"
            )
        self._set_verdict_ids({candidates[0]}, {candidates[1]}, "the good and bad tokens")

    @staticmethod
    def render(request: ScoreRequest) -> str:
        """The text the model reads for ``request`` (BOS aside)."""
        steps = [step.replace(STEP_TAG, "").strip() for step in request.steps]
        return f"{request.problem} " + "\n".join(f"{step} {STEP_TAG}" for step in steps)

    def encode(self, request: ScoreRequest) -> list[ScoringRow]:
        text = self.render(request)
        head = len(request.problem) + 1
        spans = []
        start = text.find(STEP_TAG, head)
        while start != -1:
            spans.append((start, start + len(STEP_TAG)))
            start = text.find(STEP_TAG, start + len(STEP_TAG))
        ids, tag_indices = tokenize_marked_text(
            self.tokenizer, text, spans, ensure_bos=self._adds_bos
        )
        return [ScoringRow(tuple(ids), tuple(tag_indices))]
