"""`ttc evaluate`: the router against every fixed strategy on held-out problems.

What it measures, all on the same problems with references:

1. **Fixed strategies**: every (strategy, N) of the calibration table, run for real
   (``router.evaluation.fixed_runs``), with accuracy and mean compute per problem.
2. **Router policies** (``auto``, each fixed ``N``, the published stopping rules, any
   others asked for), every generation in their cost. The engines are wrapped in
   recorders (``router.recording``), so a request that several policies (or the fixed
   runs) make is generated once.
3. **Matched compute**: at each budget N, the best fixed strategy against the router
   under ``total:B`` with B = the fixed strategy's total compute, once in generations
   and once in FLOPs (``--cost-unit flops``), with a paired bootstrap interval of the
   accuracy difference.
4. **Compute to match**: the router's accuracy under ``total:B`` over a grid of
   per-problem budgets from one generation up to the largest budget;
   for each N, the compute at which the router first reaches the best fixed strategy's
   accuracy (linear between grid points), and the ratio (the paper's "4x fewer
   generations"); once against the best of all fixed strategies, once against the best
   sampling strategy (majority, best-of-N: the paper's baseline). Generations count
   full-solution equivalents, every round included (``router.records.Compute``).
5. **The limit**: a per-problem oracle that gives each problem the cheapest fixed run
   that solved it (and nothing to those none solved), and the compute it needs to
   match the best fixed strategy; the router's share of the gap between the two.

Intervals are 95% percentile intervals of a paired bootstrap over problems.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from calibration.store.evaluation_records import (
    ComputeToMatch,
    EvaluationReport,
    MatchedComparison,
    MethodSummary,
    SweepPoint,
    best_of,
)
from router.evaluation.bootstrap import PairedBootstrap
from router.evaluation.fixed_runs import FixedRun, RunScores, fixed_run_steps, run_fixed_strategies
from router.evaluation.oracle import oracle_limits
from router.execution import reuses_samples
from router.policies import BudgetPolicy, TotalPolicy, parse_policy
from router.problem_source import calibration_overlap
from router.recording import CallLog, RecordingGenerator, RecordingVerifier
from router.records import AnswerRecord
from router.solver import Router
from strategies.problems import Problem

SWEEP_STEP = 2**0.25


def summarize_scores(
    name: str, kind: str, scores: RunScores, bootstrap: PairedBootstrap, **extra: Any
) -> MethodSummary:
    low, high = bootstrap.interval(scores.correct)
    return MethodSummary(
        name=name,
        kind=kind,
        accuracy=float(scores.correct.mean()),
        ci_low=low,
        ci_high=high,
        mean_generations=float(scores.generations.mean()),
        mean_flops=float(scores.flops.mean()),
        mean_tokens=float(scores.tokens.mean()),
        **extra,
    )


def record_scores(records: Sequence[AnswerRecord], problems: Sequence[Problem]) -> RunScores:
    """Per-problem scores of router records, in problem order (failed = wrong)."""
    by_id = {r.id: r for r in records}
    ordered = [by_id[p.id] for p in problems]
    return RunScores(
        correct=np.array([1.0 if r.correct else 0.0 for r in ordered]),
        generations=np.array([r.compute.generations for r in ordered]),
        flops=np.array([r.compute.flops for r in ordered]),
        tokens=np.array([float(r.compute.tokens) for r in ordered]),
    )


class Evaluation:
    """Holds the recorders and the fixed baselines while policies are compared; ``run``
    does everything in the module doc's order."""

    def __init__(
        self,
        router: Router,
        problems: Sequence[Problem],
        *,
        resamples: int = 1000,
        budgets: Sequence[int] | None = None,
        progress: Callable[[str], object] = lambda message: None,
    ) -> None:
        if not problems:
            raise ValueError("no problems to evaluate")
        missing = [p.id for p in problems if p.answer is None]
        if missing:
            raise ValueError(
                f"`ttc evaluate` needs reference answers; {len(missing)} problems have none "
                f"(e.g. {', '.join(missing[:3])})"
            )
        unknown = sorted(set(budgets or ()) - set(router.artifact.table.budgets))
        if unknown:
            raise ValueError(
                f"budgets {unknown} are not in the calibration (it has "
                f"{list(router.artifact.table.budgets)})"
            )
        memory = CallLog(None)
        router.context = replace(
            router.context,
            generator=RecordingGenerator(router.context.generator, memory),
            verifier=RecordingVerifier(router.context.verifier, memory),
        )
        self.router = router
        self.budgets = None if budgets is None else sorted(set(budgets))
        self.problems = list(problems)
        self.bootstrap = PairedBootstrap(len(problems), resamples, router.context.seed)
        self.progress = progress
        self._fixed_runs: list[FixedRun] = []
        self._fixed_correct: dict[str, np.ndarray] = {}

    def fixed(self) -> list[MethodSummary]:
        table = self.router.artifact.table
        total = fixed_run_steps(table, self.budgets)
        self.progress(f"running every fixed strategy at every budget ({total} runs)")
        started = time.perf_counter()
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            elapsed = time.perf_counter() - started
            self.progress(f"fixed runs: {done} of {total} done, {elapsed / 60:.1f} min")

        runs: list[FixedRun] = run_fixed_strategies(
            table, self.problems, self.router.context, self.budgets, advance=advance
        )
        self._fixed_runs = runs
        summaries = []
        for run in runs:
            name = run.key
            self._fixed_correct[name] = run.scores.correct
            summaries.append(
                summarize_scores(
                    name,
                    "fixed",
                    run.scores,
                    self.bootstrap,
                    strategy=run.strategy,
                    budget=run.budget,
                )
            )
        return summaries

    def route(
        self, policy: BudgetPolicy, cost_unit: str | None = None
    ) -> tuple[MethodSummary, RunScores]:
        """The router under ``policy``, counting cost in ``cost_unit`` (default: the
        router's own, i.e. ``--cost-unit``)."""
        cost_unit = cost_unit or self.router.cost_unit
        saved = self.router.cost_unit
        self.router.cost_unit = cost_unit
        try:
            records = list(self.router.solve(self.problems, policy))
        finally:
            self.router.cost_unit = saved
        scores = record_scores(records, self.problems)
        mix = Counter(r.choice for r in records if r.choice is not None)
        name = f"router {policy}" + (" (FLOPs)" if cost_unit == "flops" else "")
        summary = summarize_scores(
            name,
            "router",
            scores,
            self.bootstrap,
            policy=str(policy),
            cost_unit=cost_unit,
            failed=sum(not r.finished for r in records),
            mix=dict(mix.most_common()),
        )
        return summary, scores

    def matched(self, fixed: Sequence[MethodSummary]) -> list[MatchedComparison]:
        """Needs ``fixed()`` to have run (it keeps the per-problem grades to pair with).
        Without recorded FLOPs (a pool replay) there is no FLOPs comparison: every action
        would cost nothing, and the "matched" router would sample without limit."""
        out = []
        n = len(self.problems)
        for budget in sorted({m.budget for m in fixed if m.budget is not None}):
            best = best_of([m for m in fixed if m.budget == budget])
            best_correct = self._fixed_correct[best.name]
            by_gen, gen_scores = self.route(
                TotalPolicy(max(best.mean_generations * n, n)), "generations"
            )
            by_flops, flops_difference = None, None
            if best.mean_flops > 0 and self.router.model.sample_flops > 0:
                by_flops, flops_scores = self.route(
                    TotalPolicy(max(best.mean_flops * n, n * self.router.model.sample_flops)),
                    "flops",
                )
                flops_difference = self._difference(flops_scores.correct, best_correct)
            out.append(
                MatchedComparison(
                    budget=budget,
                    fixed=best,
                    by_generations=by_gen,
                    by_generations_difference=self._difference(gen_scores.correct, best_correct),
                    by_flops=by_flops,
                    by_flops_difference=flops_difference,
                )
            )
        return out

    def _difference(self, a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
        low, high = self.bootstrap.difference(a, b)
        return float(a.mean() - b.mean()), low, high

    def sweep(self) -> list[SweepPoint]:
        """The router under ``total:B`` from one generation per problem to the largest
        budget (a little past it: the router may beat the fixed strategies there)."""
        top = max(self.router.artifact.table.budgets) * 1.25
        grid = [1.0]
        while grid[-1] * SWEEP_STEP < top:
            grid.append(grid[-1] * SWEEP_STEP)
        grid.append(float(top))
        points = []
        for budget in grid:
            policy = TotalPolicy(budget * len(self.problems))
            summary, _ = self.route(policy, "generations")
            points.append(
                SweepPoint(budget, summary.accuracy, summary.mean_generations, summary.mean_flops)
            )
        return points

    def run(self, policies: Sequence[str], problems_label: str = "") -> EvaluationReport:
        """Fixed baselines, each policy, matched compute, the sweep; see the module doc."""
        started = time.perf_counter()
        parsed = [parse_policy(p) for p in policies]  # fail before any compute is spent
        for policy in parsed:
            self.router.check(policy, len(self.problems))
        fixed = self.fixed()
        self.progress("routing under each policy")
        router = [self.route(policy)[0] for policy in parsed]
        self.progress("routing at the fixed strategies' compute")
        matched = self.matched(fixed)
        self.progress("sweeping the router's total budget")
        sweep = self.sweep()
        to_match = compute_to_match(fixed, sweep)
        return EvaluationReport(
            overlap_with_calibration=calibration_overlap(
                self.router.artifact.manifest.dataset, self.problems
            ),
            problems=problems_label,
            num_problems=len(self.problems),
            calibration=str(self.router.artifact.path),
            model=self.router.settings.model,
            verifier=self.router.settings.verifier,
            probe_k=self.router.first_rung,
            seed=self.router.context.seed,
            resamples=len(self.bootstrap.indices),
            fixed=fixed,
            router=router,
            matched=matched,
            sweep=sweep,
            to_match=to_match,
            to_match_sampling=compute_to_match(
                [m for m in fixed if m.strategy is not None and reuses_samples(m.strategy)], sweep
            ),
            oracle=oracle_limits(self._fixed_runs, fixed, to_match),
            wall_time_s=time.perf_counter() - started,
            problem_ids=[p.id for p in self.problems],
            fixed_correct={r.key: r.scores.correct.tolist() for r in self._fixed_runs},
            fixed_generations={r.key: r.scores.generations.tolist() for r in self._fixed_runs},
        )


def compute_to_match(
    fixed: Sequence[MethodSummary], sweep: Sequence[SweepPoint]
) -> list[ComputeToMatch]:
    out = []
    for budget in sorted({m.budget for m in fixed if m.budget is not None}):
        best = best_of([m for m in fixed if m.budget == budget])
        needed, at_least = first_reaching(sweep, best.accuracy)
        out.append(
            ComputeToMatch(
                budget=budget,
                fixed=best.name,
                target_accuracy=best.accuracy,
                fixed_generations=best.mean_generations,
                router_generations=needed,
                ratio=None if needed is None or needed <= 0 else best.mean_generations / needed,
                at_least=at_least,
            )
        )
    return out


def first_reaching(sweep: Sequence[SweepPoint], target: float) -> tuple[float | None, bool]:
    """Mean generations where the sweep first reaches ``target`` (linear in between)."""
    for index, point in enumerate(sweep):
        if point.accuracy + 1e-12 < target:
            continue
        if index == 0:
            return point.mean_generations, True
        before = sweep[index - 1]
        rise = point.accuracy - before.accuracy
        share = 1.0 if rise <= 0 else (target - before.accuracy) / rise
        share = min(max(share, 0.0), 1.0)
        generations = before.mean_generations + share * (
            point.mean_generations - before.mean_generations
        )
        return (generations if math.isfinite(generations) else None), False
    return None, False
