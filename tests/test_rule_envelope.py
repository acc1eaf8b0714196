"""total:B hands a batch to a published stopping rule only where the calibration says the
rule did better within the same compute, and --budget N only where the rule was as
accurate as the capped decision model for less; the rules replayed on calibration pools match
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
from router.policies.envelope import RuleUnderCap, RuleWithinBudget, better_rule
from router.policies.fixed import FixedPolicy
from runtime.decision_model import CappedContinuations, PricePoint, RulePoint, SequentialModel
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


def capped_model(
    heldout: dict[int, tuple[float, float]],
    baselines: dict[str, RulePoint],
    rung_accuracy: dict[int, float] | None = None,
) -> SequentialModel:
    capped = CappedContinuations(
        price=0.0,
        by_cap={},
        heldout={cap: PricePoint(0.0, acc, cost) for cap, (acc, cost) in heldout.items()},
    )
    return replace(model([], baselines), capped=capped, rung_accuracy=dict(rung_accuracy or {}))


def test_a_cap_runs_a_rule_only_as_accurate_as_the_capped_model_and_cheaper():
    """The 8B pool's case: the capped model could not stop early without losing a problem
    held out, so it samples to 16; Adaptive-Consistency matched it at 11."""
    rules = {
        "beta:16": RulePoint(0.573, 11.4),
        "esc:16": RulePoint(0.573, 12.0),
        "beta:8": RulePoint(0.551, 6.9),
    }
    calibrated = capped_model({8: (0.56, 8.0), 16: (0.573, 16.0)}, rules, {8: 0.551, 16: 0.573})
    assert calibrated.rule_under_cap(16) == "beta:16"  # level, and the cheaper of the two
    assert calibrated.rule_under_cap(8) is None  # 0.551 against the model's 0.56
    assert calibrated.rule_under_cap(4) is None  # no held-out figure for this cap
    assert calibrated.rule_under_cap(12) is None  # nor for an uncalibrated one
    # sampling to the cap did better than the capped model: the rule must match that too
    sampling = replace(calibrated, rung_accuracy={16: 0.58})
    assert sampling.rule_under_cap(16) is None
    # a rule that spends as much as the capped model saves nothing
    dear = capped_model({16: (0.573, 11.4)}, rules)
    assert dear.rule_under_cap(16) is None
    assert replace(calibrated, capped=None).rule_under_cap(16) is None


def test_the_simulator_case_keeps_the_capped_model():
    """With scores the capped model's weighted vote and searches beat a majority rule."""
    calibrated = capped_model({16: (0.70, 15.2)}, {"beta:16": RulePoint(0.55, 12.0)})
    assert calibrated.rule_under_cap(16) is None
    fixed = FixedPolicy(16)
    assert fixed.for_batch(calibrated, 10, None, "generations") is fixed


def test_a_capped_batch_handed_to_the_rule_reads_as_the_cap_and_stays_under_it():
    calibrated = capped_model({16: (0.6, 16.0)}, {"beta:16": RulePoint(0.6, 11.0)})
    fixed = FixedPolicy(16)
    handed = fixed.for_batch(calibrated, 3, None, "generations")
    assert isinstance(handed, RuleUnderCap) and str(handed) == "16"
    assert not handed.batch_wide and handed.shared_budget is None
    assert handed.answer_rule(calibrated, 5) == AdaptiveConsistencyPolicy(16).answer_rule(
        calibrated, 5
    )
    assert not handed.needs_scores(calibrated)
    # it stops where Adaptive-Consistency stops, and an unsettled vote ends at the cap
    assert run_policy(handed, ["1"] * 16, 16) == run_policy(
        AdaptiveConsistencyPolicy(16), ["1"] * 16, 16
    )
    assert run_policy(handed, ["1", "2"] * 8, 16) == 16


def test_calibrate_names_the_rule_a_cap_runs():
    from calibration.summary import sequential_lines

    calibrated = capped_model(
        {8: (0.56, 8.0), 16: (0.573, 16.0)},
        {"beta:16": RulePoint(0.573, 11.4), "beta:8": RulePoint(0.551, 6.9)},
    )
    text = "\n".join(sequential_lines(calibrated))
    assert "N=8 -> 0.560/8.00  N=16 -> 0.573/16.00 (runs beta:16: 0.573/11.40)" in text
