"""What running a strategy for the router needs, and how a failure is reported.

``ExecutionContext`` bundles the engines and the calibration's settings; ``runnable``
turns a table key (``beam_search``) into a strategy with the calibration's sampling
settings filled in, because the table's accuracies hold only for those settings.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, fields, replace
from functools import lru_cache

from strategies.generation import GenerationSettings, Generator
from strategies.prompts import PromptConfig
from strategies.search.base import SearchStrategy
from strategies.search.registry import get_strategy
from strategies.verification import Verifier


@dataclass(frozen=True)
class ExecutionContext:
    generator: Generator
    verifier: Verifier
    prompt_config: PromptConfig
    generation: GenerationSettings
    seed: int
    batch_size: int = 32


def runnable_strategy(key: str, generation: GenerationSettings) -> SearchStrategy:
    """The table's strategy ``key`` with the calibration's sampling settings filled in.

    Table keys leave out sampling settings (``beam_search``), but the calibration ran
    them with its own temperature, top_p and max_tokens, and so must the router; a
    setting the key does name is kept.
    """
    return get_strategy(key).with_generation(generation)


def answer_sampler(method: str, generation: GenerationSettings, reduction: str) -> SearchStrategy:
    """What tops a problem's samples up for the answer rule ``method`` (majority, or a
    verifier-weighted vote that ranks by ``reduction``, the decision model's own)."""
    strategy = runnable_strategy(method, generation)
    if not any(f.name == "reduction" for f in fields(strategy.config)):
        return strategy
    return type(strategy)(strategy.name, replace(strategy.config, reduction=reduction))


@lru_cache(maxsize=64)
def reuses_samples(key: str) -> bool:
    """Whether a strategy selects from independent samples (so it can share a pool)."""
    return bool(get_strategy(key).reuses_samples)


def describe_error(exc: BaseException) -> str:
    notes = "".join(f"; {note}" for note in getattr(exc, "__notes__", []))
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    place = f" (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{notes}{place}"
