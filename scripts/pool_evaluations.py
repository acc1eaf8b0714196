"""Several `ttc evaluate` draws of the same problems, pooled: compute to match the best
fixed strategy with far less noise than one draw gives.

Why: one evaluation is one random draw of every sample and search, and "the best fixed
strategy at N" is the best of up to seven strategies on that draw, so its accuracy is
biased up by luck and the router's ratio at N=16 swings by +-0.3x between draws of the
same 300 problems (1.72x, 1.11x and 1.15x on the simulator's 7 -> 8 pair). Averaged over
draws (``ttc evaluate ... --seed 0``, ``--seed 1``, ...: the same problems, fresh samples
and searches), every fixed strategy's accuracy and every point of the router's
``total:B`` sweep (the same per-problem budgets in every draw) is a mean over
draws x problems; the best fixed strategy is picked on those means and the ratio
computed as `ttc evaluate` computes it.

    python -m scripts.pool_evaluations runs/eval-seed0.json runs/eval-seed1.json ...
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from calibration.store.evaluation_records import MethodSummary, SweepPoint
from router.evaluation.harness import compute_to_match
from router.evaluation.oracle import expected_oracle_compute
from router.execution import reuses_samples
from runtime.actions import ActionKey


class PoolingError(ValueError):
    """Reports that cannot be pooled (other problems, calibration or sweep grid)."""


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def pool_fixed(reports: Sequence[Mapping[str, Any]]) -> list[MethodSummary]:
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for report in reports:
        for method in report["fixed"]:
            by_name.setdefault(method["name"], []).append(method)
    pooled = []
    for name, runs in by_name.items():
        if len(runs) != len(reports):
            raise PoolingError(f"{name} is missing from some reports")
        first = runs[0]
        pooled.append(
            MethodSummary(
                name=name,
                kind=first["kind"],
                accuracy=_mean([r["accuracy"] for r in runs]),
                ci_low=min(r["ci_low"] for r in runs),
                ci_high=max(r["ci_high"] for r in runs),
                mean_generations=_mean([r["mean_generations"] for r in runs]),
                mean_flops=_mean([r["mean_flops"] for r in runs]),
                mean_tokens=_mean([r["mean_tokens"] for r in runs]),
                strategy=first.get("strategy"),
                budget=first.get("budget"),
            )
        )
    return pooled


def pool_sweep(reports: Sequence[Mapping[str, Any]]) -> list[SweepPoint]:
    grids = {tuple(round(p["per_problem_budget"], 9) for p in r["sweep"]) for r in reports}
    if len(grids) != 1:
        raise PoolingError("the reports swept different budgets (another calibration?)")
    points = []
    for index, budget in enumerate(next(iter(grids))):
        at = [r["sweep"][index] for r in reports]
        points.append(
            SweepPoint(
                budget,
                _mean([p["accuracy"] for p in at]),
                _mean([p["mean_generations"] for p in at]),
                _mean([p["mean_flops"] for p in at]),
            )
        )
    return points


def expected_outcomes(
    reports: Sequence[Mapping[str, Any]],
) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """Fixed run names, and per (problem, run) the mean accuracy and generations over the
    draws: each problem's expected outcome of each action. None when a report predates
    the per-problem outcomes or the reports disagree on the problems or runs."""
    if any(not r.get("fixed_correct") for r in reports):
        return None
    ids = {tuple(r.get("problem_ids", ())) for r in reports}
    names = {tuple(sorted(r["fixed_correct"])) for r in reports}
    if len(ids) != 1 or len(names) != 1:
        return None
    order = list(next(iter(names)))
    correct = np.mean([[r["fixed_correct"][n] for n in order] for r in reports], axis=0).T
    spent = np.mean([[r["fixed_generations"][n] for n in order] for r in reports], axis=0).T
    return order, correct, spent


def expected_oracle(
    outcomes: tuple[list[str], np.ndarray, np.ndarray], budget: int, target: float
) -> float | None:
    """The expected oracle's generations per problem to reach ``target`` with the fixed
    runs up to ``budget`` (``router.evaluation.oracle.expected_oracle_compute``)."""
    names, correct, spent = outcomes
    columns = [i for i, n in enumerate(names) if ActionKey.parse(n).budget <= budget]
    if not columns:
        return None
    return expected_oracle_compute(correct[:, columns], spent[:, columns], target)


def check_poolable(reports: Sequence[Mapping[str, Any]], paths: Sequence[Path]) -> None:
    for key in ("problems", "calibration", "num_problems"):
        values = {str(r[key]) for r in reports}
        if len(values) > 1:
            raise PoolingError(
                f"the reports differ in {key}: {sorted(values)} ({len(paths)} files)"
            )
    seeds = [r["seed"] for r in reports]
    if len(set(seeds)) != len(seeds):
        raise PoolingError(f"two reports share a seed ({seeds}): the same draw twice")


def format_pooled(reports: Sequence[Mapping[str, Any]]) -> str:
    fixed = pool_fixed(reports)
    sweep = pool_sweep(reports)
    pooled = compute_to_match(fixed, sweep)
    sampling = compute_to_match(
        [m for m in fixed if m.strategy is not None and reuses_samples(m.strategy)], sweep
    )
    seeds = ", ".join(str(r["seed"]) for r in reports)
    outcomes = expected_outcomes(reports)
    lines = [
        f"{len(reports)} draws (seeds {seeds}) of {reports[0]['problems']}, "
        f"calibration {reports[0]['calibration']}",
        "  N     best fixed (pooled)      target  router gens  saving   per draw"
        + ("   expected oracle  gap closed" if outcomes else ""),
    ]
    for index, match in enumerate(pooled):
        per_draw = []
        for report in reports:
            ratio = report["to_match"][index]["ratio"]
            per_draw.append("-" if ratio is None else f"{ratio:.2f}x")
        needed = (
            "not reached" if match.router_generations is None else f"{match.router_generations:.2f}"
        )
        saving = "-" if match.ratio is None else f"{match.ratio:.2f}x"
        limit = ""
        if outcomes:
            oracle = expected_oracle(outcomes, match.budget, match.target_accuracy)
            limit = "   " + _limit_text(match, oracle)
        lines.append(
            f"  {match.budget:<4}  {match.fixed:<23}  {100 * match.target_accuracy:5.1f}%  "
            f"{needed:>11}  {saving:>6}   {' / '.join(per_draw)}{limit}"
        )
    top = max(pooled, key=lambda m: m.budget)
    top_sampling = max(sampling, key=lambda m: m.budget) if sampling else None
    if top_sampling is not None and top_sampling.ratio is not None:
        lines.append(
            f"  against the best sampling strategy at N={top_sampling.budget} "
            f"({top_sampling.fixed}): {top_sampling.ratio:.2f}x"
        )
    if top.ratio is not None:
        lines.append(f"Pooled headline at N={top.budget}: {top.ratio:.2f}x less compute.")
    return "\n".join(lines)


def gap_closed(fixed: float, oracle: float | None, router: float | None) -> float | None:
    """The router's share of the compute gap between the fixed strategy and the oracle."""
    if oracle is None or router is None or fixed <= oracle:
        return None
    return (fixed - router) / (fixed - oracle)


def _limit_text(match: Any, oracle: float | None) -> str:
    if oracle is None:
        return f"{'-':>15}  {'-':>10}"
    ratio = match.fixed_generations / oracle if oracle > 0 else float("inf")
    gap = gap_closed(match.fixed_generations, oracle, match.router_generations)
    gap_text = "-" if gap is None else f"{100 * gap:.0f}%"
    return f"{oracle:6.2f} ({ratio:5.2f}x)  {gap_text:>10}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path, help="`ttc evaluate` JSON reports")
    args = parser.parse_args(argv)
    reports = []
    for path in args.reports:
        try:
            reports.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            parser.error(f"{path}: not a readable `ttc evaluate` report ({exc})")
    try:
        check_poolable(reports, args.reports)
        print(format_pooled(reports))
    except (PoolingError, KeyError) as exc:
        parser.error(f"cannot pool these reports: {exc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
