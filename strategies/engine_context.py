"""What a job will ask of an engine: its longest prompts and its longest answer.

An engine that reserves memory per sequence (vLLM's KV cache and scheduler) starts
faster and wastes less when it is sized for the job rather than for the model's
maximum context (8192 tokens for SmolLM2, where the arithmetic job needs a few hundred).
``job_context`` works that out from what a command already knows: the problems, the
prompt configuration and the strategies it may run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

from strategies.generation import Prompt
from strategies.prompts import PromptConfig

# Prompts handed to the engine to measure: the longest problems by characters. Token
# counts follow character counts closely enough that the longest of 8 is the longest.
MEASURED_PROMPTS = 8


@dataclass(frozen=True)
class EngineContext:
    """``prompts``: the job's longest prompts (the engine tokenizes them to size its
    context); ``max_new_tokens``: the most tokens one answer can grow to, a tree
    search's partial answers included."""

    prompts: tuple[Prompt, ...]
    max_new_tokens: int


def answer_token_bound(specs: Iterable[str], default_max_tokens: int) -> int:
    """The most tokens one answer grows to under any of the strategies ``specs``.

    A spec that does not name ``max_tokens`` runs with ``default_max_tokens`` (the
    calibration's sampling setting, which calibration and router both fill in). A tree
    search checks its cap between steps, so a beam may pass it by one step, and each
    lookahead step rolls one more step past that.
    """
    from strategies.search.registry import get_strategy

    bound = default_max_tokens
    for spec in specs:
        config = get_strategy(spec).config
        defaults = {f.name: f.default for f in fields(config)}
        max_tokens = getattr(config, "max_tokens", default_max_tokens)
        if max_tokens == defaults.get("max_tokens"):
            max_tokens = default_max_tokens
        step = getattr(config, "step_tokens", 0) * (1 + getattr(config, "lookahead", 0))
        bound = max(bound, max_tokens + step)
    return bound


def job_context(
    prompt_config: PromptConfig,
    problem_texts: Sequence[str],
    specs: Iterable[str],
    default_max_tokens: int,
) -> EngineContext:
    """The context of a job that runs ``specs`` on these problems with this prompt."""
    longest = sorted(set(problem_texts), key=len, reverse=True)[:MEASURED_PROMPTS]
    return EngineContext(
        prompts=tuple(prompt_config.prompt(text) for text in longest),
        max_new_tokens=answer_token_bound(specs, default_max_tokens),
    )
