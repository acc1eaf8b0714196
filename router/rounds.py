"""Routing in rounds: every live problem of a batch advances together, one action each.

Each round the policy sees every live problem's state (its samples so far, their
scores and agreement, what it has spent) and answers for each: stop and answer, sample
up to a count (every earlier sample stays in the final vote), or run a tree search at a
budget. Then the round runs batch-wide: one sampling call (grouped by shape) and one
scoring call for all problems that sample, one call per (tree strategy, budget) for
those that search. A problem leaves the batch when it stops or its search returns, and
its outcome is yielded at once (so `ttc solve` writes it before the next round).

A group whose call raises (a server error, a crashed engine) is retried one problem at
a time, so a bad problem costs only its own answer.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from router.execution import (
    ExecutionContext,
    answer_sampler,
    describe_error,
    runnable_strategy,
)
from router.policies.base import BudgetPolicy, LiveProblem, RoundView, SecondOpinionRoom
from runtime.actions import MAX_RUNS, Decision, action_key, base_strategy, is_checked
from runtime.decision_model import SequentialModel
from runtime.second_opinion import Run, final_run, needs_another, run_seed
from runtime.states import prompt_features, state_features
from strategies.cost import CostLedger
from strategies.problems import Problem
from strategies.search.base import SearchStrategy
from strategies.search.result import Candidate, SearchResult
from strategies.search.selection import answer_agreement, select

MAX_ROUNDS = 64


@dataclass
class ProblemRun:
    """One problem's progress through the rounds."""

    problem: Problem
    prompt: np.ndarray
    candidates: list[Candidate] = field(default_factory=list)
    cost: CostLedger = field(default_factory=CostLedger)
    generations: float = 0.0  # full-solution equivalents: samples, plus N per tree search
    route: list[str] = field(default_factory=list)
    last: Decision | None = None

    def spent(self, unit: str) -> float:
        return self.generations if unit == "generations" else self.cost.total_flops


@dataclass(frozen=True)
class RunOutcome:
    """How a problem ended: ``strategy``/``budget`` name what produced the answer."""

    run: ProblemRun
    answer: str | None
    chosen: Candidate | None
    strategy: str | None
    budget: int | None
    error: str | None = None
    failed: bool = False


def settled(
    run: ProblemRun, done: Sequence[tuple[SearchResult, Run]], key: str, budget: int
) -> RunOutcome:
    """A checked search's outcome on the runs it made: the answer ``final_run`` picks."""
    chosen, _ = done[final_run([opinion for _, opinion in done])]
    return RunOutcome(run, chosen.answer, chosen.chosen, key, budget, chosen.error)


