"""The ``usage`` object of a chat completion: prompt tokens as well as generated ones.

Why: every generation reads the problem's prompt (the calibration's system prompt and
worked examples, then the problem), so a request that drew 8 samples read that prompt 8
times; ``usage.prompt_tokens`` of 0 left all of it out of ``total_tokens``. The router's
cost ledger counts generated tokens only, so the prompt is measured here: with the
engine's tokenizer when it has one (``tokenizer.encode``), else estimated at 4
characters a token (the figure the pool readers use), and multiplied by the
generations the answer spent (full-solution equivalents: a tree search at budget N
counts N). A tree search's later steps re-read their partial solutions too, which this
does not count, so the figure is a floor.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from router.records import AnswerRecord
from router.solver import Router

CHARS_PER_TOKEN = 4


class PromptCounter:
    """Tokens of one read of a problem's prompt, per problem text (cached: a batch of
    repeats costs one count)."""

    def __init__(self, router: Router) -> None:
        self._config = router.context.prompt_config
        self._encode = _encoder(router.context.generator)
        self.tokens = lru_cache(maxsize=4096)(self._tokens)

    def _tokens(self, text: str) -> int:
        messages = self._config.messages(text)
        if self._encode is not None:
            try:
                return sum(len(self._encode(m.content)) for m in messages)
            except Exception:  # a tokenizer that refuses the text: estimate instead
                pass
        return sum(math.ceil(len(m.content) / CHARS_PER_TOKEN) for m in messages)

    def for_record(self, text: str, record: AnswerRecord) -> int:
        return round(self.tokens(text) * max(0.0, float(record.compute.generations)))


def _encoder(generator: Any) -> Any:
    tokenizer = getattr(generator, "tokenizer", None)
    encode = getattr(tokenizer, "encode", None)
    return encode if callable(encode) else None


def usage(record: AnswerRecord, prompt_tokens: int) -> dict[str, int]:
    completion = record.compute.tokens
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
    }
