"""Predicted difficulty: a distribution over the calibration's oracle levels, per problem.

The artifact's predictor maps the probe's features to level probabilities (the router
weighs the table's per-level curves by them, so a problem between two levels gets a
blend rather than a hard guess). Without a predictor (an artifact calibrated on too few
problems) or without probe samples, the level sizes of the calibration serve as the
prior: every problem is then treated as an average calibration problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from calibration.artifact import Artifact
from router.options import ROUTING_BINNING
from strategies.search.result import Candidate


@dataclass(frozen=True)
class DifficultyEstimate:
    """``source`` is "predictor" or "prior"; ``pass_at_1`` is None for the prior."""

    distribution: dict[int, float]
    level: int
    pass_at_1: float | None
    source: str

    def to_json(self) -> dict[str, object]:
        return {
            "distribution": {str(k): round(v, 4) for k, v in sorted(self.distribution.items())},
            "level": self.level,
            "pass_at_1": None if self.pass_at_1 is None else round(self.pass_at_1, 4),
            "source": self.source,
        }


def prior_estimate(artifact: Artifact) -> DifficultyEstimate:
    binning = artifact.table.binning(ROUTING_BINNING)
    total = sum(binning.sizes.values())
    distribution = {level: binning.sizes.get(level, 0) / total for level in binning.levels}
    level = max(distribution, key=lambda lv: (distribution[lv], -lv))
    return DifficultyEstimate(distribution, level, None, "prior")


def estimate_difficulty(artifact: Artifact, probe: Sequence[Candidate]) -> DifficultyEstimate:
    if artifact.predictor is None or not probe:
        return prior_estimate(artifact)
    prediction = artifact.predictor.predict(probe, ROUTING_BINNING)
    return DifficultyEstimate(
        distribution=dict(prediction.distribution),
        level=prediction.level,
        pass_at_1=prediction.pass_at_1,
        source="predictor",
    )
