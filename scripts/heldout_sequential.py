"""An artifact's decision model held out on its own calibration problems, with intervals:
recorded samples replayed and recorded tree searches looked up, so the router's tree
searches and second opinions count, which a sample pool cannot replay.

Why a script beside `ttc calibrate`'s own two-fold figures: those are one split of the
problems into halves, with no interval, and on 100 problems one split moves the
router's ratios by a few tenths. Here the same fit is repeated over several random
splits (each problem is held out once per split, by a model fitted on the other half
or, with `--folds`, the other parts),
every figure is a mean per problem over splits and random orders, and the intervals are
a bootstrap over problems of the whole comparison (the best fixed strategy is re-picked
in every resample, so its luck is counted too).

What is compared, at each budget N of the calibration:
- the best fixed strategy at N: every sampling strategy and tree search the artifact ran
  at N, its accuracy the mean over the calibration's seeds per problem, its compute N
  generations (the decision model prices a search at its budget too);
- the router's held-out price curve (what `auto` and `total:B` choose among): compute to
  match is N over the generations at which the curve first reaches that accuracy
  (linear between prices, as `ttc evaluate` reads its `total:B` sweep);
- `--budget N` held out: the capped router (its thresholds chosen on the same splits, as
  `ttc calibrate` chooses them on its two halves);
- the fixed strategy chosen held out: the best at N on the half (or parts) each problem
  was held out from, scored on the problem, so that the strategy is chosen as the router
  is fitted, on other problems. The first comparison's "best fixed" is the best of every
  strategy at N on the very problems it is scored on: luck in the choice among seven
  strategies counts for it (on SmolLM2 at N=16: 44.4 % in hindsight, 42.8 % chosen held
  out). Both are printed; neither replaces the other.

Each fold's switch margin (how far a search must lead to replace a drawn pool) and search
ceiling (from which price up it does not search) are chosen on the fold's own half,
nested, so the held-out half plays no part in them.

`--folds K` holds each problem out of one of K parts instead of one of two halves, so
every model is fitted on (K-1)/K of the problems: with 10 it approaches what the
shipped model, fitted on all of them, does on fresh problems, and comparing it with the
halves says how much more calibration problems would buy (on SmolLM2, 50 -> 90 fitted
problems moved compute to match at N=16 from 1.23x to 1.27x).

Several artifacts made with the same settings but other problems (more problems with
searches come in batches: `scripts/calibrate_smollm2_fresh.sh`) are pooled into one set
of problems. With `--fresh ART`, ART's problems are the only ones held out, all scored by
models fitted on the others': the router on problems no part of its fit has seen, beside
the fixed strategy best on the calibration it was fitted on (the held-out pick) and the
best in hindsight on the fresh problems.

    python -m scripts.heldout_sequential artifacts/smollm2-arithmetic [--splits 20] [--folds 2]
    python -m scripts.heldout_sequential ART [ART ...] [--fresh ART]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from calibration.config import describe_differences
from calibration.pipeline import calibration_records, merge_config
from calibration.sequential.decision_pool import load_decision_pool
from calibration.sequential.fit import (
    DEFAULT_PRICES,
    Fold,
    capped_fold_models,
    choose_switch_margin,
    fit_cap_thresholds,
    fit_folds,
    problem_means,
    replay,
    with_search_rules,
)
from calibration.sequential.search_ceiling import choose_search_ceiling
from calibration.sequential.stage import CAP_PRICE, SequentialData, sequential_data
from calibration.store.artifact import load_artifact
from calibration.store.evaluation_records import SweepPoint
from calibration.store.records import ProblemSamples, TreeRecord
from router.evaluation.harness import first_reaching as first_reaching_in_sweep
from runtime.actions import action_key
from strategies.prompts import get_prompt_config


@dataclass(frozen=True)
class HeldOut:
    """Per problem (rows: the pools' order), means over splits and random orders."""

    fixed: dict[str, np.ndarray]  # "strategy@N" -> accuracy per problem
    curve_accuracy: np.ndarray  # (prices, problems)
    curve_cost: np.ndarray
    capped_accuracy: dict[int, np.ndarray]
    capped_cost: dict[int, np.ndarray]
    # per budget N: accuracy per problem of the fixed strategy at N that scored best on
    # the half (or parts) each problem was held out from, and how often each was picked
    chosen: dict[int, np.ndarray] = field(default_factory=dict)
    picks: dict[int, dict[str, int]] = field(default_factory=dict)

    def restricted(self, problems: np.ndarray) -> HeldOut:
        """The same figures for ``problems`` (pool indices) only: the fresh ones."""
        return HeldOut(
            {k: v[problems] for k, v in self.fixed.items()},
            self.curve_accuracy[:, problems],
            self.curve_cost[:, problems],
            {k: v[problems] for k, v in self.capped_accuracy.items()},
            {k: v[problems] for k, v in self.capped_cost.items()},
            {k: v[problems] for k, v in self.chosen.items()},
            self.picks,
        )


@dataclass(frozen=True)
class Loaded:
    """One or more calibrations' fitting data, pooled (``origin``: which artifact, in
    the order given, each of ``prepared.pools`` came from)."""

    prepared: SequentialData
    evaluations: pd.DataFrame
    budgets: tuple[int, ...]
    reduction: str
    origin: np.ndarray
    duplicates: int = 0  # problems left out: their text is in an earlier artifact


# settings that may differ between calibrations pooled together
_POOLABLE = frozenset({"problems", "decision_pool"})


def load_data(artifacts: Path | Sequence[Path], decision_pool: Path | None = None) -> Loaded:
    """The artifacts' fitting data, pooled; ``decision_pool``: a samples shard the fits
    also learn from (default: the one the first artifact was calibrated with, if any).

    Why pool: each calibration with searches costs hours on a CPU, so more problems come
    in batches (``scripts/calibrate_smollm2_fresh.sh``), each a complete artifact made
    with the same settings but its problems. A problem whose text an earlier artifact
    already holds is left out, or it could be fitted on and held out against itself."""
    paths = [artifacts] if isinstance(artifacts, Path) else list(artifacts)
    if not paths:
        raise ValueError("no artifact given")
    texts: dict[str, str] = {}
    samples: dict[str, ProblemSamples] = {}
    records: list[TreeRecord] = []
    frames: list[pd.DataFrame] = []
    owner: dict[str, int] = {}
    seen_texts: set[str] = set()
    duplicates = 0
    first = None
    for index, path in enumerate(paths):
        config, source, plan = merge_config(path, progress=False)
        if first is None:
            first = (path, config, plan)
        else:
            _check_poolable(first[0], first[1].all_settings(), path, config.all_settings())
        found, tree = calibration_records(config, source, plan)
        evaluations = load_artifact(path).evaluations
        # pooled id: the artifact's own, unless an earlier artifact used it for another
        # problem (generators number their problems from 0 whatever their seed)
        ids: dict[str, str] = {}
        for problem in source.problems:
            if problem.text.strip() in seen_texts:
                duplicates += 1
                continue
            pooled = problem.id if problem.id not in owner else f"{problem.id}#{index}"
            owner[pooled] = index
            texts[pooled] = problem.text
            ids[problem.id] = pooled
        samples.update(
            {
                ids[pid]: replace(value, problem_id=ids[pid])
                for pid, value in found.items()
                if pid in ids
            }
        )
        records += [replace(r, problem_id=ids[r.problem_id]) for r in tree if r.problem_id in ids]
        kept = evaluations[evaluations["problem_id"].isin(list(ids))]
        frames.append(kept.assign(problem_id=kept["problem_id"].map(ids)))
        # only across artifacts: repeats within one are the calibration's own business
        seen_texts |= {p.text.strip() for p in source.problems}
    assert first is not None
    path, config, plan = first
    pool_path = decision_pool or config.decision_pool
    pool = None if pool_path is None else load_decision_pool(pool_path, config.all_settings())
    evaluations = pd.concat(frames, ignore_index=True)
    budgets = tuple(sorted(set(config.budgets)))
    prepared = sequential_data(
        texts,
        samples,
        evaluations,
        budgets=budgets,
        tree_strategies=[s.key for s in plan.tree],
        reduction=config.generation.reduction,
        delimiter=get_prompt_config(config.prompt_config).step_delimiter,
        seed=config.seed,
        tree_records=records,
        pool=pool,
    )
    if prepared is None:
        raise SystemExit(f"{path}: too few problems with every action recorded to fit")
    origin = np.array([owner[p.problem_id] for p in prepared.pools])
    return Loaded(prepared, evaluations, budgets, config.generation.reduction, origin, duplicates)


def _check_poolable(
    first: Path, settings: dict[str, Any], other: Path, other_settings: dict[str, Any]
) -> None:
    """Refuse to pool calibrations made with other settings than their problems."""
    mine = {k: v for k, v in settings.items() if k not in _POOLABLE}
    theirs = {k: v for k, v in other_settings.items() if k not in _POOLABLE}
    if differences := describe_differences(mine, theirs):
        raise SystemExit(
            f"{other} was calibrated with other settings than {first} (as {first} recorded "
            f"them, then {other}: {differences}); only calibrations that differ in their "
            "problems can be pooled"
        )


def fixed_accuracies(prepared: SequentialData, evaluations: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every fixed strategy's accuracy per problem (mean over seeds), on the fitted pools."""
    ids = [p.problem_id for p in prepared.pools]
    means = evaluations.groupby(["strategy", "budget", "problem_id"])["accuracy"].mean()
    table = means.unstack("problem_id").reindex(columns=ids)
    out = {}
    for (strategy, budget), values in zip(
        table.index.tolist(), table.to_numpy(dtype=float), strict=True
    ):
        if not np.isnan(values).any():
            out[action_key(str(strategy), int(budget))] = values
    return out


def held_out(
    prepared: SequentialData,
    evaluations: pd.DataFrame,
    budgets: Sequence[int],
    reduction: str,
    splits: int,
    prices: Sequence[float] = DEFAULT_PRICES,
    parts: int = 2,
    fresh: np.ndarray | None = None,
) -> HeldOut:
    """``fresh``: the problems (pool indices) held out, all by one model fitted on the
    others, instead of random parts; its ``--budget N`` thresholds are then chosen on the
    fitted problems' own halves, as ``ttc calibrate`` chooses them, so nothing of the
    fresh problems' outcomes reaches the router. Rows of problems never held out stay 0."""
    data, count = prepared.data, len(prepared.pools)
    caps = [b for b in budgets if any(size <= b for size in data.rungs[1:])]
    accuracy = np.zeros((len(prices), count))
    cost = np.zeros((len(prices), count))
    capped_accuracy = {c: np.zeros(count) for c in caps}
    capped_cost = {c: np.zeros(count) for c in caps}
    fixed = fixed_accuracies(prepared, evaluations)
    chosen = {b: np.zeros(count) for b in budgets}
    picks: dict[int, dict[str, int]] = {b: {} for b in budgets}
    for split in tqdm(range(splits), desc="splits", unit="split"):
        nested = [
            _nested_search_rules(fold, reduction, prices, split)
            for fold in fit_folds(
                data,
                reduction=reduction,
                prices=prices,
                seed=split,
                parts=parts,
                sampled=prepared.sampled,
                held_out=None if fresh is None else [fresh],
            )
        ]
        folds = [fold for fold, _ in nested]
        fitted = capped_fold_models(folds, caps, CAP_PRICE)
        if fresh is None:
            thresholds = fit_cap_thresholds(data, folds, caps, CAP_PRICE, fitted)
        else:
            (fold, inner), *_ = nested
            thresholds = fit_cap_thresholds(fold.fitted, inner, caps, CAP_PRICE)
        row_accuracy = np.zeros((len(prices), len(data)))
        row_cost = np.zeros((len(prices), len(data)))
        row_capped = {c: (np.zeros(len(data)), np.zeros(len(data))) for c in caps}
        for fold, capped_model in zip(folds, fitted, strict=True):
            rows = np.flatnonzero(fold.test)
            held = data.subset(rows)
            tested = np.unique(data.problem[rows])
            calibrated = np.unique(fold.fitted.problem)
            for budget in budgets:
                name = chosen_fixed(fixed, budget, calibrated)
                if name is not None:
                    chosen[budget][tested] += fixed[name][tested] / splits
                    picks[budget][name] = picks[budget].get(name, 0) + 1
            for i, price in enumerate(prices):
                outcome = replay(fold.model, held, price)
                row_accuracy[i, rows] = outcome.accuracy
                row_cost[i, rows] = outcome.cost
            assert capped_model.capped is not None
            model = replace(
                capped_model, capped=replace(capped_model.capped, thresholds=dict(thresholds))
            )
            for cap in caps:
                outcome = replay(model, held, CAP_PRICE, budget=cap)
                row_capped[cap][0][rows] = outcome.accuracy
                row_capped[cap][1][rows] = outcome.cost
        for i in range(len(prices)):
            accuracy[i] += problem_means(row_accuracy[i], data.problem) / splits
            cost[i] += problem_means(row_cost[i], data.problem) / splits
        for cap in caps:
            capped_accuracy[cap] += problem_means(row_capped[cap][0], data.problem) / splits
            capped_cost[cap] += problem_means(row_capped[cap][1], data.problem) / splits
    return HeldOut(
        fixed,
        accuracy,
        cost,
        capped_accuracy,
        capped_cost,
        {b: v for b, v in chosen.items() if picks[b]},
        {b: v for b, v in picks.items() if v},
    )


def chosen_fixed(fixed: dict[str, np.ndarray], budget: int, problems: np.ndarray) -> str | None:
    """The fixed strategy at ``budget`` most accurate on ``problems`` (pool indices): the
    one a user who calibrated on them would run, as the router is fitted on them."""
    at_budget = [k for k in fixed if k.endswith(f"@{budget}")]
    if not at_budget or not len(problems):
        return None
    return max(at_budget, key=lambda k: float(fixed[k][problems].mean()))


def _nested_search_rules(
    fold: Fold, reduction: str, prices: Sequence[float], split: int
) -> tuple[Fold, list[Fold]]:
    """The fold's model with the switch margin and search ceiling `ttc calibrate` would
    choose from the fold's own half (its two halves), so the held-out half plays no part
    in them; and those two halves' folds, with both."""
    inner = fit_folds(
        fold.fitted, reduction=reduction, prices=prices, seed=split + 1000, sampled=fold.sampled
    )
    margin, inner = choose_switch_margin(fold.fitted, inner, prices)
    ceiling, inner = choose_search_ceiling(fold.fitted, inner, prices)
    model = with_search_rules(fold.model, fold.fitted, prices, margin, ceiling, fold.sampled)
    return replace(fold, model=model), list(inner)


def first_reaching(costs: np.ndarray, accuracies: np.ndarray, target: float) -> float | None:
    """Generations where the curve (its points sorted by cost) first reaches ``target``,
    read as `ttc evaluate` reads its `total:B` sweep; None when it never does."""
    order = np.argsort(costs, kind="stable")
    sweep = [
        SweepPoint(float(c), float(a), float(c), 0.0)
        for c, a in zip(costs[order], accuracies[order], strict=True)
    ]
    return first_reaching_in_sweep(sweep, target)[0]


@dataclass(frozen=True)
class Comparison:
    budget: int
    fixed: str
    fixed_accuracy: float
    router_generations: float | None
    ratio: float | None
    router_at_n: float  # the curve's accuracy at N generations (interpolated)


def compare(result: HeldOut, budget: int, rows: np.ndarray) -> Comparison:
    name = chosen_fixed(result.fixed, budget, rows)
    if name is None:
        raise ValueError(f"no fixed strategy recorded at N={budget}")
    target = float(result.fixed[name][rows].mean())
    costs, accuracies = _curve(result, rows)
    needed = first_reaching(costs, accuracies, target)
    return Comparison(
        budget,
        name,
        target,
        needed,
        _ratio(budget, needed),
        _accuracy_at(costs, accuracies, budget),
    )


def compare_chosen(result: HeldOut, budget: int, rows: np.ndarray) -> tuple[float, float | None]:
    """The held-out fixed strategy at ``budget`` (``HeldOut.chosen``) on ``rows``: its
    accuracy, and N over the generations at which the router's curve first reaches it
    (None when it never does)."""
    target = float(result.chosen[budget][rows].mean())
    needed = first_reaching(*_curve(result, rows), target)
    return target, _ratio(budget, needed)


def _curve(result: HeldOut, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The router's held-out price curve on ``rows``: mean generations and accuracy per
    price."""
    return result.curve_cost[:, rows].mean(axis=1), result.curve_accuracy[:, rows].mean(axis=1)


def _ratio(budget: int, needed: float | None) -> float | None:
    """Compute to match: N over the generations the curve needed (None if never)."""
    return None if needed is None or needed <= 0 else budget / needed


def _accuracy_at(costs: np.ndarray, accuracies: np.ndarray, spend: float) -> float:
    """The best the curve reaches within ``spend`` generations (linear between prices;
    nan when even its cheapest point costs more)."""
    order = np.argsort(costs, kind="stable")
    points = list(zip(costs[order], accuracies[order], strict=True))
    reached = [a for c, a in points if c <= spend + 1e-9]
    for (c0, a0), (c1, a1) in pairwise(points):
        if c0 <= spend < c1:
            reached.append(a0 + (spend - c0) / (c1 - c0) * (a1 - a0))
    return max(reached) if reached else math.nan


def short(key: str) -> str:
    name, _, budget = key.rpartition("@")
    return f"{name.split(':', 1)[0]}@{budget}"


def report(result: HeldOut, budgets: Sequence[int], resamples: int, seed: int) -> str:
    count = result.curve_accuracy.shape[1]
    everything = np.arange(count)
    rng = np.random.default_rng(seed)
    draws = [np.asarray(rng.integers(0, count, count)) for _ in range(resamples)]
    lines = [
        f"{count} problems, held out over the splits; 95 % intervals: bootstrap over problems "
        f"({resamples} resamples, the best fixed strategy re-picked in each)",
        "",
        "| N | best fixed | acc % | router `--budget N` acc % (gens) | router curve at N gens, "
        "minus best fixed (points) | compute to match |",
        "|---|---|---|---|---|---|",
    ]
    for budget in budgets:
        point = compare(result, budget, everything)
        boot = [compare(result, budget, rows) for rows in draws]
        fixed_ci = _interval([b.fixed_accuracy for b in boot], 100)
        gain_text = "- (the curve's cheapest point costs more)"
        if not math.isnan(point.router_at_n):
            gain = 100 * (point.router_at_n - point.fixed_accuracy)
            gain_ci = _interval([b.router_at_n - b.fixed_accuracy for b in boot], 100)
            gain_text = f"{gain:+.1f} [{gain_ci}]"
        ratios = [b.ratio if b.ratio is not None else 0.0 for b in boot]
        ratio_ci = _interval(ratios, 1, "{:.2f}")
        ratio = (
            "not reached"
            if point.ratio is None
            else (f"{point.ratio:.2f}x ({point.router_generations:.2f} gens) [{ratio_ci}]")
        )
        capped = result.capped_accuracy.get(budget)
        capped_text = "-"
        if capped is not None:
            capped_ci = _interval([float(capped[rows].mean()) for rows in draws], 100)
            capped_text = (
                f"{100 * capped.mean():.1f} [{capped_ci}] ({result.capped_cost[budget].mean():.2f})"
            )
        lines.append(
            f"| {budget} | {short(point.fixed)} | {100 * point.fixed_accuracy:.1f} [{fixed_ci}] "
            f"| {capped_text} | {gain_text} | {ratio} |"
        )
    lines += _chosen_table(result, budgets, draws)
    curve = ", ".join(
        f"{100 * a:.1f} % at {c:.2f}"
        for a, c in sorted(
            zip(result.curve_accuracy.mean(axis=1), result.curve_cost.mean(axis=1), strict=True),
            key=lambda item: item[1],
        )
    )
    lines += ["", f"price curve, held out (accuracy at mean generations): {curve}"]
    return "\n".join(lines)


def _chosen_table(
    result: HeldOut, budgets: Sequence[int], draws: Sequence[np.ndarray]
) -> list[str]:
    """The same comparison against the fixed strategy chosen held out, as the router is:
    the best at N on the half each problem was held out from. The table above picks the
    best of every strategy at N on the very problems it is scored on, a choice no user
    can make before solving them; both are shown, neither replaces the other."""
    if not result.chosen:
        return []
    everything = np.arange(result.curve_accuracy.shape[1])
    lines = [
        "",
        "Against the fixed strategy chosen held out (the best at N on the problems each "
        "problem's model was fitted on; most often picked, share of folds):",
        "",
        "| N | fixed strategy chosen held out | acc % | compute to match |",
        "|---|---|---|---|",
    ]
    for budget in budgets:
        if budget not in result.chosen:
            continue
        target, ratio = compare_chosen(result, budget, everything)
        boot = [compare_chosen(result, budget, rows) for rows in draws]
        picked = result.picks[budget]
        name, times = max(picked.items(), key=lambda item: item[1])
        share = times / sum(picked.values())
        accuracy_ci = _interval([b[0] for b in boot], 100)
        ratio_ci = _interval([b[1] if b[1] is not None else 0.0 for b in boot], 1, "{:.2f}")
        matched = "not reached" if ratio is None else f"{ratio:.2f}x [{ratio_ci}]"
        lines.append(
            f"| {budget} | {short(name)} ({100 * share:.0f} %) "
            f"| {100 * target:.1f} [{accuracy_ci}] | {matched} |"
        )
    return lines


def _interval(values: Sequence[float], scale: float, form: str = "{:.1f}") -> str:
    low, high = np.percentile(np.asarray(values, dtype=float) * scale, [2.5, 97.5])
    return f"{form.format(low)}, {form.format(high)}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "artifacts",
        type=Path,
        nargs="+",
        help="calibration folders; several made with the same settings are pooled",
    )
    parser.add_argument(
        "--fresh",
        type=Path,
        default=None,
        help="a calibration (same settings, other problems) whose problems are all held "
        "out, scored by models fitted on the others: the router on problems it never saw, "
        "against the fixed strategy best on its calibration and the best in hindsight",
    )
    parser.add_argument(
        "--splits", type=int, default=5, help="random partitions of the problems (default 5)"
    )
    parser.add_argument(
        "--folds",
        type=int,
        default=2,
        help="parts per partition, each held out once (default 2: halves, as ttc calibrate)",
    )
    parser.add_argument(
        "--decision-pool",
        type=Path,
        default=None,
        help="a samples shard of problems without searches that every fit also learns from "
        "(default: the first artifact's own, if it was calibrated with one)",
    )
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    args = parser.parse_args(argv)
    paths = [*args.artifacts, *([args.fresh] if args.fresh else [])]
    loaded = load_data(paths, args.decision_pool)
    prepared = loaded.prepared
    if loaded.duplicates:
        print(f"left out {loaded.duplicates} problems whose text an earlier artifact holds")
    if prepared.sampled is not None:
        count = len(np.unique(prepared.sampled.problem))
        print(f"decision pool: {count} problems with samples only join every fit")
    fresh = None
    if args.fresh is not None:
        fresh = np.flatnonzero(loaded.origin == len(args.artifacts))
        if not len(fresh):
            raise SystemExit(f"{args.fresh}: no problem with every action recorded to score")
        print(
            f"fitted on {len(prepared.pools) - len(fresh)} problems, scored on the "
            f"{len(fresh)} of {args.fresh}"
        )
    result = held_out(
        prepared,
        loaded.evaluations,
        loaded.budgets,
        loaded.reduction,
        args.splits,
        parts=args.folds,
        fresh=fresh,
    )
    if fresh is not None:
        result = result.restricted(fresh)
    print(report(result, loaded.budgets, args.bootstrap, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
