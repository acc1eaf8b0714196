"""Verifier scores of any range, read on one scale.

Process reward models give step probabilities in [0, 1]; outcome reward models give
logits (Qwen2.5-Math-RM: -4.3 to +6.1); judges give ratings. A weighted vote sums
scores and a tree search ranks by them, so every score must be on the same scale before
anything adds them up, and one calibration must always read them the same way. The
transform is therefore chosen once, at calibration (``detect_transform`` on the scores
the pool recorded, or named with ``--verifier-option score_transform=NAME``), and
recorded with the verifier's options in the manifest; ``ttc solve`` and ``ttc evaluate``
apply the recorded one.

Transforms (each monotone, so a best-of-N choice never changes, only the weights):
- ``identity``: scores that already are probabilities;
- ``logistic``: ``1 / (1 + exp(-x))``, for logits (an outcome reward model's raw score).
Ranks within a problem's pool are left out on purpose: the router scores samples as they
arrive, and a rank would change every earlier sample's weight with each new one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from strategies.verification import ScoreRequest, StepScores, Verifier

SCORE_TRANSFORM_OPTION = "score_transform"


def _logistic(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    shifted = math.exp(value)  # no overflow for large negative logits
    return shifted / (1.0 + shifted)


TRANSFORMS: dict[str, Callable[[float], float]] = {
    "identity": float,
    "logistic": _logistic,
}


def check_transform(name: str) -> str:
    if name not in TRANSFORMS:
        raise ValueError(
            f"unknown score transform {name!r}; choose one of {', '.join(sorted(TRANSFORMS))}"
        )
    return name


def detect_transform(scores: Iterable[float]) -> str:
    """``identity`` when every score is a probability, else ``logistic`` (logits)."""
    return "identity" if all(0.0 <= s <= 1.0 for s in scores) else "logistic"


def transform_scores(name: str, scores: Sequence[float]) -> tuple[float, ...]:
    function = TRANSFORMS[check_transform(name)]
    return tuple(function(s) if math.isfinite(s) else s for s in scores)


class TransformedVerifier:
    """A verifier whose scores are mapped to [0, 1] by a named transform; everything else
    (name, parameter count for FLOPs) is the wrapped verifier's."""

    def __init__(self, inner: Verifier, transform: str) -> None:
        self.inner = inner
        self.transform = check_transform(transform)
        self.name = inner.name
        self.num_parameters = inner.num_parameters

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def score(self, requests: Sequence[ScoreRequest]) -> list[StepScores]:
        return [
            replace(result, scores=transform_scores(self.transform, result.scores))
            for result in self.inner.score(requests)
        ]


def with_transform(verifier: Verifier, options: dict[str, Any]) -> Verifier:
    """``verifier`` reading its scores through ``options``' transform (popped from
    them); itself when there is none or it is the identity."""
    name = options.pop(SCORE_TRANSFORM_OPTION, None)
    if name is None or check_transform(str(name)) == "identity":
        return verifier
    return TransformedVerifier(verifier, str(name))
