"""Qwen/Qwen2.5-Math-PRM-7B: a two-class head read at a separator token after each step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strategies.verification import ScoreRequest
from strategies.verifiers.hf_base import (
    HFStepVerifier,
    ModelSpec,
    ScoringRow,
    split_flat,
    tokenize_marked_text,
)

if TYPE_CHECKING:
    import torch

QWEN_PRM_HUB_ID = "Qwen/Qwen2.5-Math-PRM-7B"
STEP_SEPARATOR = "<extra_0>"
QWEN_SYSTEM_PROMPT = "Please reason step by step, and put your final answer within \\boxed{}."


class QwenMathPRM(HFStepVerifier):
    """Input format (the model card's): the model's chat template, without a generation
    prompt, over three messages,

    - system: "Please reason step by step, and put your final answer within \\boxed{}.",
    - user: the problem,
    - assistant: the steps joined with "<extra_0>", and one more "<extra_0>" after the last.

    Steps are stripped of surrounding whitespace and of any "<extra_0>" of their own.
    Step ``i``'s score is the positive-class probability (softmax over the two-class head,
    index 1) at the ``i``-th separator. The released model ships its own modelling code
    (loaded with ``AutoModel`` and ``trust_remote_code=True``, the default here: that code
    comes from the model's Hub repository and runs locally); any model whose output is
    ``[batch, length, 2]`` logits, such as a ``*ForTokenClassification`` with two labels,
    works the same way. Inputs longer than ``max_length`` (default: the model's context)
    are refused, never truncated.
    """

    def __init__(
        self,
        model: ModelSpec = QWEN_PRM_HUB_ID,
        *,
        device: str | None = None,
        dtype: Any = None,
        batch_size: int = 8,
        max_length: int | None = None,
        trust_remote_code: bool = True,
        system_prompt: str = QWEN_SYSTEM_PROMPT,
    ) -> None:
        super().__init__(
            model,
            head="token-classification",
            device=device,
            dtype=dtype,
            batch_size=batch_size,
            max_length=max_length,
            trust_remote_code=trust_remote_code,
        )
        self.system_prompt = system_prompt
        separator = self.tokenizer.encode(STEP_SEPARATOR, add_special_tokens=False)
        if len(separator) != 1:
            raise ValueError(f"{self.name}: {STEP_SEPARATOR} is not a single token")
        self.separator_id = separator[0]

    def messages(self, request: ScoreRequest) -> list[dict[str, str]]:
        steps = [step.replace(STEP_SEPARATOR, "").strip() for step in request.steps]
        return [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": request.problem.replace(STEP_SEPARATOR, "")},
            {"role": "assistant", "content": STEP_SEPARATOR.join(steps) + STEP_SEPARATOR},
        ]

    def render(self, request: ScoreRequest) -> str:
        """The text the model reads for ``request``."""
        return str(
            self.tokenizer.apply_chat_template(
                self.messages(request), tokenize=False, add_generation_prompt=False
            )
        )

    def encode(self, request: ScoreRequest) -> list[ScoringRow]:
        text = self.render(request)
        spans = []
        start = text.find(STEP_SEPARATOR)
        while start != -1:
            spans.append((start, start + len(STEP_SEPARATOR)))
            start = text.find(STEP_SEPARATOR, start + len(STEP_SEPARATOR))
        ids, indices = tokenize_marked_text(self.tokenizer, text, spans, ensure_bos=self._adds_bos)
        if any(ids[i] != self.separator_id for i in indices):
            raise ValueError(f"{self.name}: a step separator did not tokenize as {STEP_SEPARATOR}")
        return [ScoringRow(tuple(ids), tuple(indices))]

    def _position_probabilities(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, positions: list[list[int]]
    ) -> list[list[float]]:
        import torch

        output = self.model(input_ids=input_ids, attention_mask=attention_mask)
        logits = output.logits if hasattr(output, "logits") else output[0]
        if logits.shape[-1] != 2:
            raise ValueError(f"{self.name}: expected a two-class head, got {logits.shape[-1]}")
        rows = torch.tensor([b for b, row in enumerate(positions) for _ in row], dtype=torch.long)
        cols = torch.tensor([p for row in positions for p in row], dtype=torch.long)
        picked = logits[rows.to(logits.device), cols.to(logits.device)].float()
        return split_flat(torch.softmax(picked, dim=-1)[:, 1].tolist(), positions)
