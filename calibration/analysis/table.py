"""The calibration table: typed records and their JSON form (``table.json``).

Read by the router (per-bin accuracy curves and costs, to choose strategy and budget)
and by the curves command. JSON object keys must be strings, so levels and budgets are
stored inside list entries rather than as keys; ``from_json`` rebuilds the typed form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TABLE_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class CostSummary:
    """Mean cost of one run of a strategy (per problem and seed)."""

    generations: float
    generated_tokens: float
    verifier_tokens: float
    flops: float

    def to_json(self) -> dict[str, float]:
        return {
            "generations": self.generations,
            "generated_tokens": self.generated_tokens,
            "verifier_tokens": self.verifier_tokens,
            "flops": self.flops,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CostSummary:
        return cls(
            generations=float(data["generations"]),
            generated_tokens=float(data["generated_tokens"]),
            verifier_tokens=float(data["verifier_tokens"]),
            flops=float(data["flops"]),
        )


@dataclass(frozen=True)
class StrategyStats:
    """A strategy's accuracy in one cell with its 95% bootstrap interval and mean cost."""

    accuracy: float
    ci_low: float
    ci_high: float
    cost: CostSummary
    num_problems: int
    num_runs: int

    def to_json(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "cost": self.cost.to_json(),
            "num_problems": self.num_problems,
            "num_runs": self.num_runs,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StrategyStats:
        return cls(
            accuracy=float(data["accuracy"]),
            ci_low=float(data["ci_low"]),
            ci_high=float(data["ci_high"]),
            cost=CostSummary.from_json(data["cost"]),
            num_problems=int(data["num_problems"]),
            num_runs=int(data["num_runs"]),
        )


@dataclass(frozen=True)
class BudgetCell:
    """All strategies at one (difficulty level, budget); ``best`` breaks ties by cost."""

    level: int
    budget: int
    strategies: dict[str, StrategyStats]
    best: str

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "budget": self.budget,
            "best": self.best,
            "strategies": {name: stats.to_json() for name, stats in self.strategies.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BudgetCell:
        return cls(
            level=int(data["level"]),
            budget=int(data["budget"]),
            best=str(data["best"]),
            strategies={k: StrategyStats.from_json(v) for k, v in data["strategies"].items()},
        )


@dataclass(frozen=True)
class RoutingFigures:
    """Accuracy of choosing the strategy by bin, per budget, over all problems.

    ``heldout`` is the two-fold cross-validated figure (choose on one half of each bin,
    measure on the other, averaged over ``repeats`` random splits): the one to report.
    ``in_sample`` chooses and measures on the same problems, so it is optimistic;
    it is kept alongside only to show the gap.
    """

    heldout: dict[int, float]
    in_sample: dict[int, float]
    heldout_by_level: dict[int, dict[int, float]]
    repeats: int

    def to_json(self) -> dict[str, Any]:
        return {
            "repeats": self.repeats,
            "by_budget": [
                {
                    "budget": budget,
                    "heldout": self.heldout[budget],
                    "in_sample": self.in_sample[budget],
                    "heldout_by_level": [
                        {"level": level, "heldout": by_budget[budget]}
                        for level, by_budget in sorted(self.heldout_by_level.items())
                        if budget in by_budget
                    ],
                }
                for budget in sorted(self.heldout)
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RoutingFigures:
        heldout: dict[int, float] = {}
        in_sample: dict[int, float] = {}
        by_level: dict[int, dict[int, float]] = {}
        for entry in data["by_budget"]:
            budget = int(entry["budget"])
            heldout[budget] = float(entry["heldout"])
            in_sample[budget] = float(entry["in_sample"])
            for item in entry["heldout_by_level"]:
                by_level.setdefault(int(item["level"]), {})[budget] = float(item["heldout"])
        return cls(heldout, in_sample, by_level, int(data["repeats"]))


@dataclass(frozen=True)
class BinningTable:
    """The table for one way of binning problems by difficulty."""

    name: str
    measure: str
    levels: tuple[int, ...]
    sizes: dict[int, int]
    value_ranges: dict[int, tuple[float, float]]
    cells: dict[tuple[int, int], BudgetCell]
    routing: RoutingFigures

    def cell(self, level: int, budget: int) -> BudgetCell:
        try:
            return self.cells[(level, budget)]
        except KeyError:
            raise KeyError(
                f"binning {self.name!r} has no cell for level {level} at budget {budget}"
            ) from None

    def best(self, level: int, budget: int) -> str:
        return self.cell(level, budget).best

    def accuracy(self, level: int, budget: int, strategy: str) -> float | None:
        cell = self.cells.get((level, budget))
        stats = None if cell is None else cell.strategies.get(strategy)
        return None if stats is None else stats.accuracy

    def expected_accuracy(
        self, distribution: Mapping[int, float], budget: int, strategy: str
    ) -> float | None:
        """Accuracy of ``strategy`` at ``budget`` under a distribution over levels.

        None when the strategy was not run at that budget in a level with weight > 0.
        """
        total = 0.0
        for level, weight in distribution.items():
            if weight <= 0:
                continue
            accuracy = self.accuracy(level, budget, strategy)
            if accuracy is None:
                return None
            total += weight * accuracy
        return total

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "measure": self.measure,
            "levels": [
                {
                    "level": level,
                    "size": self.sizes.get(level, 0),
                    "value_range": list(self.value_ranges[level])
                    if level in self.value_ranges
                    else None,
                }
                for level in self.levels
            ],
            "cells": [self.cells[key].to_json() for key in sorted(self.cells)],
            "routing": self.routing.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BinningTable:
        levels = tuple(int(item["level"]) for item in data["levels"])
        sizes = {int(item["level"]): int(item["size"]) for item in data["levels"]}
        ranges = {
            int(item["level"]): (float(item["value_range"][0]), float(item["value_range"][1]))
            for item in data["levels"]
            if item.get("value_range") is not None
        }
        cells = {}
        for item in data["cells"]:
            cell = BudgetCell.from_json(item)
            cells[(cell.level, cell.budget)] = cell
        return cls(
            name=str(data["name"]),
            measure=str(data["measure"]),
            levels=levels,
            sizes=sizes,
            value_ranges=ranges,
            cells=cells,
            routing=RoutingFigures.from_json(data["routing"]),
        )


@dataclass(frozen=True)
class PredictorMetrics:
    """Cross-validated quality of the difficulty predictor (grouped by problem)."""

    probe_k: int
    bin_accuracy: float
    spearman: float
    off_by_two_or_more: float
    pass1_mae: float
    num_problems: int
    folds: int
    bin_accuracy_by_k: dict[int, float] = field(default_factory=dict)
    confusion: list[list[int]] = field(default_factory=list)
    absolute_bin_accuracy: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "probe_k": self.probe_k,
            "bin_accuracy": self.bin_accuracy,
            "spearman": self.spearman,
            "off_by_two_or_more": self.off_by_two_or_more,
            "pass1_mae": self.pass1_mae,
            "num_problems": self.num_problems,
            "folds": self.folds,
            "bin_accuracy_by_k": [
                {"k": k, "bin_accuracy": v} for k, v in sorted(self.bin_accuracy_by_k.items())
            ],
            "confusion": self.confusion,
            "absolute_bin_accuracy": self.absolute_bin_accuracy,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PredictorMetrics:
        return cls(
            probe_k=int(data["probe_k"]),
            bin_accuracy=float(data["bin_accuracy"]),
            spearman=float(data["spearman"]),
            off_by_two_or_more=float(data["off_by_two_or_more"]),
            pass1_mae=float(data["pass1_mae"]),
            num_problems=int(data["num_problems"]),
            folds=int(data["folds"]),
            bin_accuracy_by_k={
                int(item["k"]): float(item["bin_accuracy"])
                for item in data.get("bin_accuracy_by_k", [])
            },
            confusion=[[int(x) for x in row] for row in data.get("confusion", [])],
            absolute_bin_accuracy=None
            if data.get("absolute_bin_accuracy") is None
            else float(data["absolute_bin_accuracy"]),
        )


@dataclass(frozen=True)
class CalibrationTable:
    """Everything ``table.json`` holds.

    ``binnings`` maps "oracle", "verifier", "absolute" and (when a predictor was
    trained) "predicted" to their tables; ``overall`` has every strategy over all
    problems per budget; ``coverage`` is pass@k (unbiased estimator) averaged over
    problems.
    """

    schema_version: int
    budgets: tuple[int, ...]
    strategies: tuple[str, ...]
    seeds: int
    num_problems: int
    binnings: dict[str, BinningTable]
    overall: dict[int, dict[str, StrategyStats]]
    coverage: dict[int, float]
    predictor: PredictorMetrics | None

    def binning(self, name: str) -> BinningTable:
        try:
            return self.binnings[name]
        except KeyError:
            known = ", ".join(sorted(self.binnings))
            raise KeyError(f"the table has no binning {name!r}; it has: {known}") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "budgets": list(self.budgets),
            "strategies": list(self.strategies),
            "seeds": self.seeds,
            "num_problems": self.num_problems,
            "binnings": {name: table.to_json() for name, table in self.binnings.items()},
            "overall": [
                {
                    "budget": budget,
                    "strategies": {name: s.to_json() for name, s in by_strategy.items()},
                }
                for budget, by_strategy in sorted(self.overall.items())
            ],
            "coverage": [{"k": k, "pass_at_k": v} for k, v in sorted(self.coverage.items())],
            "predictor": None if self.predictor is None else self.predictor.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CalibrationTable:
        return cls(
            schema_version=int(data["schema_version"]),
            budgets=tuple(int(b) for b in data["budgets"]),
            strategies=tuple(str(s) for s in data["strategies"]),
            seeds=int(data["seeds"]),
            num_problems=int(data["num_problems"]),
            binnings={k: BinningTable.from_json(v) for k, v in data["binnings"].items()},
            overall={
                int(item["budget"]): {
                    k: StrategyStats.from_json(v) for k, v in item["strategies"].items()
                }
                for item in data["overall"]
            },
            coverage={int(item["k"]): float(item["pass_at_k"]) for item in data["coverage"]},
            predictor=None
            if data.get("predictor") is None
            else PredictorMetrics.from_json(data["predictor"]),
        )
