"""The calibration stage that fits the router's decision model, and what it reports.

Runs on finished shards like the other analysis stages (no model, no verifier). Besides
the model it measures what each difficulty signal is worth against its cost: AUROC for
"pass@1 >= 0.5" (easy) and "pass@1 = 0" (hopeless), five-fold cross-validated by
problem, from the prompt alone (free) and from the first 1, 2 and 4 samples.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from calibration.sequential.baselines import replay_rules
from calibration.sequential.decision_pool import DecisionPool
from calibration.sequential.fit import (
    capped_fold_models,
    choose_switch_margin,
    fit_cap_thresholds,
    fit_capped_continuations,
    fit_folds,
    fit_model,
    heldout_capped,
    heldout_price_curve,
)
from calibration.sequential.regression import fit_logistic
from calibration.sequential.rule_choice import choose_answer_rules
from calibration.sequential.search_ceiling import choose_search_ceiling
from calibration.sequential.trajectories import (
    TrainingPool,
    Trajectories,
    build_trajectories,
    order_permutations,
    second_opinions,
    training_pools,
    tree_accuracies,
)
from calibration.store.records import ProblemSamples, TreeRecord
from runtime.actions import ActionKey, action_key
from runtime.decision_model import SequentialModel
from runtime.states import rung_ladder

# Random orders of each problem's pool replayed as separate trajectories (the problems
# stay the evidence: ``fit.repeats`` scales the regularisation with the orders). 48
# instead of 16 moved the held-out ratios on real pools and the simulator by +-0.2x in
# both directions (Router v3's note): within the noise of the evaluations, at 3x the cost.
ORDERS = 16
# A per-problem cap (``--budget N``) routes at price 0: it spends up to N wherever more
# compute is still worth anything, and stops early only where it is not (a unanimous
# vote, a search already sure). Priced higher it would save compute by giving up
# accuracy the cap paid for, and fall below the plain fixed strategy at N.
CAP_PRICE = 0.0
MIN_PROBLEMS = 10
SIGNAL_RUNGS = (0, 1, 2, 4)


@dataclass(frozen=True)
class SequentialData:
    """What the decision model is fitted on: the problems with every action recorded,
    the rung ladder, and the replayed trajectories (also read by
    ``scripts/heldout_sequential.py`` to put intervals on the held-out figures)."""

    pools: list[TrainingPool]
    rungs: tuple[int, ...]
    data: Trajectories
    # the decision pool: problems with samples only, which join the fit (``fit.with_sampled``)
    sampled: Trajectories | None = None


def sequential_data(
    texts: Mapping[str, str],
    samples: Mapping[str, ProblemSamples],
    evaluations: pd.DataFrame,
    *,
    budgets: Sequence[int],
    tree_strategies: Sequence[str],
    reduction: str,
    delimiter: str,
    seed: int,
    tree_records: Sequence[TreeRecord] = (),
    pool: DecisionPool | None = None,
) -> SequentialData | None:
    """None when there are too few problems (or samples) to fit anything. With the tree
    records (three seeds per search, leaves' agreement recorded), each search is offered
    a second time as ``strategy+check@B``: run again when unsure. ``pool``: a decision
    pool (``calibration.sequential.decision_pool``), problems with graded samples but no
    searches; those with at least the top rung's samples join the fit, and the answer
    rules are chosen on them too."""
    searched = evaluations[evaluations["strategy"].isin(list(tree_strategies))]
    pairs = zip(searched["strategy"], searched["budget"], strict=True)
    tree_keys = sorted({action_key(s, int(b)) for s, b in pairs})
    accuracies = tree_accuracies(searched, tree_keys)
    checked, costs = second_opinions(tree_records, tree_keys)
    for pid, per in checked.items():
        if pid in accuracies:
            accuracies[pid] = {**accuracies[pid], **per}
    keys = sorted({k for per in accuracies.values() for k in per})
    pools = [
        p for p in training_pools(texts, samples, accuracies, delimiter, costs) if p.candidates
    ]
    if len(pools) < MIN_PROBLEMS:
        return None
    pool_size = min(len(p.candidates) for p in pools)
    rungs = rung_ladder(budgets, pool_size)
    # only problems with every tree search recorded: a missing one would read as wrong
    pools = [p for p in pools if all(k in p.tree_accuracy for k in keys)]
    if len(pools) < MIN_PROBLEMS or len(rungs) < 2:
        return None
    # a pool problem that is also a calibration problem would be fitted twice, and held
    # out against itself
    known = {p.problem_id for p in pools} | {p.text.strip() for p in pools}
    extra = [
        p
        for p in (training_pools(pool.texts, pool.samples, {}, delimiter) if pool else [])
        if len(p.candidates) >= rungs[-1] and not {p.problem_id, p.text.strip()} & known
    ]
    everything = pools + extra
    rules = choose_answer_rules(everything, rungs, order_permutations(everything, ORDERS, seed))
    data = build_trajectories(
        pools, rungs, keys, orders=ORDERS, reduction=reduction, seed=seed, rules=rules
    )
    sampled = None
    if extra:
        sampled = build_trajectories(
            extra, rungs, [], orders=ORDERS, reduction=reduction, seed=seed, rules=rules
        )
    return SequentialData(pools, tuple(rungs), data, sampled)


def build_sequential_model(
    prepared: SequentialData,
    samples: Mapping[str, ProblemSamples],
    evaluations: pd.DataFrame,
    *,
    budgets: Sequence[int],
    reduction: str,
    seed: int,
    progress: Callable[[int], object] = lambda n: None,
) -> SequentialModel:
    """The decision model fitted on ``sequential_data``'s output, with its held-out
    report (``samples`` and ``evaluations`` give the FLOPs the model prices)."""
    pools, rungs, data = prepared.pools, prepared.rungs, prepared.data
    progress(1)
    sampled = prepared.sampled
    folds = fit_folds(data, reduction=reduction, seed=seed, sampled=sampled)
    margin, folds = choose_switch_margin(data, folds)
    ceiling, folds = choose_search_ceiling(data, folds)
    model = fit_model(
        data,
        reduction=reduction,
        sample_flops=_sample_flops(samples),
        tree_flops=_tree_flops(evaluations, sorted(data.trees)),
        switch_margin=margin,
        search_ceiling=ceiling,
        sampled=sampled,
    )
    curve = heldout_price_curve(data, reduction=reduction, seed=seed, folds=folds)
    pass_at_1 = np.array([p.correct.mean() for p in pools])
    signals = signal_report(data, pass_at_1)
    model = replace(
        model,
        price_curve=tuple(curve),
        signals=signals,
        second_opinions=second_opinion_report(data),
        rung_accuracy={
            rung: round(float(data.stop[r].mean()), 6) for r, rung in enumerate(data.rungs) if rung
        },
        baselines=replay_rules(
            pools,
            [r for r in rungs if r in set(budgets)],
            scored=model.scored,
            reduction=reduction,
            orders=ORDERS,
            seed=seed,
        ),
    )
    price = CAP_PRICE
    fitted = capped_fold_models(folds, budgets, price)
    thresholds = fit_cap_thresholds(data, folds, budgets, price, fitted)
    capped = replace(
        fit_capped_continuations(model, data, budgets, price, sampled),
        heldout=heldout_capped(data, folds, budgets, price, thresholds, fitted),
        thresholds=thresholds,
    )
    progress(1)
    return replace(model, capped=capped)


def second_opinion_report(data: Trajectories) -> dict[str, dict[str, float]]:
    """Each checked search against its plain twin, over the calibration problems."""
    report = {}
    for key in sorted(data.trees):
        action = ActionKey.parse(key)
        plain = str(action.plain())
        if action.checked and plain in data.trees:
            report[key] = {
                "accuracy": round(float(data.trees[key].mean()), 4),
                "generations": round(float(data.cost_of(key).mean()), 3),
                "plain_accuracy": round(float(data.trees[plain].mean()), 4),
            }
    return report


def _sample_flops(samples: Mapping[str, ProblemSamples]) -> float:
    flops = sum(s.cost.total_flops for s in samples.values())
    count = sum(len(s.samples) for s in samples.values())
    return flops / count if count else 0.0


def _tree_flops(evaluations: pd.DataFrame, keys: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    if evaluations.empty:
        return out
    means = evaluations.groupby(["strategy", "budget"])["flops"].mean().reset_index()
    for strategy, budget, value in means.itertuples(index=False):
        key = action_key(strategy, int(budget))
        if key in keys:
            out[key] = float(value)
    return out


def signal_report(data: Trajectories, pass_at_1: np.ndarray) -> dict[str, Any]:
    """AUROC of each signal for easy (pass@1 >= 0.5) and hopeless (pass@1 = 0) problems."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold

    owners = data.problem
    report: dict[str, Any] = {}
    for rung in SIGNAL_RUNGS:
        if rung not in data.rungs:
            continue
        rows = data.features[data.rungs.index(rung)]
        entry: dict[str, Any] = {"cost_generations": rung}
        for name, target in (("easy", pass_at_1 >= 0.5), ("hopeless", pass_at_1 == 0)):
            labels = target[owners]
            if labels.all() or not labels.any():
                entry[f"auroc_{name}"] = None
                continue
            folds = min(5, len(np.unique(owners)))
            predicted = np.zeros(len(labels))
            for train, test in GroupKFold(n_splits=folds).split(rows, labels, owners):
                model = fit_logistic(rows[train], labels[train].astype(float))
                predicted[test] = model.predict(rows[test])
            entry[f"auroc_{name}"] = round(float(roc_auc_score(labels, predicted)), 3)
        report["prompt" if rung == 0 else f"{rung} sample{'s' if rung > 1 else ''}"] = entry
    return report
