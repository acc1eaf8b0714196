"""Stages 2 to 5 on finished shards: difficulty, strategy evaluation, predictor, table.

Pure computation over what the shards hold (no model, no verifier), so it reruns in
seconds on every `ttc calibrate` and `--merge`, and analysis settings can change freely.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from calibration.analysis.difficulty import (
    ORACLE,
    PREDICTED,
    Binning,
    ProblemDifficulty,
    measure_difficulty,
    standard_binnings,
)
from calibration.analysis.evaluations import EvaluationCube, evaluations_frame
from calibration.analysis.strategy_evaluation import evaluate_pools, tree_rows
from calibration.analysis.table import CalibrationTable
from calibration.analysis.table_builder import build_table
from calibration.predictor.model import DifficultyPredictor
from calibration.predictor.stage import build_predictor
from calibration.sampling.strategy_plan import StrategyPlan
from calibration.store.records import ProblemSamples, TreeRecord
from runtime.decision_model import SequentialModel

# A stage reporter: ``stage(name, total)`` returns a context whose value is ``advance(n)``.
StageReporter = Callable[[str, int], AbstractContextManager[Callable[[int], object]]]


@dataclass(frozen=True)
class AnalysisSettings:
    budgets: tuple[int, ...]
    seeds: tuple[int, ...]
    draws: int
    probe_k: int
    probe_draws: int
    bootstrap: int
    cv_repeats: int
    reduction: str
    base_seed: int
    delimiter: str


@dataclass(frozen=True)
class AnalysisResult:
    table: CalibrationTable
    problems: pd.DataFrame
    evaluations: pd.DataFrame
    predictor: DifficultyPredictor | None
    difficulties: dict[str, ProblemDifficulty]
    binnings: dict[str, Binning]
    sequential: SequentialModel | None = None  # added by the pipeline after the table


def predicted_binning(
    levels: Mapping[str, int], oracle: Binning, pass_at_1: Mapping[str, float]
) -> Binning:
    ranges: dict[int, tuple[float, float]] = {}
    for level in oracle.levels:
        values = [pass_at_1[pid] for pid, lv in levels.items() if lv == level]
        if values:
            ranges[level] = (min(values), max(values))
    return Binning(
        PREDICTED,
        "oracle level predicted from probes (held out)",
        oracle.levels,
        dict(levels),
        ranges,
    )


def problems_frame(
    problem_ids: Sequence[str],
    samples: Mapping[str, ProblemSamples],
    difficulties: Mapping[str, ProblemDifficulty],
    binnings: Mapping[str, Binning],
) -> pd.DataFrame:
    rows = []
    for pid in problem_ids:
        pool = samples[pid]
        d = difficulties[pid]
        row: dict[str, object] = {
            "problem_id": pid,
            "gold": pool.gold,
            "source_level": pool.metadata.get("level"),
            "num_samples": d.num_samples,
            "num_correct": d.num_correct,
            "pass_at_1": d.pass_at_1,
            "mean_score": d.mean_score,
            "mean_tokens": float(np.mean([s.num_tokens for s in pool.samples]))
            if pool.samples
            else 0.0,
            "answered_share": float(np.mean([s.answer is not None for s in pool.samples]))
            if pool.samples
            else 0.0,
            "sampling_error": pool.metadata.get("error"),
        }
        for name, binning in binnings.items():
            row[f"{name}_level"] = binning.assignment.get(pid)
        rows.append(row)
    frame = pd.DataFrame(rows)
    for name in binnings:
        frame[f"{name}_level"] = frame[f"{name}_level"].astype("Int64")
    frame["source_level"] = pd.to_numeric(frame["source_level"], errors="coerce").astype("Int64")
    return frame


def analyse(
    samples: Mapping[str, ProblemSamples],
    tree_records: Sequence[TreeRecord],
    problem_ids: Sequence[str],
    plan: StrategyPlan,
    settings: AnalysisSettings,
    stage: StageReporter,
) -> AnalysisResult:
    with stage("difficulty", len(problem_ids)) as advance:
        difficulties = {}
        for pid in problem_ids:
            difficulties[pid] = measure_difficulty(samples[pid], settings.reduction)
            advance(1)
        binnings = standard_binnings([difficulties[pid] for pid in problem_ids])

    with stage("strategy evaluation", len(problem_ids)) as advance:
        rows = evaluate_pools(
            samples,
            problem_ids,
            plan.pool,
            settings.budgets,
            settings.seeds,
            settings.draws,
            settings.base_seed,
            advance,
        )
        rows.extend(tree_rows(tree_records))
        evaluations = evaluations_frame(rows)
        cube = EvaluationCube.from_frame(
            evaluations, problem_ids, plan.keys, settings.budgets, settings.seeds
        )

    with stage("difficulty predictor", 1) as advance:
        outcome = build_predictor(
            samples,
            problem_ids,
            difficulties,
            binnings,
            probe_k=settings.probe_k,
            probe_draws=settings.probe_draws,
            reduction=settings.reduction,
            seed=settings.base_seed,
            delimiter=settings.delimiter,
        )
        advance(1)
    table_binnings = dict(binnings)
    if outcome is not None:
        pass_at_1 = {pid: d.pass_at_1 for pid, d in difficulties.items()}
        table_binnings[PREDICTED] = predicted_binning(
            outcome.predicted_levels, binnings[ORACLE], pass_at_1
        )

    with stage("table", 1) as advance:
        table = build_table(
            cube,
            table_binnings,
            [difficulties[pid] for pid in problem_ids],
            num_resamples=settings.bootstrap,
            cv_repeats=settings.cv_repeats,
            seed=settings.base_seed,
            predictor=None if outcome is None else outcome.metrics,
        )
        advance(1)
    return AnalysisResult(
        table=table,
        problems=problems_frame(problem_ids, samples, difficulties, table_binnings),
        evaluations=evaluations,
        predictor=None if outcome is None else outcome.predictor,
        difficulties=difficulties,
        binnings=table_binnings,
    )
