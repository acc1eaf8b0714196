"""total:B hands a batch to a published stopping rule only where the calibration says the
rule did better within the same compute; the rules replayed on calibration pools match
the policies that run them; B is never exceeded either way."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from calibration.sequential.baselines import replay_rules
from calibration.sequential.trajectories import TrainingPool
from router.policies import TotalPolicy
from router.policies.adaptive_consistency import AdaptiveConsistencyPolicy
from router.policies.base import LiveProblem, RoundView
from router.policies.early_stopping import EarlyStoppingPolicy
from router.policies.envelope import RuleWithinBudget, better_rule
from runtime.decision_model import PricePoint, RulePoint, SequentialModel
from runtime.stopping_rules import AdaptiveConsistency, EarlyStopping, stopping_point
from strategies.search.result import Candidate


def candidate(answer: str | None) -> Candidate:
    return Candidate(
        text=f"so $\\boxed{{{answer}}}$",
        steps=("s",),
        step_scores=(),
        answer=answer,
        finish_reason="eos",
        num_tokens=10,
    )


def pool(pid: str, answers: list[str]) -> TrainingPool:
    return TrainingPool(
        problem_id=pid,
        text=f"What is {pid}?",
        candidates=tuple(candidate(a) for a in answers),
        correct=np.array([a == "1" for a in answers]),
        tree_accuracy={},
    )


def model(curve: list[tuple[float, float]], baselines: dict[str, RulePoint]) -> SequentialModel:
    points = tuple(PricePoint(0.01 * i, acc, cost) for i, (acc, cost) in enumerate(curve))
    return SequentialModel("last", (0, 1), (0.0,), (), price_curve=points, baselines=baselines)


def run_policy(policy, answers: list[str], budget: int) -> int:
    """Samples the policy draws for one problem, round by round, as RoundRunner would."""
    drawn: tuple[Candidate, ...] = ()
    empty = model([], {})
    for _ in range(budget + 1):
        live = LiveProblem("p", np.zeros(1), drawn, 1 if drawn else 0, float(len(drawn)))
        view = RoundView(model=empty, problems=[live], spent=0.0, cost_unit="generations")
        (decision,) = policy.decide(view)
        if decision.kind == "stop":
            return len(drawn)
        drawn = tuple(candidate(a) for a in answers[: decision.budget])
    raise AssertionError("never stopped")


@pytest.mark.parametrize(
    "answers",
    [
        ["1"] * 16,
        ["1", "2"] * 8,
        ["1", "2", "1", "1", "1", "1", "1", "1", "1", "3", "1", "1", "1", "1", "1", "1"],
        ["2", "2", "2", "2", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1"],
    ],
)
@pytest.mark.parametrize("budget", [4, 8, 16])
def test_the_replayed_rules_stop_where_the_policies_stop(answers, budget):
    drawn = [candidate(a) for a in answers]
    for policy, rule in [
        (AdaptiveConsistencyPolicy(budget), AdaptiveConsistency()),
        (EarlyStoppingPolicy(budget), EarlyStopping()),
    ]:
        assert stopping_point(rule, drawn, budget, "last") == run_policy(policy, answers, budget)


def test_rules_replayed_on_calibration_pools():
    """Unanimous pools: Adaptive-Consistency stops after 4 samples (the posterior first
    passes 0.95 at 5:0... 4:0 gives 1 - 0.5**5 = 0.97), ESC after its first window."""
    points = replay_rules(
        [pool(f"p{i}", ["1"] * 16) for i in range(5)],
        [1, 2, 4, 8, 16],
        scored=False,
        reduction="last",
        orders=4,
        seed=0,
    )
    assert set(points) == {f"{rule}:{n}" for rule in ("beta", "esc") for n in (2, 4, 8, 16)}
    assert points["beta:16"] == RulePoint(1.0, 4.0)
    assert points["esc:16"] == RulePoint(1.0, 4.0)
    assert points["beta:2"] == RulePoint(1.0, 2.0)  # N caps it
    split = replay_rules(
        [pool(f"q{i}", ["1", "2"] * 8) for i in range(5)],
        [16],
        scored=False,
        reduction="last",
        orders=8,
        seed=0,
    )
    # an even split settles only on an early run of one answer: far dearer, and wrong
    # (or right) as the order falls
    assert 8.0 < split["beta:16"].mean_cost <= 16.0
    assert 0.0 < split["beta:16"].accuracy < 1.0


def test_a_rule_is_chosen_only_where_it_beat_the_decision_model_within_the_budget():
    rules = {"beta:16": RulePoint(0.60, 11.0), "esc:16": RulePoint(0.60, 12.0)}
    calibrated = model([(0.50, 4.0), (0.58, 11.0), (0.60, 16.0)], rules)
    assert better_rule(calibrated, 11.0) == "beta:16"  # 0.60 against 0.58
    assert better_rule(calibrated, 10.0) is None  # no rule fits 10 generations
    assert better_rule(calibrated, 16.0) is None  # the model reaches 0.60 too: no gain
    weak = model([(0.70, 4.0)], rules)
    assert better_rule(weak, 16.0) is None  # the simulator's case: the model is better


def test_a_rule_that_tops_out_below_plain_sampling_is_not_chosen():
    """A verifier margin that stops at two samples beats the decision model's held-out
    curve (which stops early too) but not sampling to B: total:B must not be capped by it."""
    rules = {"margin:8": RulePoint(0.925, 2.4)}
    calibrated = model([(0.92, 2.4)], rules)
    calibrated = replace(calibrated, rung_accuracy={1: 0.88, 2: 0.90, 4: 0.927, 8: 0.94})
    assert better_rule(calibrated, 3.0) == "margin:8"  # sampling to 2: 0.90
    assert better_rule(calibrated, 4.0) is None  # sampling to 4: 0.927
    assert better_rule(calibrated, 8.0) is None
    tie = replace(calibrated, baselines={"beta:8": RulePoint(0.94, 6.0)})
    assert better_rule(tie, 8.0) == "beta:8"  # as accurate as sampling to 8, for less


def test_total_hands_a_batch_to_the_rule_and_never_exceeds_b():
    calibrated = model([(0.5, 2.0), (0.58, 11.0), (0.62, 16.0)], {"beta:16": RulePoint(0.60, 11.0)})
    total = TotalPolicy(44.0)
    handed = total.for_batch(calibrated, 4, None, "generations")
    assert isinstance(handed, RuleWithinBudget) and str(handed) == "total:44"
    assert handed.shared_budget == 44.0 and handed.batch_wide
    assert (
        total.for_batch(calibrated, 2, None, "generations") is total
    )  # 22 a problem: the model's 0.62
    assert total.for_batch(calibrated, 4, None, "flops") is total
    # an unsettled vote on every problem: the rule wants one more sample each round,
    # and B stops it. 4 problems at 9 samples, 40 spent: 4 left, one more sample each
    problems = [
        LiveProblem(
            f"p{i}", np.zeros(1), tuple(candidate(a) for a in ["1", "2"] * 4 + ["1"]), 1, 9.0
        )
        for i in range(4)
    ]
    view = RoundView(model=calibrated, problems=problems, spent=40.0, cost_unit="generations")
    decisions = handed.decide(view)
    assert sum((d.budget or 9) - 9 for d in decisions if d.kind == "sample") <= 4
    view = RoundView(model=calibrated, problems=problems, spent=43.0, cost_unit="generations")
    decisions = handed.decide(view)
    assert sum((d.budget or 9) - 9 for d in decisions if d.kind == "sample") <= 1
    assert sum(d.kind == "stop" for d in decisions) >= 3
