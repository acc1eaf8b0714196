"""What the router knows about one problem between rounds, as a feature vector.

One function serves calibration (on prefixes of recorded pools) and the router (on the
samples it has drawn), so training and serving cannot drift. A state is the problem
text plus the samples drawn so far; its rung is how many samples that is.

Rung 0 (nothing drawn yet) has only the prompt's own features: they cost nothing, so
the router can send a problem that looks hard straight to a tree search without paying
for a probe first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from calibration.predictor.features import FEATURE_NAMES, probe_features
from strategies.search.result import Candidate

PROMPT_FEATURE_NAMES: tuple[str, ...] = (
    "prompt_log_chars",
    "prompt_log_words",
    "prompt_log_numbers",
    "prompt_log_digits",
)

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def prompt_features(text: str) -> np.ndarray:
    """Zero-cost signals read off the problem text: its length and how much arithmetic it
    holds (harder problems are longer and carry more, larger numbers)."""
    numbers = _NUMBER.findall(text)
    digits = sum(ch.isdigit() for ch in text)
    return np.array(
        [
            math.log1p(len(text)),
            math.log1p(len(text.split())),
            math.log1p(len(numbers)),
            math.log1p(digits),
        ],
        dtype=np.float64,
    )


def feature_names(rung: int) -> tuple[str, ...]:
    return PROMPT_FEATURE_NAMES if rung == 0 else PROMPT_FEATURE_NAMES + FEATURE_NAMES


def state_features(
    text: str, candidates: Sequence[Candidate], reduction: str, prompt: np.ndarray | None = None
) -> np.ndarray:
    """The feature vector of a state (ordered as ``feature_names(len(candidates))``)."""
    base = prompt_features(text) if prompt is None else prompt
    if not candidates:
        return base
    return np.concatenate([base, probe_features(candidates, reduction)])


def rung_ladder(budgets: Sequence[int], pool_size: int) -> tuple[int, ...]:
    """The sample counts at which the router re-decides: 0, then every calibrated budget
    the pools can replay (a rung above the pool size has no recorded outcome)."""
    rungs = sorted({b for b in budgets if 1 <= b <= pool_size})
    return (0, *rungs)