class RoundRunner:
    def __init__(
        self, model: SequentialModel, context: ExecutionContext, cost_unit: str = "generations"
    ) -> None:
        self.model = model
        self.context = context
        self.cost_unit = cost_unit
        self.rounds = 0
        self.decision_s = 0.0  # the router's own bookkeeping (features and decisions)

    def run(
        self, problems: Sequence[Problem], policy: BudgetPolicy, *, spent_before: float = 0.0
    ) -> Iterator[RunOutcome]:
        runs = [ProblemRun(p, prompt_features(p.text)) for p in problems]
        live = list(runs)
        finished_spend = 0.0
        for _ in range(MAX_ROUNDS):
            if not live:
                return
            self.rounds += 1
            started = time.perf_counter()
            view = RoundView(
                model=self.model,
                problems=[self._live(run) for run in live],
                spent=spent_before + finished_spend + sum(r.spent(self.cost_unit) for r in live),
                cost_unit=self.cost_unit,
            )
            decisions = policy.decide(view)
            if len(decisions) != len(live):
                raise RuntimeError(
                    f"policy {policy} decided {len(decisions)} of {len(live)} problems"
                )
            room = policy.second_opinion_room(view, decisions)
            self.decision_s += time.perf_counter() - started
            still: list[ProblemRun] = []
            samplers: dict[int, list[ProblemRun]] = defaultdict(list)
            searches: dict[tuple[str, int], list[ProblemRun]] = defaultdict(list)
            for run, decision in zip(live, decisions, strict=True):
                run.last = decision
                run.route.append(decision.label)
                target = int(decision.budget or 0)
                if decision.kind == "sample" and target > len(run.candidates):
                    samplers[target].append(run)
                elif decision.kind == "tree" and decision.strategy is not None:
                    searches[(decision.strategy, target)].append(run)
                else:
                    finished_spend += run.spent(self.cost_unit)
                    yield self._stop(run, policy)
            for target, group in sorted(samplers.items()):
                for run, error in self._sample(group, target, policy):
                    if error is None:
                        still.append(run)
                    else:
                        finished_spend += run.spent(self.cost_unit)
                        yield RunOutcome(run, None, None, None, None, error, failed=True)
            for (strategy, budget), group in sorted(searches.items()):
                for outcome in self._search(group, strategy, budget, room, view):
                    finished_spend += outcome.run.spent(self.cost_unit)
                    yield outcome
            live = still
        for run in live:  # a policy that never stops: answer with what there is
            yield self._stop(run, policy)

    # ------------------------------------------------------------ state

    def _live(self, run: ProblemRun) -> LiveProblem:
        features = state_features(
            run.problem.text, run.candidates, self.model.reduction, run.prompt
        )
        return LiveProblem(
            problem_id=run.problem.id,
            features=features,
            candidates=tuple(run.candidates),
            rung_index=self.model.rung_index(len(run.candidates)),
            spent=run.spent(self.cost_unit),
        )

    # ------------------------------------------------------------ actions

    def _stop(self, run: ProblemRun, policy: BudgetPolicy) -> RunOutcome:
        if not run.candidates:
            return RunOutcome(run, None, None, None, None, "the budget ran out before any sample")
        rule = policy.answer_rule(self.model, len(run.candidates))
        choice = select(rule.method, run.candidates, rule.reduction)
        chosen = run.candidates[choice.index] if choice.index >= 0 else None
        error = (
            None
            if choice.answer is not None
            else (f"no extractable answer in {len(run.candidates)} solutions")
        )
        return RunOutcome(run, choice.answer, chosen, rule.method, len(run.candidates), error)

    def _sample(
        self, group: Sequence[ProblemRun], target: int, policy: BudgetPolicy
    ) -> list[tuple[ProblemRun, str | None]]:
        """Top every problem of ``group`` up to ``target`` samples (scored when the
        answer rule uses scores); (run, error) per problem."""
        method = "weighted_best_of_n" if policy.needs_scores(self.model) else "majority"
        sampler = answer_sampler(method, self.context.generation, self.model.reduction)
        out: list[tuple[ProblemRun, str | None]] = []
        for run, result, error in self._run(sampler, group, target, reuse=True):
            if result is not None:
                run.generations += len(result.candidates) - len(run.candidates)
                run.candidates = list(result.candidates)
                run.cost.merge(result.cost)
            out.append((run, error))
        return out

    def _search(
        self,
        group: Sequence[ProblemRun],
        key: str,
        budget: int,
        room: SecondOpinionRoom | None,
        view: RoundView,
    ) -> list[RunOutcome]:
        if is_checked(key):
            return self._search_checked(group, key, budget, room, view)
        out: list[RunOutcome] = []
        strategy = runnable_strategy(key, self.context.generation)
        for run, result, error in self._run(strategy, group, budget, reuse=False):
            run.generations += budget  # the search ran (at least in part, when it failed)
            if result is None:
                out.append(RunOutcome(run, None, None, key, budget, error, failed=True))
                continue
            run.cost.merge(result.cost)
            out.append(RunOutcome(run, result.answer, result.chosen, key, budget, result.error))
        return out

    def _search_checked(
        self,
        group: Sequence[ProblemRun],
        key: str,
        budget: int,
        room: SecondOpinionRoom | None,
        view: RoundView,
    ) -> list[RunOutcome]:
        """``strategy+check``: the search, run again (batch-wide, fresh seed) for every
        problem whose leaves disagree, and a third time where two answers differ; a
        further run only while ``room`` pays for it (the least sure first), else the
        answer stands on the runs made."""
        base = runnable_strategy(base_strategy(key), self.context.generation)
        results: dict[int, list[tuple[SearchResult, Run]]] = {id(run): [] for run in group}
        out: list[RunOutcome] = []
        pending = list(group)
        for attempt in range(MAX_RUNS):
            if attempt > 0 and room is not None:
                pending.sort(key=lambda run: results[id(run)][-1][1].agreement)
                paid = room.admit(action_key(key, budget), len(pending), view.run_cost(key, budget))
                pending, refused = pending[:paid], pending[paid:]
                out.extend(settled(run, results[id(run)], key, budget) for run in refused)
            if not pending:
                break
            still: list[ProblemRun] = []
            seed = run_seed(self.context.seed, attempt)
            for run, result, error in self._run(base, pending, budget, reuse=False, seed=seed):
                run.generations += budget
                done = results[id(run)]
                if result is None and not done:
                    out.append(RunOutcome(run, None, None, key, budget, error, failed=True))
                    continue
                if result is not None:
                    run.cost.merge(result.cost)
                    opinion = Run(result.answer, answer_agreement(result.candidates, result.answer))
                    done.append((result, opinion))
                if result is not None and needs_another([opinion for _, opinion in done]):
                    still.append(run)
                    continue
                out.append(settled(run, done, key, budget))
            pending = still
        return out

    def _run(
        self,
        strategy: SearchStrategy,
        group: Sequence[ProblemRun],
        budget: int,
        *,
        reuse: bool,
        seed: int | None = None,
    ) -> list[tuple[ProblemRun, SearchResult | None, str | None]]:
        """``strategy`` at ``budget`` on every problem of ``group``, ``batch_size`` per call
        (with each problem's samples so far when ``reuse``). A chunk whose call raises is
        retried one problem at a time, so a bad problem costs only its own answer."""
        out: list[tuple[ProblemRun, SearchResult | None, str | None]] = []
        for start in range(0, len(group), self.context.batch_size):
            chunk = group[start : start + self.context.batch_size]
            try:
                results = strategy.run(
                    [r.problem for r in chunk],
                    budget,
                    self.context.generator,
                    self.context.verifier,
                    prompt_config=self.context.prompt_config,
                    seed=self.context.seed if seed is None else seed,
                    reuse=[list(r.candidates) for r in chunk] if reuse else None,
                )
            except Exception as exc:
                if len(chunk) > 1:
                    out.extend(
                        o
                        for run in chunk
                        for o in self._run(strategy, [run], budget, reuse=reuse, seed=seed)
                    )
                else:
                    out.append((chunk[0], None, describe_error(exc)))
                continue
            out.extend((run, result, None) for run, result in zip(chunk, results, strict=True))
        return out
