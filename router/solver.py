"""The router: route every problem in rounds under a budget policy, and record the result.

``Router.solve`` is what `ttc solve`, `ttc evaluate` and `ttc serve` call. Problems go
through ``router.rounds.RoundRunner`` in chunks of ``batch_size`` (the whole batch at
once under a batch-wide policy such as ``total:B``, whose budget is shared), and each
problem's record is yielded as soon as it finishes. The decisions come from the
artifact's decision model (``runtime.decision_model``), fitted on the calibration's
own pools; every generation counts, the first samples included.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from calibration.store.artifact import Artifact
from router.execution import ExecutionContext
from router.policies import BudgetPolicy, parse_policy
from router.records import AnswerRecord, Compute
from router.rounds import ProblemRun, RoundRunner, RunOutcome
from router.setup import EngineSettings, prompt_config_of
from runtime.decision_model import SequentialModel
from runtime.states import state_features
from strategies.answers import grade
from strategies.generation import Generator
from strategies.problems import Problem
from strategies.verification import Verifier


class MissingModelError(ValueError):
    """An artifact made before the sequential router existed."""


def sequential_model(artifact: Artifact) -> SequentialModel:
    if artifact.sequential is None:
        raise MissingModelError(
            f"{artifact.path} has no sequential decision model (it predates router v2); run "
            "the `ttc calibrate` command that made it again: it reuses every sample and "
            "search on disk and only adds the model"
        )
    return artifact.sequential


class Router:
    def __init__(
        self,
        artifact: Artifact,
        settings: EngineSettings,
        generator: Generator,
        verifier: Verifier,
        *,
        seed: int = 0,
        batch_size: int = 32,
        cost_unit: str = "generations",
    ) -> None:
        self.artifact = artifact
        self.settings = settings
        self.model = sequential_model(artifact)
        self.cost_unit = cost_unit
        self.context = ExecutionContext(
            generator=generator,
            verifier=verifier,
            prompt_config=prompt_config_of(settings),
            generation=settings.generation,
            seed=seed,
            batch_size=batch_size,
        )
        self.rounds = 0
        self.decision_s = 0.0

    @property
    def first_rung(self) -> int:
        """The fewest samples a problem that samples at all draws (the first rung)."""
        return self.model.rungs[1] if len(self.model.rungs) > 1 else 1

    def price_for(self, policy: BudgetPolicy | str) -> float | None:
        return parse_policy(policy).price(self.model)

    def check(
        self, policy: BudgetPolicy, num_problems: int, budget_left: float | None = None
    ) -> None:
        """Refuse a policy this batch cannot honour, before any compute is spent."""
        policy.check(self.artifact.table.budgets, num_problems)
        policy.check_model(self.model)
        if policy.batch_wide:
            one = 1.0 if self.cost_unit == "generations" else self.model.sample_flops
            policy.check_batch(num_problems, one, self.cost_unit, budget_left)

    def solve(
        self,
        problems: Sequence[Problem],
        policy: BudgetPolicy | str,
        budget_left: float | None = None,
    ) -> Iterator[AnswerRecord]:
        """Route every problem; one record each, yielded as each finishes.

        ``budget_left`` (``total:B`` only) is what this call may still spend; a resumed
        run passes B minus what its finished problems spent.
        """
        policy = parse_policy(policy)
        self.check(policy, len(problems), budget_left)
        policy = policy.for_batch(self.model, len(problems), budget_left, self.cost_unit)
        runner = RoundRunner(self.model, self.context, self.cost_unit)
        try:
            if policy.batch_wide:
                spent_before = 0.0
                if policy.shared_budget is not None and budget_left is not None:
                    spent_before = policy.shared_budget - budget_left
                for outcome in runner.run(problems, policy, spent_before=spent_before):
                    yield self.record(outcome, policy)
                return
            size = self.context.batch_size
            for start in range(0, len(problems), size):
                for outcome in runner.run(problems[start : start + size], policy):
                    yield self.record(outcome, policy)
        finally:
            self.rounds += runner.rounds
            self.decision_s += runner.decision_s

    def record(self, outcome: RunOutcome, policy: BudgetPolicy) -> AnswerRecord:
        run = outcome.run
        problem = run.problem
        started = time.perf_counter()
        correct = None
        if problem.answer is not None and not outcome.failed:
            correct = grade(outcome.answer, problem.answer)
        run.cost.wall_time_s += time.perf_counter() - started
        status = "ok" if outcome.answer is not None else "no_answer"
        if outcome.failed:
            status = "failed"
        last = run.last
        return AnswerRecord(
            id=problem.id,
            status=status,  # type: ignore[arg-type]
            policy=str(policy),
            answer=outcome.answer,
            correct=correct,
            reference=problem.answer,
            solution=None if outcome.chosen is None else outcome.chosen.text,
            strategy=outcome.strategy,
            budget=outcome.budget,
            difficulty=self._difficulty(run),
            expected_accuracy=None if last is None else round(last.expected_accuracy, 4),
            expected_cost=None if last is None else round(last.expected_cost, 4),
            compute=Compute(run.generations, run.cost.generated_tokens, run.cost.total_flops),
            cost=run.cost,
            error=outcome.error,
            elapsed_s=run.cost.wall_time_s,
            route=tuple(run.route),
            samples=len(run.candidates),
        )

    def _difficulty(self, run: ProblemRun) -> dict[str, object]:
        """What the first samples said (the model's estimate of stopping there)."""
        if not run.candidates:
            return {"samples": 0}
        first = run.candidates[: self.first_rung]
        index = self.model.rung_index(len(first))
        features = state_features(run.problem.text, first, self.model.reduction, run.prompt)
        stop, _ = self.model.rung_models[index].action_values(features)
        return {
            "samples": len(first),
            "p_first_vote_right": None if stop is None else round(stop, 4),
        }
