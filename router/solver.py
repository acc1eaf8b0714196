"""The router: probe, predict difficulty, choose strategy and budget, run, record.

``Router.solve`` is what `ttc solve` calls; ``prepare`` / ``choose`` / ``run`` are its
three stages, public because `ttc evaluate` probes once and then compares many
policies on the same probes (with a cache of runs, since the policies' choices mostly
coincide).

Per problem, in order: the probe (k samples, scored; k from the artifact), a predicted
level distribution, the options the table offers under it, the policy's choice, and one
run of the chosen strategy that takes the probe samples into its pool when it can. The
record's cost includes the probe. Problems are handled in chunks of ``batch_size``;
under ``total:B`` the whole batch is probed before anything is chosen, because the
budget is shared across it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from calibration.artifact import Artifact
from router.auto_price import auto_price
from router.difficulty import DifficultyEstimate, estimate_difficulty, prior_estimate
from router.execution import ExecutionContext, Job, JobOutcome, ResultCache, describe_error, execute
from router.options import CostModel, CostUnit, Option, problem_options
from router.policy import BudgetPolicy, allocate_total, choose_by_price, choose_fixed
from router.probe import ProbeResult, run_probe
from router.records import AnswerRecord, Compute
from router.setup import EngineSettings, prompt_config_of
from strategies.answers import grade
from strategies.cost import CostLedger
from strategies.generation import Generator
from strategies.problems import Problem
from strategies.verification import Verifier

DEFAULT_PROBE_K = 4


class BudgetWarning(UserWarning):
    """A ``total:B`` too small for the probe alone; every problem gets its free option."""


@dataclass(frozen=True)
class Prepared:
    """A probed problem; ``probe`` is None when the probe itself failed (``error``)."""

    problem: Problem
    probe: ProbeResult | None
    estimate: DifficultyEstimate
    error: str | None = None


@dataclass(frozen=True)
class Plan:
    """The policy's choice per prepared problem (None where the probe failed)."""

    choices: list[Option | None]
    price: float | None = None
    budget_left: float | None = None


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
        cost_unit: CostUnit = "generations",
    ) -> None:
        self.artifact = artifact
        self.settings = settings
        self.probe_k = artifact.probe_k or int(
            artifact.manifest.settings.get("probe_k", DEFAULT_PROBE_K)
        )
        self.cost_model = CostModel(cost_unit, self.probe_k)
        self._auto_prices: dict[CostModel, float] = {}
        self.context = ExecutionContext(
            generator=generator,
            verifier=verifier,
            prompt_config=prompt_config_of(settings),
            generation=settings.generation,
            seed=seed,
            batch_size=batch_size,
        )

    # ------------------------------------------------------------ stage 1: probe

    def prepare(self, problems: Sequence[Problem]) -> list[Prepared]:
        """Probe every problem (``batch_size`` per call) and predict its difficulty."""
        prepared: list[Prepared] = []
        size = self.context.batch_size
        for start in range(0, len(problems), size):
            prepared.extend(self._prepare_chunk(problems[start : start + size]))
        return prepared

    def _prepare_chunk(self, chunk: Sequence[Problem]) -> list[Prepared]:
        try:
            probes = run_probe(
                chunk,
                self.probe_k,
                self.context.generator,
                self.context.verifier,
                prompt_config=self.context.prompt_config,
                generation=self.context.generation,
                seed=self.context.seed,
            )
        except Exception as exc:
            if len(chunk) > 1:
                return [p for problem in chunk for p in self._prepare_chunk([problem])]
            prior = prior_estimate(self.artifact)
            return [Prepared(chunk[0], None, prior, f"probe failed: {describe_error(exc)}")]
        return [
            Prepared(problem, probe, estimate_difficulty(self.artifact, probe.candidates))
            for problem, probe in zip(chunk, probes, strict=True)
        ]

    # ------------------------------------------------------------ stage 2: choose

    def price_for(self, policy: BudgetPolicy, cost_model: CostModel | None = None) -> float | None:
        """The price a price-like policy uses: its own, or auto's (None otherwise)."""
        if policy.kind == "price":
            return float(policy.value or 0.0)
        if policy.kind == "auto":
            model = cost_model or self.cost_model
            if model not in self._auto_prices:
                self._auto_prices[model] = auto_price(self.artifact.table, model).price
            return self._auto_prices[model]
        return None

    def choose(
        self,
        prepared: Sequence[Prepared],
        policy: BudgetPolicy,
        *,
        cost_model: CostModel | None = None,
        budget_left: float | None = None,
    ) -> Plan:
        """The policy's choice for each problem.

        ``budget_left`` (``total:B`` only) is what this call may spend, probes included;
        it defaults to B. A resumed run passes B minus what finished problems spent.
        """
        model = cost_model or self.cost_model
        usable = [i for i, p in enumerate(prepared) if p.probe is not None]
        menus = {
            i: problem_options(self.artifact.table, prepared[i].estimate.distribution, model)
            for i in usable
        }
        choices: list[Option | None] = [None] * len(prepared)
        if policy.kind == "fixed":
            for i in usable:
                choices[i] = choose_fixed(menus[i], int(policy.value or 0))
            return Plan(choices)
        if policy.kind in ("price", "auto"):
            price = self.price_for(policy, model)
            assert price is not None
            for i in usable:
                choices[i] = choose_by_price(menus[i], price)
            return Plan(choices, price=price)
        total = float(policy.value or 0.0) if budget_left is None else budget_left
        probe_cost = sum(self._probe_cost(prepared[i].probe, model) for i in usable)
        extra = total - probe_cost
        if extra < 0:
            warnings.warn(
                f"--budget {policy}: the probe alone costs {probe_cost:g} {model.unit} for "
                f"{len(usable)} problems, more than the {total:g} available; every problem "
                "gets only its cheapest option",
                BudgetWarning,
                stacklevel=2,
            )
        allocation = allocate_total([menus[i] for i in usable], max(extra, 0.0))
        for i, option in zip(usable, allocation.choices, strict=True):
            choices[i] = option
        return Plan(choices, budget_left=allocation.left)

    @staticmethod
    def _probe_cost(probe: ProbeResult | None, model: CostModel) -> float:
        if probe is None:
            return 0.0
        return (
            float(probe.cost.generations) if model.unit == "generations" else probe.cost.total_flops
        )

    # ------------------------------------------------------------ stage 3: run

    def run(
        self,
        prepared: Sequence[Prepared],
        plan: Plan,
        policy_label: str,
        cache: ResultCache | None = None,
    ) -> Iterator[AnswerRecord]:
        """Run every choice; yield one record per problem as each group finishes."""
        jobs = []
        for item, option in zip(prepared, plan.choices, strict=True):
            if item.probe is None or option is None:
                yield self._failed(item, policy_label, item.error or "no choice was made")
                continue
            jobs.append(Job(item.problem, option, item.probe))
        by_id = {item.problem.id: item for item in prepared}
        for outcome in execute(jobs, self.context, cache):
            yield self._record(by_id[outcome.job.problem.id], outcome, policy_label)

    def solve(
        self, problems: Sequence[Problem], policy: BudgetPolicy, budget_left: float | None = None
    ) -> Iterator[AnswerRecord]:
        """Probe, choose and run; under ``total:B`` the batch is probed as a whole first."""
        if policy.kind == "total":
            prepared = self.prepare(problems)
            yield from self.run(
                prepared, self.choose(prepared, policy, budget_left=budget_left), str(policy)
            )
            return
        size = self.context.batch_size
        for start in range(0, len(problems), size):
            prepared = self.prepare(problems[start : start + size])
            yield from self.run(prepared, self.choose(prepared, policy), str(policy))

    # ------------------------------------------------------------ records

    def _failed(self, item: Prepared, policy: str, error: str) -> AnswerRecord:
        cost = item.probe.cost if item.probe is not None else CostLedger()
        return AnswerRecord(
            id=item.problem.id,
            status="failed",
            policy=policy,
            reference=item.problem.answer,
            difficulty=item.estimate.to_json(),
            compute=_compute(cost, float(cost.generations)),
            cost=cost,
            error=error,
            elapsed_s=cost.wall_time_s,
        )

    def _record(self, item: Prepared, outcome: JobOutcome, policy: str) -> AnswerRecord:
        option = outcome.job.option
        probe = outcome.job.probe
        result = outcome.result
        if result is None:
            failed = self._failed(item, policy, outcome.error or "unknown error")
            return _with_choice(failed, option)
        cost = probe.cost + result.cost
        strategy_generations = (
            float(result.cost.generations) if option.reuses_probe else float(option.budget)
        )
        problem = item.problem
        started = time.perf_counter()
        correct = None if problem.answer is None else grade(result.answer, problem.answer)
        cost.wall_time_s += time.perf_counter() - started
        record = AnswerRecord(
            id=problem.id,
            status="ok" if result.answer is not None else "no_answer",
            policy=policy,
            answer=result.answer,
            correct=correct,
            reference=problem.answer,
            solution=None if result.chosen is None else result.chosen.text,
            difficulty=item.estimate.to_json(),
            reused_probe_samples=int(result.extra.get("reused_candidates", 0)),
            compute=_compute(cost, float(probe.cost.generations) + strategy_generations),
            cost=cost,
            error=result.error,
            elapsed_s=cost.wall_time_s,
        )
        return _with_choice(record, option)


def _compute(cost: CostLedger, generations: float) -> Compute:
    return Compute(generations=generations, tokens=cost.generated_tokens, flops=cost.total_flops)


def _with_choice(record: AnswerRecord, option: Option) -> AnswerRecord:
    return replace(
        record,
        strategy=option.strategy,
        budget=option.budget,
        expected_accuracy=round(option.expected_accuracy, 4),
        expected_cost=option.expected_cost,
    )
