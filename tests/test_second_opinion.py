"""The second opinion (``strategy+check@B``): its rules on hand-made runs, its expected
outcome from recorded seeds, and the router running it on the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.sequential.trajectories import second_opinions
from calibration.store.records import TreeRecord
from router.execution import ExecutionContext
from router.policies.base import BudgetPolicy, RoundView
from router.policies.total import TotalPolicy
from router.rounds import RoundRunner
from runtime.actions import Decision
from runtime.decision_model import RungModel, SequentialModel
from runtime.linear import LinearModel
from runtime.second_opinion import Run, final_run, needs_another, recorded_outcome, run_seed
from runtime.states import prompt_features
from strategies.answers.keys import grade
from strategies.backends.seeds import request_seeds
from strategies.cost import CostLedger
from strategies.generation import GenerationSettings, sample_count
from strategies.prompts import PromptConfig
from strategies.search.registry import get_strategy
from strategies.search.result import Candidate, SearchResult
from strategies.search.selection import answer_agreement
from strategies.simulation.world import SimulatedWorld


def leaf(answer: str | None, score: float) -> Candidate:
    return Candidate("", (), (score,), answer, "stop", 1)


def test_agreement_is_the_verifier_weighted_share_of_finished_leaves():
    leaves = [leaf("7", 0.9), leaf("7", 0.6), leaf("8", 0.5), leaf(None, 1.0)]
    assert answer_agreement(leaves, "7") == pytest.approx(1.5 / 2.0)
    assert answer_agreement(leaves, "8") == pytest.approx(0.5 / 2.0)
    assert answer_agreement(leaves, None) == 0.0
    assert answer_agreement([leaf("7", 0.0)], "7") == 0.0  # nothing scored: no confidence
    # answers are one answer when votes say so (canonical keys), not when strings match
    assert answer_agreement([leaf("7.0", 0.9), leaf("7", 0.6), leaf("8", 0.5)], "7") == (
        pytest.approx(1.5 / 2.0)
    )


def test_runs_again_when_unsure_and_breaks_a_disagreement_with_a_third():
    sure, unsure = Run("A", 0.95), Run("A", 0.5)
    assert not needs_another([sure]) and needs_another([unsure])
    assert not needs_another([unsure, Run("A", 0.2)])  # they agree
    assert needs_another([unsure, Run("B", 0.99)])
    assert not needs_another([unsure, Run("B", 0.9), Run("C", 0.1)])  # never a fourth
    assert not needs_another([Run("7", 0.5), Run("7.0", 0.4)])  # one answer, two spellings
    assert final_run([Run("7", 0.5), Run("8", 0.99), Run("7.0", 0.6)]) == 2
    # the majority wins (its surest run answers); a three-way split goes to the surest run
    assert final_run([Run("A", 0.5), Run("B", 0.99), Run("A", 0.6)]) == 2
    assert final_run([Run("A", 0.5), Run("B", 0.99), Run("C", 0.6)]) == 1
    assert final_run([Run(None, 0.0), Run(None, 0.0), Run("C", 0.1)]) == 2


@pytest.mark.parametrize(
    ("runs", "accuracy", "cost"),
    [
        # by hand over the 6 orders of the three recorded runs (B = 4):
        # A.95 first: accept (x2, right, 1 run); B.5 first: 3 runs, A wins (x2, right);
        # A.7 first: A.95 agrees (2 runs, right) or B disagrees (3 runs, right)
        ([("A", 0.95, True), ("B", 0.5, False), ("A", 0.7, True)], 1.0, 4 * 13 / 6),
        # a three-way split always goes to the surest run, A .95, which is wrong
        ([("A", 0.95, False), ("B", 0.5, True), ("C", 0.5, False)], 0.0, 4 * 14 / 6),
        # a sure wrong run first loses; otherwise the two right ones outvote it
        ([("A", 0.5, True), ("A", 0.6, True), ("B", 0.99, False)], 4 / 6, 4 * 12 / 6),
    ],
)
def test_recorded_outcome_averages_over_which_run_comes_first(runs, accuracy, cost):
    recorded = [(Run(a, s), right) for a, s, right in runs]
    assert recorded_outcome(recorded, 4) == pytest.approx((accuracy, cost))
    assert recorded_outcome(recorded[:2], 4) is None  # needs three seeds


def record(
    pid: str, seed: int, answer: str, agreement: float | None, correct: bool, budget: int = 4
) -> TreeRecord:
    return TreeRecord(
        pid, "rebase", budget, seed, answer, correct, CostLedger(), agreement=agreement
    )


def test_tree_records_keep_the_agreement_and_old_shards_read_as_unknown():
    fresh = record("p", 0, "7", 0.75, True)
    assert TreeRecord.from_json(fresh.to_json()) == fresh
    old = {k: v for k, v in fresh.to_json().items() if k != "agreement"}
    assert TreeRecord.from_json(old).agreement is None


def test_second_opinions_come_from_three_seeds_with_agreement():
    records = [
        record("p", 0, "A", 0.95, True),
        record("p", 1, "B", 0.5, False),
        record("p", 2, "A", 0.7, True),
        record("q", 0, "A", 0.95, True),  # two seeds only
        record("q", 1, "A", 0.95, True),
        record("r", 0, "A", None, True),  # recorded before the agreement was
        record("r", 1, "A", None, True),
        record("r", 2, "A", None, True),
    ]
    # a search that is always sure (one leaf) never asks again: no duplicate action
    records += [record(pid, seed, "A", 1.0, True, budget=2) for pid in "pq" for seed in range(3)]
    accuracies, costs = second_opinions(records, ["rebase@4", "rebase@2"])
    assert accuracies == {"p": {"rebase+check@4": 1.0}}
    assert costs["p"]["rebase+check@4"] == pytest.approx(4 * 13 / 6)


def test_a_run_without_an_answer_counts_as_a_wrong_unsure_run():
    """As live (RoundRunner._search_checked keeps a finished run whose leaves gave no
    answer): the problem keeps its checked action instead of leaving the data."""
    failed = TreeRecord(
        "p",
        "rebase",
        4,
        1,
        None,
        False,
        CostLedger(),
        error="no extractable answer in 4 solutions",
        agreement=0.0,
    )
    records = [record("p", 0, "A", 0.5, True), failed, record("p", 2, "A", 0.95, True)]
    accuracies, costs = second_opinions(records, ["rebase@4"])
    expected = recorded_outcome(
        [(Run("A", 0.5), True), (Run(None, 0.0), False), (Run("A", 0.95), True)], 4
    )
    assert expected is not None
    assert accuracies == {"p": {"rebase+check@4": pytest.approx(expected[0])}}
    assert costs["p"]["rebase+check@4"] == pytest.approx(expected[1])
    # when the unanswered run comes first it always asks again: more than one run
    assert expected[1] > 4


# ---------------------------------------------------------------- live, on the simulator


class AlwaysChecked(BudgetPolicy):
    """Sends every problem straight to ``rebase+check@4``."""

    name = "always-checked"

    def __str__(self) -> str:
        return self.name

    @classmethod
    def parse(cls, argument: str) -> AlwaysChecked:
        return cls()

    def decide(self, view: RoundView) -> list[Decision]:
        return [Decision("tree", 1.0, 4.0, "rebase+check", 4) for _ in view.problems]


class SamplesThenSearch(BudgetPolicy):
    """Two samples first, then rebase@4 (plain) for every problem."""

    name = "samples-then-search"

    def __init__(self, recorder: RecordingGenerator) -> None:
        self.recorder = recorder

    def __str__(self) -> str:
        return self.name

    @classmethod
    def parse(cls, argument: str) -> SamplesThenSearch:
        raise NotImplementedError

    def decide(self, view: RoundView) -> list[Decision]:
        if all(p.candidates for p in view.problems):
            self.recorder.phase = "search"
            return [Decision("tree", 1.0, 4.0, "rebase", 4) for _ in view.problems]
        return [Decision("sample", 1.0, 2.0, None, 2) for _ in view.problems]


class RecordingGenerator:
    """The simulator's generator, noting the per-request seeds of every whole-answer
    request (no partial answer yet: a sample, or a search's first step) by phase."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.num_parameters = inner.name, inner.num_parameters
        self.phase = "samples"
        self.seeds: dict[str, set[tuple[str, int]]] = {"samples": set(), "search": set()}

    def generate(self, prompts, params):
        for prompt, seed in zip(prompts, request_seeds(prompts, params), strict=True):
            if not prompt.partial:
                self.seeds[self.phase].update(
                    (prompt.problem_key, seed + i) for i in range(sample_count(prompt, params))
                )
        return self.inner.generate(prompts, params)


@pytest.mark.parametrize("seed", [0, 5])
def test_a_search_never_sets_out_from_the_samples_drawn_before_it(seed):
    """On a backend seeded per request (vLLM), a search whose first step were seeded
    like the samples would start its beams on their very first steps, and after a wrong
    vote retrace the mistakes the calibration valued it as independent of. The engine's
    step seeds once did exactly that at seed 0, the default."""
    world = SimulatedWorld(6, seed=3)
    recorder = RecordingGenerator(world.generator())
    context = ExecutionContext(
        recorder, world.verifier(), PromptConfig(), GenerationSettings(), seed
    )
    model = SequentialModel("last", (0,), (0.0,), (RungModel(0, None, {}),))
    outcomes = list(RoundRunner(model, context).run(world.problems, SamplesThenSearch(recorder)))
    assert all(o.strategy == "rebase" and o.run.generations == 6.0 for o in outcomes)
    assert recorder.seeds["samples"] and recorder.seeds["search"]
    assert not recorder.seeds["samples"] & recorder.seeds["search"]


def test_the_router_runs_a_second_opinion_exactly_as_the_rules_say():
    world = SimulatedWorld(48, seed=3)
    generator, verifier = world.generator(), world.verifier()
    prompts = PromptConfig()
    context = ExecutionContext(generator, verifier, prompts, GenerationSettings(), seed=5)
    model = SequentialModel("last", (0,), (0.0,), (RungModel(0, None, {}),))
    outcomes = {o.run.problem.id: o for o in RoundRunner(model, context).run(
        world.problems, AlwaysChecked()
    )}  # fmt: skip
    # the same three runs by hand, seeded as the router seeds them
    search = get_strategy("rebase")
    runs = [
        search.run(
            world.problems, 4, generator, verifier, prompt_config=prompts, seed=run_seed(5, attempt)
        )
        for attempt in range(3)
    ]
    spent = []
    for index, problem in enumerate(world.problems):
        opinions: list[Run] = []
        for attempt in range(3):
            result = runs[attempt][index]
            opinions.append(Run(result.answer, answer_agreement(result.candidates, result.answer)))
            if not needs_another(opinions):
                break
        want = opinions[final_run(opinions)].answer
        got = outcomes[problem.id]
        assert (got.answer, got.run.generations) == (want, 4.0 * len(opinions))
        assert got.strategy == "rebase+check" and got.budget == 4
        spent.append(len(opinions))
    assert 1 in spent and max(spent) > 1  # some were sure, some asked again
    right = np.mean([grade(outcomes[p.id].answer, p.answer) for p in world.problems])
    assert right > 0.0


def test_the_model_stores_second_opinions_and_calibrate_reports_those_that_pay():
    from calibration.summary import sequential_lines

    model = SequentialModel(
        "last",
        (0,),
        (0.0,),
        (RungModel(0, None, {}),),
        action_costs={"rebase+check@8": 9.7},
        second_opinions={
            "rebase+check@8": {"accuracy": 0.943, "generations": 9.71, "plain_accuracy": 0.91},
            "rebase+check@2": {"accuracy": 0.69, "generations": 2.1, "plain_accuracy": 0.7},
        },
    )
    again = SequentialModel.from_json(model.to_json())
    assert again.action_costs == model.action_costs
    assert again.second_opinions == model.second_opinions
    text = "\n".join(sequential_lines(model))
    assert "rebase@8 0.910 -> 0.943 at 9.71" in text
    assert "rebase@2" not in text  # a second opinion that does not pay is not advertised


def first_runs(world: SimulatedWorld, context: ExecutionContext) -> list[SearchResult]:
    """REBASE@4 on every problem, seeded as the router seeds a checked search's first run."""
    return get_strategy("rebase").run(
        world.problems,
        4,
        context.generator,
        context.verifier,
        prompt_config=PromptConfig(),
        seed=run_seed(context.seed, 0),
    )


def test_a_second_run_that_fails_leaves_the_first_answer_standing(monkeypatch):
    world = SimulatedWorld(48, seed=3)
    context = ExecutionContext(
        world.generator(), world.verifier(), PromptConfig(), GenerationSettings(), seed=5
    )
    model = SequentialModel("last", (0,), (0.0,), (RungModel(0, None, {}),))
    runner = RoundRunner(model, context)
    original = RoundRunner._run

    def flaky(self, strategy, group, budget, *, reuse, seed=None):
        if seed == run_seed(5, 0):
            return original(self, strategy, group, budget, reuse=reuse, seed=seed)
        return [(run, None, "server went away") for run in group]

    monkeypatch.setattr(RoundRunner, "_run", flaky)
    outcomes = list(runner.run(world.problems, AlwaysChecked()))
    firsts = first_runs(world, context)
    by_id = {o.run.problem.id: o for o in outcomes}
    asked = 0
    for problem, first in zip(world.problems, firsts, strict=True):
        got = by_id[problem.id]
        assert not got.failed and got.answer == first.answer
        unsure = answer_agreement(first.candidates, first.answer) < 0.9
        assert got.run.generations == (8.0 if unsure else 4.0)  # the failed run is counted
        asked += unsure
    assert asked > 0


def test_a_total_budget_pays_second_opinions_from_what_is_left_and_never_overspends():
    """total:B admits a checked search at what it spends on average (4.08 generations
    here for rebase+check@4), not at its most (12): B = 196 buys all 48 first runs (192)
    and leaves room for one further run, for the least sure search; the others that are
    unsure answer on their first run."""
    world = SimulatedWorld(48, seed=3)
    context = ExecutionContext(
        world.generator(), world.verifier(), PromptConfig(), GenerationSettings(), seed=5
    )
    width = len(prompt_features(world.problems[0].text))
    flat = LinearModel((0.0,) * width, (1.0,) * width, (0.0,) * width, 2.0, True)
    model = SequentialModel(
        "last",
        (0,),
        (0.0,),
        (RungModel(0, None, {"rebase+check@4": flat}),),
        action_costs={"rebase+check@4": 4.08},
    )
    total = 196.0
    outcomes = list(RoundRunner(model, context).run(world.problems, TotalPolicy(total)))
    firsts = first_runs(world, context)
    first = {p.id: result for p, result in zip(world.problems, firsts, strict=True)}
    spent = [o.run.generations for o in outcomes]
    assert len(outcomes) == 48 and all(o.strategy == "rebase+check" for o in outcomes)
    assert sum(spent) <= total
    unsure = [
        o for o in outcomes if answer_agreement(first[o.run.problem.id].candidates,
                                                first[o.run.problem.id].answer) < 0.9
    ]  # fmt: skip
    refused = [o for o in unsure if o.run.generations == 4.0]
    assert refused  # the budget binds: some unsure searches answer on their first run
    for outcome in refused:
        assert outcome.answer == first[outcome.run.problem.id].answer
    # the least sure went first: every refused search was at least as sure as any asked
    asked = [o for o in unsure if o.run.generations > 4.0]
    sureness = {
        o.run.problem.id: answer_agreement(
            first[o.run.problem.id].candidates, first[o.run.problem.id].answer
        )
        for o in unsure
    }
    assert max(sureness[o.run.problem.id] for o in asked) <= min(
        sureness[o.run.problem.id] for o in refused
    )
