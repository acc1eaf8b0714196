"""Router v3: the calibrated answer rule, never worse than spending the cap, scores of
any range, a generous total budget spent, and the expected oracle."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.stats import beta

from calibration.sequential.fit import (
    cap_baseline,
    fit_cap_thresholds,
    fit_capped_continuations,
    fit_folds,
    heldout_capped,
    replay,
)
from calibration.sequential.rule_choice import choose_answer_rules
from calibration.sequential.trajectories import TrainingPool, build_trajectories, order_rng
from router.cli import main
from router.evaluation.oracle import expected_oracle_compute
from router.policies import AutoPolicy, PolicyError, TotalPolicy
from router.policies.adaptive_consistency import AdaptiveConsistencyPolicy
from router.policies.base import LiveProblem, RoundView
from router.policies.verifier_margin import VerifierMarginPolicy
from runtime.answer_rule import MAJORITY_RULE, AnswerRule, candidate_rules
from runtime.decision_model import SequentialModel
from runtime.states import STOPPING_FEATURE_NAMES, stopping_features
from strategies.score_transforms import TransformedVerifier, detect_transform, transform_scores
from strategies.search.result import Candidate
from strategies.verification import ScoreRequest, StepScores

RUNGS = (0, 1, 2, 4, 8)


def candidate(answer: str | None, score: float | None = None) -> Candidate:
    return Candidate(
        text=f"so $\\boxed{{{answer}}}$",
        steps=("s",),
        step_scores=() if score is None else (score,),
        answer=answer,
        finish_reason="eos",
        num_tokens=10,
    )


def pool(pid: str, answers: list[str], scores: list[float] | None = None) -> TrainingPool:
    cands = tuple(
        candidate(a, None if scores is None else scores[i]) for i, a in enumerate(answers)
    )
    return TrainingPool(
        problem_id=pid,
        text=f"What is {pid}?",
        candidates=cands,
        correct=np.array([a == "1" for a in answers]),
        tree_accuracy={},
    )


def orders(pools: list[TrainingPool], count: int = 16) -> list[np.ndarray]:
    return [
        np.argsort(order_rng(p.problem_id, 0).random((count, len(p.candidates))), axis=1)
        for p in pools
    ]


# ---------------------------------------------------------------- the answer rule


def test_an_unscored_pool_is_answered_by_majority_and_its_vote_improves_with_samples():
    """5 of 8 samples right, the 3 wrong ones all different: majority@8 is always right.
    The old fixed rule, a "weighted" vote of missing scores, kept the first sample's
    answer (right 5/8 of the time at every rung), so more samples looked worthless."""
    pools = [pool(f"p{i}", ["1"] * 5 + ["2", "3", "4"]) for i in range(12)]
    assert candidate_rules(scored=False) == (MAJORITY_RULE,)
    assert set(choose_answer_rules(pools, RUNGS, orders(pools)).values()) == {MAJORITY_RULE}
    data = build_trajectories(pools, RUNGS, (), orders=16, reduction="last", seed=0)
    assert data.stop[RUNGS.index(8)].mean() == 1.0
    assert data.stop[RUNGS.index(1)].mean() == pytest.approx(5 / 8, abs=0.15)


def test_a_scored_pool_picks_the_verifier_where_it_knows_better():
    """The wrong answer is the majority, but the verifier scores the right one high."""
    answers = ["1", "1", "1", "2", "2", "2", "2", "2"]
    scores = [0.95, 0.9, 0.92, 0.1, 0.05, 0.1, 0.2, 0.1]
    pools = [pool(f"p{i}", answers, scores) for i in range(12)]
    rules = choose_answer_rules(pools, RUNGS, orders(pools))
    assert rules[8].uses_scores
    data = build_trajectories(pools, RUNGS, (), orders=16, reduction="last", seed=0)
    assert data.stop[RUNGS.index(8)].mean() == 1.0  # majority would be always wrong


def model_with_rules(rules: dict[int, AnswerRule]) -> SequentialModel:
    from runtime.decision_model import RungModel

    return SequentialModel(
        "last", (0, 1, 4), (), tuple(RungModel(r, None, {}) for r in (0, 1, 4)),
        answer_rules=rules,
    )  # fmt: skip


def test_every_policy_answers_with_the_rule_it_should():
    scored = model_with_rules({1: MAJORITY_RULE, 4: AnswerRule("best_of_n", "min")})
    unscored = model_with_rules({1: MAJORITY_RULE, 4: MAJORITY_RULE})
    assert AutoPolicy().answer_rule(scored, 6) == AnswerRule("best_of_n", "min")
    assert AutoPolicy().answer_rule(scored, 2) == MAJORITY_RULE
    assert AdaptiveConsistencyPolicy(8).answer_rule(scored, 6) == MAJORITY_RULE
    assert not AdaptiveConsistencyPolicy(8).needs_scores(scored) and AutoPolicy().needs_scores(
        scored
    )
    assert not unscored.scored and scored.scored
    VerifierMarginPolicy(8).check_model(scored)
    with pytest.raises(PolicyError, match="no verifier scores"):
        VerifierMarginPolicy(8).check_model(unscored)
    again = SequentialModel.from_json(json.loads(json.dumps(scored.to_json())))
    assert again.answer_rules == scored.answer_rules


def test_stopping_features_are_the_published_rules_statistics():
    cands = [candidate(a) for a in ["1", "2", "1", "1", "1", "1"]]
    values = dict(zip(STOPPING_FEATURE_NAMES, stopping_features(cands, "last"), strict=True))
    assert values["vote_confidence"] == pytest.approx(beta.sf(0.5, 5 + 1, 1 + 1))
    assert values["vote_margin"] == pytest.approx(4 / 6)
    assert values["window_unanimous"] == 1.0  # the last four agree
    assert values["weighted_margin"] == 0.0  # no scores
    split = [candidate(a, s) for a, s in [("1", 0.9), ("2", 0.3), ("2", 0.3)]]
    values = dict(zip(STOPPING_FEATURE_NAMES, stopping_features(split, "last"), strict=True))
    assert values["window_unanimous"] == 0.0
    assert values["weighted_margin"] == pytest.approx(0.3 / 1.5)


# ---------------------------------------------------------------- never worse than the cap


def varied_pools(count: int = 40) -> list[TrainingPool]:
    """Problems from hopeless to easy: k of 16 samples right, the rest split among three
    wrong answers, so that majority@N rises with N on some and falls on others."""
    pools = []
    for i in range(count):
        right = [2, 5, 7, 9, 12, 16][i % 6]
        wrong = [str(2 + j % 3) for j in range(16 - right)]
        pools.append(pool(f"q{i}", ["1"] * right + wrong))
    return pools


def test_a_capped_router_is_never_less_accurate_than_spending_its_cap_held_out():
    data = build_trajectories(
        varied_pools(), (0, 1, 2, 4, 8, 16), (), orders=16, reduction="last", seed=0
    )
    folds = fit_folds(data, reduction="last", prices=(0.0, 0.01, 0.1))
    caps = [2, 4, 8, 16]
    thresholds = fit_cap_thresholds(data, folds, caps, 0.0)
    held = heldout_capped(data, folds, caps, 0.0, thresholds)
    for cap in caps:
        # brute force: sample to the cap and vote, on the same rows
        assert held[cap].accuracy >= cap_baseline(data, cap).mean() - 1e-9
        assert held[cap].mean_cost <= cap + 1e-9


def test_never_stop_early_is_exactly_sampling_to_the_cap():
    data = build_trajectories(
        varied_pools(), (0, 1, 2, 4, 8), (), orders=8, reduction="last", seed=1
    )
    (fold, *_) = fit_folds(data, reduction="last", prices=(0.0, 0.01))
    capped = fit_capped_continuations(fold.model, fold.fitted, [8], 0.0)
    model = replace(fold.model, capped=replace(capped, thresholds={8: -math.inf}))
    outcome = replay(model, data, 0.0, budget=8)
    assert np.array_equal(outcome.accuracy, data.stop[-1])
    assert np.all(outcome.cost == 8.0)


def test_a_settled_pool_stops_at_once_under_any_cap():
    """Every sample agrees: more samples never change the answer, so the cap saves."""
    pools = [pool(f"s{i}", ["1" if i % 2 else "2"] * 8) for i in range(30)]
    data = build_trajectories(pools, RUNGS, (), orders=8, reduction="last", seed=0)
    folds = fit_folds(data, reduction="last", prices=(0.0, 0.01))
    thresholds = fit_cap_thresholds(data, folds, [8], 0.0)
    held = heldout_capped(data, folds, [8], 0.0, thresholds)
    assert thresholds[8] == 0.0 and held[8].mean_cost < 2.0
    assert held[8].accuracy == pytest.approx(0.5)


# ---------------------------------------------------------------- a generous total budget


def test_a_generous_total_budget_is_spent_where_votes_are_least_settled():
    """The decision model values sampling on a little below stopping (advantage -0.01):
    at its best price the router stops, spending nothing of a generous B. Under total:B
    the price goes below zero until B is used, so the batch is never answered on less
    than the budget could have drawn."""
    from runtime.decision_model import Continuation, RungModel
    from runtime.linear import LinearModel

    def constant(value: float, width: int, logistic: bool) -> LinearModel:
        intercept = math.log(value / (1 - value)) if logistic else value
        return LinearModel((0.0,) * width, (1.0,) * width, (0.0,) * width, intercept, logistic)

    rungs = (0, 1, 2, 4)
    models = []
    for index, rung in enumerate(rungs):
        width = 1 if rung == 0 else 3
        conts = ()
        if index < len(rungs) - 1:
            inputs = width if rung == 0 else 2 * width + 1
            step = float(rungs[index + 1] - rung)
            conts = tuple(
                Continuation(constant(-0.01, inputs, False), constant(step, inputs, False))
                for _ in (0.0, 0.1)
            )
        stop = None if rung == 0 else constant(0.6, width, True)
        models.append(RungModel(rung, stop, {}, conts))
    model = SequentialModel("last", rungs, (0.0, 0.1), tuple(models))
    problems = [LiveProblem(f"p{i}", np.zeros(3), (candidate("1"),), 1, 1.0) for i in range(4)]
    view = RoundView(model=model, problems=problems, spent=4.0, cost_unit="generations")
    stingy = AutoPolicy().decide(view)
    assert all(d.kind == "stop" for d in stingy)
    generous = TotalPolicy(16.0).decide(view)
    assert all(d.kind == "sample" for d in generous)
    assert sum((d.budget or 0) - 1 for d in generous) <= 12  # B is never exceeded


# ---------------------------------------------------------------- scores of any range


def test_logits_are_read_through_a_logistic_and_probabilities_as_they_are():
    assert detect_transform([0.1, 0.9, 1.0, 0.0]) == "identity"
    assert detect_transform([0.1, 3.5, -4.3]) == "logistic"
    assert transform_scores("logistic", (0.0, 1000.0, -1000.0)) == pytest.approx((0.5, 1.0, 0.0))

    class Logits:
        name = "orm"
        num_parameters = 7

        def score(self, requests):
            return [StepScores((3.0, -2.0), 12) for _ in requests]

    wrapped = TransformedVerifier(Logits(), "logistic")
    (result,) = wrapped.score([ScoreRequest("p", ("a", "b"))])
    assert result.scores == pytest.approx((1 / (1 + math.exp(-3)), 1 / (1 + math.exp(2))))
    assert (wrapped.name, wrapped.num_parameters, result.num_tokens) == ("orm", 7, 12)
    with pytest.raises(ValueError, match="unknown score transform"):
        TransformedVerifier(Logits(), "rank")


def write_logit_pool(path: Path, problems: int = 24, samples: int = 8) -> None:
    rng = np.random.default_rng(3)
    lines = []
    for i in range(problems):
        rows = []
        for _ in range(samples):
            right = rng.random() < 0.6
            answer = "7" if right else str(rng.integers(1, 6))
            logit = float(rng.normal(2.0 if right else -1.5, 1.0))
            rows.append({"text": f"so $\\boxed{{{answer}}}$", "score": logit})
        lines.append(json.dumps({"id": f"l{i}", "problem": f"Problem {i}?", "answer": "7",
                                 "samples": rows}))  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_logit_scored_pool_calibrates_records_its_transform_and_evaluates(tmp_path, capsys):
    pool_file = tmp_path / "logits.jsonl"
    write_logit_pool(pool_file)
    out = tmp_path / "calibration"
    quick = ["--seeds", "1", "--draws", "16", "--bootstrap", "50", "--cv-repeats", "1",
             "--probe-k", "2", "--probe-draws", "2", "--no-progress"]  # fmt: skip
    code = main(["calibrate", "--pool", str(pool_file), "--pool-split", "0/2", "--budgets",
                 "1,2,4,8", "--out", str(out), *quick])  # fmt: skip
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["verifier_options"] == {"score_transform": "logistic"}
    model = json.loads((out / "sequential_model.json").read_text())
    assert any(rule["method"] != "majority" for rule in model["answer_rules"].values())
    report = tmp_path / "evaluate.json"
    code = main(["evaluate", "--calibration", str(out), "--pool", str(pool_file),
                 "--pool-split", "1/2", "--resamples", "50", "--no-progress",
                 "--out", str(report)])  # fmt: skip
    assert code == 0
    data = json.loads(report.read_text())
    assert {"margin:8", "beta:8"} <= {r["policy"] for r in data["router"]}
    assert len(data["problem_ids"]) == 12 and "majority@8" in data["fixed_correct"]
    # a pool records no FLOPs: there is nothing to match in FLOPs (every action would
    # cost 0, and a "matched" router would sample without limit), and the report says so
    assert all(m["by_flops"] is None and m["by_flops_difference"] is None for m in data["matched"])
    assert all(m["by_generations"]["mean_generations"] > 0 for m in data["matched"])
    text = report.with_suffix(".txt").read_text()
    assert "Matched compute in FLOPs: not measured, this calibration records no FLOPs" in text
    assert "Matched compute in generations" in text
    # nor can a FLOPs budget bind there: refused with one line, before anything runs
    code = main(["evaluate", "--calibration", str(out), "--pool", str(pool_file),
                 "--pool-split", "1/2", "--cost-unit", "flops", "--no-progress",
                 "--out", str(tmp_path / "flops.json")])  # fmt: skip
    assert code == 2
    assert "--cost-unit flops: " in capsys.readouterr().err
    assert not (tmp_path / "flops.json").exists()


# ---------------------------------------------------------------- the expected oracle


def test_the_expected_oracle_on_a_hand_built_case():
    """Problem A: right half the time for 1 generation, always for 4; B: 20 % for 4.
    Cheapest mixes: 0.25 -> A's first step (0.5 gens per problem); 0.5 -> A's both
    (2.0); 0.6 -> and B's (4.0); 0.7 -> out of reach."""
    accuracy = np.array([[0.5, 1.0], [0.0, 0.2]])
    costs = np.array([[1.0, 4.0], [1.0, 4.0]])
    got = [expected_oracle_compute(accuracy, costs, t) for t in (0.25, 0.5, 0.6, 0.7)]
    assert got[:3] == pytest.approx([0.5, 2.0, 4.0]) and got[3] is None
    # a lucky draw's oracle would give B its 4-generation run whenever it happened to win


@pytest.mark.parametrize("seed", range(6))
def test_the_expected_oracle_is_the_linear_programme_optimum(seed):
    rng = np.random.default_rng(seed)
    problems, actions = 6, 4
    accuracy = rng.random((problems, actions))
    costs = np.tile(np.array([1.0, 2.0, 4.0, 8.0]), (problems, 1))
    target = 0.8 * accuracy.max(axis=1).mean()
    # variables x[p, a] >= 0, sum_a x[p, a] <= 1 (the rest: nothing, free and wrong)
    result = linprog(
        c=costs.ravel() / problems,
        A_ub=np.vstack([-accuracy.ravel() / problems, np.kron(np.eye(problems), np.ones(actions))]),
        b_ub=np.concatenate([[-target], np.ones(problems)]),
        bounds=(0, None),
    )
    assert result.success
    assert expected_oracle_compute(accuracy, costs, target) == pytest.approx(result.fun, rel=1e-6)
