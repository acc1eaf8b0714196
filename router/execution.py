"""What running a strategy for the router needs, and how a failure is reported.

``ExecutionContext`` bundles the engines and the calibration's settings; ``runnable``
turns a table key (``beam_search``) into a strategy with the calibration's sampling
settings filled in, because the table's accuracies hold only for those settings.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, fields
from functools import lru_cache

from router.setup import GenerationSettings
from strategies.generation import Generator
from strategies.prompts import PromptConfig
from strategies.search.base import SearchStrategy
from strategies.search.registry import get_strategy
from strategies.verification import Verifier

POOL_STRATEGY = "weighted_best_of_n"


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
    strategy = get_strategy(key)
    config = strategy.config
    named = {f.name for f in fields(config) if getattr(config, f.name) != f.default}
    wanted = {
        "temperature": generation.temperature,
        "top_p": generation.top_p,
        "max_tokens": generation.max_tokens,
    }
    available = {f.name for f in fields(config)}
    extra = [f"{k}={v}" for k, v in wanted.items() if k in available and k not in named]
    if not extra:
        return strategy
    given = strategy.spec.partition(":")[2]
    spec = strategy.name + ":" + ",".join(filter(None, [given, *extra]))
    return get_strategy(spec)


def pool_strategy(generation: GenerationSettings) -> SearchStrategy:
    """Weighted best-of-N under the calibration's settings: draws and scores a pool."""
    return runnable_strategy(f"{POOL_STRATEGY}:reduction={generation.reduction}", generation)


@lru_cache(maxsize=64)
def reuses_samples(key: str) -> bool:
    """Whether a strategy selects from independent samples (so it can share a pool)."""
    return bool(get_strategy(key).reuses_samples)


def describe_error(exc: BaseException) -> str:
    notes = "".join(f"; {note}" for note in getattr(exc, "__notes__", []))
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    place = f" (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{notes}{place}"
