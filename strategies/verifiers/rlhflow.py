"""RLHFlow/Llama3.1-8B-PRM-Deepseek-Data: a PRM that answers "+" or "-" after each step.

The model was trained on conversations where the user turns carry the solution, one step
per turn, and the assistant answers each turn with "+" (the step is right) or "-".
"""

from __future__ import annotations

from typing import Any

from strategies.verification import ScoreRequest
from strategies.verifiers.hf_base import (
    CausalLMVerdictVerifier,
    ModelSpec,
    ScoringRow,
    tokenize_marked_text,
)

RLHFLOW_HUB_ID = "RLHFlow/Llama3.1-8B-PRM-Deepseek-Data"
# Stands in for each assistant answer while rendering, so the answers can be found in the
# rendered text whatever the chat template writes around them (a private-use character
# that no template trims or rewrites).
_ANSWER_SLOT = "\ue000"


class RLHFlowPRM(CausalLMVerdictVerifier):
    """Input format (as in RLHFlow's ``math-rm/prm_evaluate.py``): a chat, rendered by the
    model's own chat template without a generation prompt, in which

    - the first user turn is ``problem + " " + step_1``, each later step its own user turn
      (steps are stripped of surrounding whitespace, as in the reference code);
    - every user turn is answered by an assistant turn whose content is ``"+"``.

    Step ``i``'s score is P("+") / (P("+") + P("-")) from the logits at the position just
    before the ``i``-th answer's "+" token (the position that predicts it). The reference
    code runs one forward pass per step prefix; the model is causal, so one pass over the
    whole conversation gives the same numbers, and this adapter does that.

    ``model`` is a model name (``resolve_model``: a Hub id or local folder) or a preloaded
    ``(model, tokenizer)``; inputs longer than ``max_length`` (default: the model's
    context) are refused, never truncated.
    """

    def __init__(
        self,
        model: ModelSpec = RLHFLOW_HUB_ID,
        *,
        device: str | None = None,
        dtype: Any = None,
        batch_size: int = 8,
        max_length: int | None = None,
    ) -> None:
        super().__init__(
            model,
            head="causal-lm",
            device=device,
            dtype=dtype,
            batch_size=batch_size,
            max_length=max_length,
        )
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError(f"{self.name}: the RLHFlow format needs a tokenizer chat template")
        plus = self.tokenizer.encode("+", add_special_tokens=False)
        minus = self.tokenizer.encode("-", add_special_tokens=False)
        if len(plus) != 1 or len(minus) != 1:
            raise ValueError(f'{self.name}: "+" and "-" must each be a single token')
        self._set_verdict_ids({plus[0]}, {minus[0]}, '"+" and "-"')

    @staticmethod
    def conversation(request: ScoreRequest, answer: str = "+") -> list[dict[str, str]]:
        messages = []
        for k, step in enumerate(request.steps):
            content = f"{request.problem} {step.strip()}" if k == 0 else step.strip()
            messages.append({"role": "user", "content": content})
            messages.append({"role": "assistant", "content": answer})
        return messages

    def render(self, request: ScoreRequest) -> str:
        """The text the model reads for ``request``."""
        return self._render_with_answer_spans(request)[0]

    def _render_with_answer_spans(self, request: ScoreRequest) -> tuple[str, list[tuple[int, int]]]:
        slotted = self.tokenizer.apply_chat_template(
            self.conversation(request, answer=_ANSWER_SLOT),
            tokenize=False,
            add_generation_prompt=False,
        )
        pieces = str(slotted).split(_ANSWER_SLOT)
        if len(pieces) != len(request.steps) + 1:
            raise ValueError(f"{self.name}: the chat template dropped or repeated answer turns")
        text, spans = pieces[0], []
        for piece in pieces[1:]:
            spans.append((len(text), len(text) + 1))
            text += "+" + piece
        return text, spans

    def encode(self, request: ScoreRequest) -> list[ScoringRow]:
        text, spans = self._render_with_answer_spans(request)
        ids, answer_indices = tokenize_marked_text(
            self.tokenizer, text, spans, ensure_bos=self._adds_bos
        )
        if any(ids[i] not in self.positive_ids for i in answer_indices):
            raise ValueError(f'{self.name}: an assistant "+" answer did not tokenize as "+"')
        return [ScoringRow(tuple(ids), tuple(i - 1 for i in answer_indices))]
