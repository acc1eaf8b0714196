"""What `ttc curves` shows, computed once from an artifact: curves of accuracy against compute.

Three families of curves:

- each fixed *strategy* over all problems (``table.overall``: accuracy, 95% bootstrap
  interval, mean cost per budget);
- the *compute-optimal* choice per difficulty bin, for each binning the table has
  (oracle, verifier, predicted, absolute): the held-out, two-fold cross-validated
  accuracy from ``table.json``, with interval and cost from the replay in
  ``calibration.curves.routing``. The predicted bins come from probe samples whose
  cost is not included here (``ttc evaluate`` counts it);
- the *router*'s policies, when ``ttc evaluate`` results are found
  (``calibration.curves.evaluation``).

Compute axes (``X_AXES``): ``generations`` is the generation budget N, the number of
full-solution equivalents as in Snell et al. (a tree search with N beams counts N,
although its ledger records each partial step as a generation); ``tokens`` is the mean
number of generated tokens per problem and ``flops`` the mean generator + verifier
FLOPs per problem, both from the cost ledger.

The budget at which a curve reaches a target accuracy is found on its points in order
of compute: the first point at or above the target, interpolated linearly in log2 of
compute from the point before it (curves are drawn on a log2 axis; the reading is the
crossing on that drawing). The default target is the accuracy
of the baseline, best-of-N (the better of its two forms), at its largest budget: each
curve's reach then says how much compute it needs to match the baseline's best, the
paper's "same accuracy with 4x less compute" figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.analysis.evaluations import COST_COLUMNS
from calibration.analysis.expected_oracle import expected_oracle_curve, expected_outcome_matrix
from calibration.analysis.table import BinningTable, PredictorMetrics, StrategyStats
from calibration.curves.coverage_law import CoverageFit, CoverageFitError, fit_coverage_law
from calibration.curves.routing import RoutingReplayError, replay_heldout_routing
from calibration.store.artifact import Artifact
from strategies.search.base import display_names

X_AXES: tuple[str, ...] = ("generations", "tokens", "flops")
STRATEGY = "strategy"
OPTIMAL = "compute-optimal"
ROUTER = "router"
DECISION = "decision model"
LIMIT = "limit"
BASELINES: tuple[str, ...] = ("best_of_n", "weighted_best_of_n")
OPTIMAL_BINNINGS: tuple[str, ...] = ("oracle", "verifier", "predicted", "absolute")

BINNING_LABELS = {
    "oracle": "oracle bins",
    "verifier": "verifier bins",
    "predicted": "predicted bins",
    "absolute": "absolute bins",
}
AXIS_LABELS = {
    "generations": "generation budget N",
    "tokens": "generated tokens per problem",
    "flops": "FLOPs per problem",
}


def _abbreviated_params(params: str) -> str:
    """'beam_width=2,depth=20' -> 'bw=2,d=20' (each key by the initials of its words)."""
    parts = []
    for item in params.split(","):
        key, sep, value = item.partition("=")
        initials = "".join(word[:1] for word in key.split("_") if word)
        parts.append(f"{initials}{sep}{value}")
    return ",".join(parts)


def strategy_label(key: str) -> str:
    """'weighted_best_of_n' -> 'weighted BoN'; 'beam_search:beam_width=2' -> 'beam search bw=2'."""
    name, sep, params = key.partition(":")
    return display_names(name)[1] + (f" {_abbreviated_params(params)}" if sep else "")


@dataclass(frozen=True)
class CurvePoint:
    """One point: ``budget`` is the generation budget N (a mean for router policies)."""

    budget: float
    accuracy: float
    ci_low: float
    ci_high: float
    tokens: float
    flops: float
    label: str = ""

    def x(self, axis: str) -> float:
        if axis == "generations":
            return self.budget
        if axis == "tokens":
            return self.tokens
        if axis == "flops":
            return self.flops
        raise ValueError(f"unknown compute axis {axis!r}; expected one of {', '.join(X_AXES)}")


@dataclass(frozen=True)
class Curve:
    key: str
    label: str
    group: str
    points: tuple[CurvePoint, ...]

    def at_budget(self, budget: int) -> CurvePoint | None:
        return next((p for p in self.points if p.budget == budget), None)


@dataclass(frozen=True)
class Reach:
    """Compute at which a curve first reaches the target; None when it never does.

    ``at_first_point``: already reached at the curve's cheapest point, so the curve
    might reach it with even less (the true figure is at most ``compute``).
    """

    compute: float | None
    best_accuracy: float
    at_first_point: bool = False


@dataclass(frozen=True)
class ArtifactInfo:
    """What the titles say about the artifact (no dates or wall times: output is stable)."""

    path: str
    model: str
    verifier: str
    dataset: str
    num_problems: int
    samples: int | None
    seeds: int

    @property
    def title(self) -> str:
        return f"model {self.model} · verifier {self.verifier} · data {self.dataset}"


@dataclass(frozen=True)
class LevelRow:
    """One difficulty level of the chosen binning: its best strategy per budget."""

    level: int
    size: int
    value_range: tuple[float, float] | None
    best: dict[int, str]


@dataclass(frozen=True)
class CurvesReport:
    info: ArtifactInfo
    axis: str
    binning: str
    budgets: tuple[int, ...]
    curves: tuple[Curve, ...]
    target: float
    target_source: str
    reach: dict[str, Reach]
    reference: str | None
    coverage: dict[int, float]
    coverage_fit: CoverageFit | None
    coverage_note: str
    levels: tuple[LevelRow, ...]
    measure: str
    predictor: PredictorMetrics | None
    notes: tuple[str, ...] = field(default_factory=tuple)
    # the router ``ttc solve`` runs: the decision model's two-fold held-out price curve
    decision: Curve | None = None
    # the expected per-problem oracle over the calibration's draws and seeds (the limit)
    limit: Curve | None = None

    def group(self, name: str) -> list[Curve]:
        return [c for c in self.curves if c.group == name]

    def curve(self, key: str) -> Curve:
        for curve in self.curves:
            if curve.key == key:
                return curve
        raise KeyError(f"no curve {key!r}")

    def savings(self, key: str) -> float | None:
        """How many times less compute than the reference strategy to reach the target."""
        if self.reference is None:
            return None
        if key not in self.reach:
            return None
        mine, theirs = self.reach[key].compute, self.reach[self.reference].compute
        if mine is None or theirs is None or mine <= 0:
            return None
        return theirs / mine


def artifact_info(artifact: Artifact) -> ArtifactInfo:
    manifest = artifact.manifest
    dataset = manifest.dataset
    source = str(dataset.get("source") or dataset.get("path") or "unknown data")
    if source.startswith("pool:"):
        from runtime.sources import parse_pool_spec

        paths, split = parse_pool_spec(source)
        source = "pool " + "+".join(Path(p).name for p in paths) + (f" {split}" if split else "")
    elif "/" in source:
        source = Path(source).name
    samples = manifest.settings.get("samples")
    return ArtifactInfo(
        path=str(artifact.path),
        model=manifest.model,
        verifier=manifest.verifier,
        dataset=source,
        num_problems=artifact.table.num_problems,
        samples=None if samples is None else int(samples),
        seeds=artifact.table.seeds,
    )


def _point(budget: float, stats: StrategyStats) -> CurvePoint:
    return CurvePoint(
        budget=budget,
        accuracy=stats.accuracy,
        ci_low=stats.ci_low,
        ci_high=stats.ci_high,
        tokens=stats.cost.generated_tokens,
        flops=stats.cost.flops,
    )


def strategy_curves(artifact: Artifact) -> list[Curve]:
    table = artifact.table
    curves = []
    for name in table.strategies:
        points = tuple(
            _point(budget, table.overall[budget][name])
            for budget in table.budgets
            if name in table.overall.get(budget, {})
        )
        if points:
            curves.append(Curve(name, strategy_label(name), STRATEGY, points))
    return curves


def optimal_curves(artifact: Artifact) -> tuple[list[Curve], list[str]]:
    """Compute-optimal curves per binning, and notes on anything that could not be replayed."""
    table = artifact.table
    curves: list[Curve] = []
    notes: list[str] = []
    tokens = COST_COLUMNS.index("generated_tokens")
    flops = COST_COLUMNS.index("flops")
    for name in OPTIMAL_BINNINGS:
        if name not in table.binnings:
            continue
        heldout = table.binnings[name].routing.heldout
        try:
            replay = replay_heldout_routing(artifact, name)
        except RoutingReplayError as exc:
            notes.append(f"{BINNING_LABELS[name]}: no interval or cost ({exc})")
            replay = None
        points = []
        for b, budget in enumerate(table.budgets):
            if budget not in heldout:
                continue
            accuracy = heldout[budget]
            if replay is None:
                points.append(CurvePoint(budget, accuracy, math.nan, math.nan, math.nan, math.nan))
                continue
            if abs(float(replay.accuracy[b]) - accuracy) > 1e-6:
                notes.append(
                    f"{BINNING_LABELS[name]} at N={budget}: table.json says {accuracy:.4f}, the "
                    f"replay of its cross-validation {float(replay.accuracy[b]):.4f}; the "
                    "interval and cost shown come from the replay"
                )
            points.append(
                CurvePoint(
                    budget=budget,
                    accuracy=accuracy,
                    ci_low=float(replay.ci_low[b]),
                    ci_high=float(replay.ci_high[b]),
                    tokens=float(replay.costs[b, tokens]),
                    flops=float(replay.costs[b, flops]),
                )
            )
        if points:
            curves.append(Curve(f"optimal:{name}", BINNING_LABELS[name], OPTIMAL, tuple(points)))
    return curves, notes


def decision_curve(artifact: Artifact) -> Curve | None:
    """The decision model's held-out price curve (``ttc calibrate`` fits and measures it
    two-fold by problem): accuracy against generations per problem, cheapest first."""
    model = artifact.sequential
    if model is None or not model.price_curve:
        return None
    points = sorted(
        {(p.mean_cost, p.accuracy) for p in model.price_curve}, key=lambda point: point[0]
    )
    nan = math.nan
    return Curve(
        "router:decision-model",
        "router (decision model, held out)",
        DECISION,
        tuple(CurvePoint(cost, accuracy, nan, nan, nan, nan) for cost, accuracy in points),
    )


def limit_curve(artifact: Artifact) -> Curve | None:
    """The expected oracle: each calibration problem's mean accuracy per action over the
    recorded draws and seeds, the cheapest mix reaching each accuracy."""
    if artifact.evaluations.empty:
        return None
    _, accuracy, costs = expected_outcome_matrix(artifact.evaluations)
    nan = math.nan
    points = tuple(
        CurvePoint(cost, value, nan, nan, nan, nan)
        for cost, value in expected_oracle_curve(accuracy, costs)
    )
    if not points:
        return None
    return Curve("limit:expected-oracle", "expected per-problem oracle (limit)", LIMIT, points)


def reach(points: Sequence[CurvePoint], target: float, axis: str) -> Reach:
    """First crossing of ``target`` in order of compute, interpolated in log2 compute."""
    ordered = sorted(
        (p for p in points if math.isfinite(p.x(axis)) and p.x(axis) > 0), key=lambda p: p.x(axis)
    )
    best = max((p.accuracy for p in ordered), default=math.nan)
    for i, point in enumerate(ordered):
        if point.accuracy + 1e-12 < target:
            continue
        if i == 0:
            return Reach(point.x(axis), best, at_first_point=True)
        before = ordered[i - 1]
        x0, x1 = math.log2(before.x(axis)), math.log2(point.x(axis))
        share = (target - before.accuracy) / (point.accuracy - before.accuracy)
        return Reach(2.0 ** (x0 + share * (x1 - x0)), best)
    return Reach(None, best)


def default_target(strategies: Sequence[Curve]) -> tuple[float, str, str | None]:
    """The baseline's accuracy at its largest budget, and which strategy that is.

    The baseline is the better of best-of-N and weighted best-of-N (Snell et al.'s
    baseline: compute-optimal scaling matched it with about 4x less compute), or the
    best fixed strategy when neither was calibrated.
    """
    baselines = [c for c in strategies if c.key in BASELINES] or list(strategies)
    ends = [(c.points[-1], c) for c in baselines if c.points]
    if not ends:
        return math.nan, "no fixed strategy to compare with", None
    point, best = max(ends, key=lambda item: (item[0].budget, item[0].accuracy))
    return point.accuracy, f"{best.label} at N={compact_budget(point.budget)}", best.key


def compact_budget(budget: float) -> str:
    return str(int(budget)) if float(budget).is_integer() else f"{budget:.1f}"


def level_rows(binning: BinningTable, budgets: Sequence[int]) -> tuple[LevelRow, ...]:
    return tuple(
        LevelRow(
            level=level,
            size=binning.sizes.get(level, 0),
            value_range=binning.value_ranges.get(level),
            best={
                b: binning.cells[(level, b)].best for b in budgets if (level, b) in binning.cells
            },
        )
        for level in binning.levels
    )


def coverage_points(artifact: Artifact) -> tuple[dict[int, float], str]:
    """pass@k from the table, else from per-problem counts; a note when neither has it."""
    if artifact.table.coverage:
        return dict(artifact.table.coverage), ""
    problems = artifact.problems
    if {"num_samples", "num_correct"} <= set(problems.columns) and len(problems):
        smallest = int(problems["num_samples"].min())
        ks = sorted({*(2**i for i in range(smallest.bit_length())), smallest} - {0})
        return {k: _mean_pass_at_k(problems, k) for k in ks}, ""
    return {}, (
        f"{artifact.path} has no coverage (pass@k) figures in table.json nor per-problem "
        "sample counts, so there is no coverage curve or law to show"
    )


def _mean_pass_at_k(rows: pd.DataFrame, k: int) -> float:
    from calibration.analysis.pool_estimators import pass_at_k

    values = [
        pass_at_k(int(n), int(c), k)
        for n, c in zip(rows["num_samples"], rows["num_correct"], strict=True)
        if 1 <= k <= int(n)
    ]
    return float(np.mean(values)) if values else math.nan


def build_report(
    artifact: Artifact,
    *,
    axis: str = "generations",
    binning: str = "oracle",
    target: float | None = None,
    router_curves: Sequence[Curve] = (),
    notes: Sequence[str] = (),
) -> CurvesReport:
    if axis not in X_AXES:
        raise ValueError(f"unknown compute axis {axis!r}; expected one of {', '.join(X_AXES)}")
    chosen = artifact.table.binning(binning)  # a clear KeyError naming the binnings it has
    strategies = strategy_curves(artifact)
    optimal, replay_notes = optimal_curves(artifact)
    curves = (*strategies, *optimal, *router_curves)
    best_accuracy, source, reference = default_target(strategies)
    if target is None:
        target = best_accuracy
    else:
        source = "given"
    # router results come from other (held-out) problems: no reach against this target
    reaches = {c.key: reach(c.points, target, axis) for c in curves if c.group != ROUTER}
    coverage, coverage_note = coverage_points(artifact)
    fit = None
    if coverage:
        try:
            fit = fit_coverage_law(coverage)
        except CoverageFitError as exc:
            coverage_note = f"coverage law not fitted: {exc}"
    return CurvesReport(
        info=artifact_info(artifact),
        axis=axis,
        binning=binning,
        budgets=artifact.table.budgets,
        curves=curves,
        target=float(target),
        target_source=source,
        reach=reaches,
        reference=reference,
        coverage=coverage,
        coverage_fit=fit,
        coverage_note=coverage_note,
        levels=level_rows(chosen, artifact.table.budgets),
        measure=chosen.measure,
        predictor=artifact.table.predictor,
        notes=(*notes, *replay_notes),
        decision=decision_curve(artifact),
        limit=limit_curve(artifact),
    )


def coverage_by_level(
    artifact: Artifact, binning: str, ks: Sequence[int]
) -> dict[int, list[float]]:
    """Mean unbiased pass@k per level of ``binning`` (for the coverage plot), when known."""
    problems = artifact.problems
    column = f"{binning}_level"
    if not {column, "num_samples", "num_correct"} <= set(problems.columns):
        return {}
    result: dict[int, list[float]] = {}
    for level in artifact.table.binning(binning).levels:
        rows = problems[problems[column] == level]
        if not rows.empty:
            result[level] = [_mean_pass_at_k(rows, k) for k in ks]
    return result
