"""Stage 5 orchestration: simulated probes -> cross-validated metrics -> final predictor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from calibration.analysis.difficulty import ABSOLUTE, ORACLE, Binning, ProblemDifficulty
from calibration.analysis.table import PredictorMetrics
from calibration.predictor.model import (
    DifficultyPredictor,
    PredictorTargets,
    cross_validate,
    out_of_fold_levels,
    predictor_metrics,
    simulate_probes,
    train_predictor,
)
from calibration.store.records import ProblemSamples

COMPARED_PROBE_SIZES: tuple[int, ...] = (2, 4, 8)
COMPARISON_DRAWS = 4
MIN_PROBLEMS_FOR_PREDICTOR = 10


@dataclass(frozen=True)
class PredictorOutcome:
    predictor: DifficultyPredictor
    metrics: PredictorMetrics
    predicted_levels: dict[str, int]


def build_predictor(
    samples: Mapping[str, ProblemSamples],
    problem_ids: Sequence[str],
    difficulties: Mapping[str, ProblemDifficulty],
    binnings: Mapping[str, Binning],
    *,
    probe_k: int,
    probe_draws: int,
    reduction: str,
    seed: int,
    delimiter: str,
) -> PredictorOutcome | None:
    """None when there are too few problems to train and cross-validate anything."""
    if len(problem_ids) < MIN_PROBLEMS_FOR_PREDICTOR:
        return None
    pools = [
        (pid, [s.to_candidate(delimiter) for s in samples[pid].samples]) for pid in problem_ids
    ]
    targets = PredictorTargets(
        levels={
            name: np.array([binnings[name].assignment[pid] for pid in problem_ids])
            for name in (ORACLE, ABSOLUTE)
        },
        pass_at_1=np.array([difficulties[pid].pass_at_1 for pid in problem_ids]),
        level_names={name: binnings[name].levels for name in (ORACLE, ABSOLUTE)},
    )
    smallest_pool = min(len(pool) for _, pool in pools)
    accuracy_by_k: dict[int, float] = {}
    for k in sorted({*COMPARED_PROBE_SIZES, probe_k}):
        if k > smallest_pool or k == probe_k:
            continue
        # a cheaper estimate for the comparison: fewer probes, the level model only
        training = simulate_probes(pools, k, min(probe_draws, COMPARISON_DRAWS), seed, reduction)
        cv = cross_validate(training, targets, oracle_only=True)
        accuracy_by_k[k] = float(
            np.mean(cv.levels == targets.levels[ORACLE][training.problem_index])
        )
    training = simulate_probes(pools, probe_k, probe_draws, seed, reduction)
    cv = cross_validate(training, targets)
    accuracy_by_k[probe_k] = float(
        np.mean(cv.levels == targets.levels[ORACLE][training.problem_index])
    )
    metrics = predictor_metrics(cv, training, targets, probe_k, accuracy_by_k)
    predicted = out_of_fold_levels(cv, training, len(problem_ids))
    predictor = train_predictor(training, targets, probe_k, reduction)
    return PredictorOutcome(
        predictor=predictor,
        metrics=metrics,
        predicted_levels={
            pid: int(level) for pid, level in zip(problem_ids, predicted, strict=True)
        },
    )
