"""The text summary `ttc calibrate` prints when it finishes."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from calibration.analysis.table import BinningTable, CalibrationTable
from calibration.config import CalibrationConfig
from calibration.pipeline import CalibrationOutcome
from calibration.strategy_names import LabelNames, grid_tags, name_legend
from runtime.actions import CHECK_SUFFIX
from runtime.decision_model import SequentialModel

BINNING_LABELS = {
    "oracle": "oracle bins",
    "verifier": "verifier bins",
    "absolute": "absolute bins",
    "predicted": "predicted bins",
}


def _best_grid(table: BinningTable, budgets: tuple[int, ...], tags: Mapping[str, str]) -> list[str]:
    width = max([len(tag) for tag in tags.values()] + [4]) + 1
    lines = ["    level " + "".join(f"{'N=' + str(b):<{width}}" for b in budgets)]
    for level in table.levels:
        cells = [
            tags[table.cells[(level, b)].best] if (level, b) in table.cells else "-"
            for b in budgets
        ]
        lines.append(f"    {level:<5} " + "".join(f"{c:<{width}}" for c in cells))
    return [*lines, *(f"    ({entry})" for entry in name_legend(tags))]


def _routing_lines(table: CalibrationTable) -> list[str]:
    lines = []
    for name, binning in table.binnings.items():
        label = BINNING_LABELS.get(name, name)
        figures = "  ".join(
            f"N={b} {binning.routing.heldout[b]:.3f}/{binning.routing.in_sample[b]:.3f}"
            for b in table.budgets
        )
        lines.append(f"    {label:<15} {figures}")
    return lines


def _best_fixed(table: CalibrationTable) -> dict[int, str]:
    """The most accurate strategy over all problems at each budget."""
    return {
        budget: max(stats, key=lambda s: stats[s].accuracy)
        for budget in table.budgets
        if (stats := table.overall.get(budget, {}))
    }


def _best_fixed_lines(table: CalibrationTable, tags: Mapping[str, str]) -> list[str]:
    parts = []
    for budget, name in _best_fixed(table).items():
        cell = table.overall[budget][name]
        parts.append(
            f"N={budget} {tags[name]} {cell.accuracy:.3f} [{cell.ci_low:.3f}, {cell.ci_high:.3f}]"
        )
    return ["    " + "  ".join(parts)]


def format_summary(outcome: CalibrationOutcome) -> str:
    config = outcome.config
    lines: list[str] = list(outcome.notes)
    if outcome.analysis is None or outcome.manifest is None:
        lines.append(
            f"shard {config.shard}: sampled {outcome.sampled} problems and ran "
            f"{outcome.searched} tree searches this session"
        )
        return "\n".join(lines)
    analysis = outcome.analysis
    table = analysis.table
    manifest = outcome.manifest
    dataset = manifest.dataset
    pass1 = np.array([d.pass_at_1 for d in analysis.difficulties.values()])
    absolute = table.binnings["absolute"].sizes
    # one set of cell-sized names for the grid and the best-fixed line, with one legend
    named = {c.best for c in table.binnings["oracle"].cells.values()}
    tags = grid_tags(named | set(_best_fixed(table).values()))
    lines += [
        f"Calibration artifact written to {config.out} "
        f"(compute time {manifest.wall_time_s / 60:.1f} min)",
        f"  model {manifest.model} on {manifest.backend}{_tree_engine_note(config)}, "
        f"verifier {manifest.verifier}, prompt {manifest.prompt_config}",
        f"  problems: {dataset['num_used']} used, {dataset['skipped_without_answer']} skipped "
        f"without a reference answer; K={config.samples} samples each; sampled "
        f"{outcome.sampled} and ran {outcome.searched} tree searches this session",
        f"  pass@1: mean {pass1.mean():.3f}, quartiles "
        + " / ".join(f"{q:.2f}" for q in np.quantile(pass1, [0.25, 0.5, 0.75]))
        + f"; absolute bins [0.5,1]: {absolute.get(1, 0)}, [0.1,0.5): {absolute.get(2, 0)}, "
        f"[0,0.1): {absolute.get(3, 0)}",
        "  coverage pass@k: " + ", ".join(f"k={k} {v:.3f}" for k, v in table.coverage.items()),
        "  best strategy per oracle level (1 = easiest) and budget:",
        *_best_grid(table.binnings["oracle"], table.budgets, tags),
        "  best single strategy over all problems (95% bootstrap interval):",
        *_best_fixed_lines(table, tags),
        "  choosing the strategy by bin, accuracy held-out (two-fold CV) / in-sample:",
        *_routing_lines(table),
    ]
    metrics = table.predictor
    if metrics is not None:
        by_k = ", ".join(f"k={k} {v:.2f}" for k, v in sorted(metrics.bin_accuracy_by_k.items()))
        lines.append(
            f"  predictor ({metrics.probe_k} probes, {metrics.folds}-fold CV by problem): level "
            f"accuracy {metrics.bin_accuracy:.3f}, Spearman with pass@1 {metrics.spearman:.3f}, "
            f"off by >= 2 levels {metrics.off_by_two_or_more:.1%}; level accuracy by probe "
            f"size: {by_k}"
        )
    else:
        lines.append("  predictor: not trained (too few problems)")
    sequential = outcome.analysis.sequential if outcome.analysis is not None else None
    lines += sequential_lines(sequential)
    pool = manifest.settings.get("decision_pool")
    if sequential is not None and isinstance(pool, dict):
        lines.append(
            f"  decision pool: {pool['path']} ({pool['problems']} problems with samples "
            "only; those not calibrated here joined the decision model's fit)"
        )
    return "\n".join(lines)


def sequential_lines(model: SequentialModel | None) -> list[str]:
    """What the router's decision model expects, and what each difficulty signal is worth."""
    if model is None:
        return ["  decision model: not fitted (too few problems or samples)"]
    lines = [
        f"  decision model: rungs {', '.join(map(str, model.rungs))} samples; held-out "
        f"(two-fold) routing at price -> accuracy / generations per problem:"
    ]
    shown = [p for p in model.price_curve if p.price in (0.0, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)]
    lines.append(
        "    " + "  ".join(f"{p.price:g} -> {p.accuracy:.3f}/{p.mean_cost:.2f}" for p in shown)
    )
    lines.append(f"    auto price {model.auto_price():g}")
    if model.search_ceiling is not None:
        if model.searches_nowhere:
            where = "at any price (searching lost held out at every price)"
        else:
            where = f"from price {model.search_ceiling:g} up"
        lines.append(f"    search ceiling (chosen held out): the router does not search {where}")
    if model.capped is not None and model.capped.heldout:
        lines.append(
            "    at most N generations per problem (--budget N, held out): "
            + "  ".join(
                f"N={cap} -> {p.accuracy:.3f}/{p.mean_cost:.2f}" + _handed(model, cap)
                for cap, p in sorted(model.capped.heldout.items())
            )
        )
    if model.second_opinions:
        names = LabelNames(model.second_opinions)
        parts = [
            f"{names(key).replace(CHECK_SUFFIX, '')} {entry['plain_accuracy']:.3f} -> "
            f"{entry['accuracy']:.3f} at {entry['generations']:.2f}"
            for key, entry in model.second_opinions.items()
            if entry["accuracy"] > entry["plain_accuracy"]
        ]
        if parts:
            lines.append(
                "  second opinions (run again when the leaves disagree), calibration accuracy "
                "plain -> checked at generations per problem: " + "; ".join(parts)
            )
    if model.signals:
        parts = []
        for name, entry in model.signals.items():
            easy, hopeless = entry.get("auroc_easy"), entry.get("auroc_hopeless")
            parts.append(
                f"{name} (cost {entry.get('cost_generations')}): easy {_auroc(easy)}, "
                f"hopeless {_auroc(hopeless)}"
            )
        lines.append("  difficulty signals, AUROC (5-fold CV by problem): " + "; ".join(parts))
    return lines


def _handed(model: SequentialModel, cap: int) -> str:
    """Where ``--budget cap`` runs a published stopping rule instead of the decision
    model (``SequentialModel.rule_under_cap``), which and its calibration figure."""
    rule = model.rule_under_cap(cap)
    if rule is None:
        return ""
    point = model.baselines[rule]
    return f" (runs {rule}: {point.accuracy:.3f}/{point.mean_cost:.2f})"


def _auroc(value: object) -> str:
    return "-" if value is None else f"{float(value):.2f}"  # type: ignore[arg-type]


def _tree_engine_note(config: CalibrationConfig) -> str:
    engine = config.tree_engine_settings()["tree_backend"]
    return f" (tree searches on {engine})" if config.separate_tree_engine else ""
