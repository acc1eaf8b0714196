"""The router on the simulator, with a calibration built here (in-process, ~200 problems).

Held-out problems come from another simulator seed. Checked: the router under total:B
is at least as accurate as the best fixed strategy at the same total compute (and the
compute ratio is printed); the price policy spends less where problems are predicted
easy; probe samples end up in the sampling strategies' pools and are not paid twice.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from calibration.artifact import load_artifact
from calibration.config import CalibrationConfig
from calibration.pipeline import run_calibration
from router.evaluation import Evaluation
from router.execution import Job, execute
from router.options import Option
from router.policy import parse_policy
from router.problem_source import load_problem_set
from router.setup import Overrides, build_engines, resolve_settings
from router.solver import Plan, Router

CALIBRATION_PROBLEMS = 200
HELD_OUT = "simulator:200:1"
BUDGETS = (1, 2, 4, 8, 16)


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("router-sim") / "calibration"
    run_calibration(
        CalibrationConfig(
            problems=f"simulator:{CALIBRATION_PROBLEMS}",
            backend="simulator",
            verifier="simulator",
            prompt_config="llama-math",
            samples=16,
            budgets=BUDGETS,
            seeds=1,
            draws=16,
            probe_k=4,
            probe_draws=4,
            bootstrap=50,
            cv_repeats=1,
            batch_size=100,
            out=out,
            progress=False,
        )
    )
    return out


@pytest.fixture(scope="module")
def held_out():
    return load_problem_set(HELD_OUT)


@pytest.fixture(scope="module")
def router(artifact_dir, held_out) -> Router:
    artifact = load_artifact(artifact_dir)
    settings = resolve_settings(artifact.manifest, Overrides())
    generator, verifier = build_engines(settings, held_out.world)
    return Router(artifact, settings, generator, verifier, batch_size=100)


@pytest.fixture(scope="module")
def evaluation(router, held_out):
    return Evaluation(router, held_out.problems, resamples=200, budgets=[8, 16])


@pytest.fixture(scope="module")
def report(evaluation):
    return evaluation.run(["auto"], problems_label=HELD_OUT)


def test_total_budget_router_matches_the_best_fixed_strategy_at_equal_compute(report):
    top = report.matched[-1]
    assert top.budget == max(BUDGETS)
    routed = top.by_generations
    # the same total compute, probe included (tree searches count N generations)
    assert routed.mean_generations <= top.fixed.mean_generations + 1e-9
    match = next(c for c in report.to_match if c.budget == top.budget)
    print(
        f"\nheld-out {HELD_OUT}: router total:{top.fixed.mean_generations:g}/problem "
        f"{routed.accuracy:.3f} vs best fixed {top.fixed.name} {top.fixed.accuracy:.3f}; "
        f"router reaches it with {match.router_generations:.2f} generations per problem "
        f"instead of {match.fixed_generations:.2f}: ratio {match.ratio:.2f}x"
    )
    for c in report.to_match_sampling:
        print(f"  vs {c.fixed}: ratio {c.ratio}")
    assert routed.accuracy >= top.fixed.accuracy
    assert match.ratio is not None and match.ratio >= 1.0
    # against best-of-N (the paper's baseline) the saving is large
    sampling = next(c for c in report.to_match_sampling if c.budget == top.budget)
    assert sampling.ratio is not None and sampling.ratio > 2.0


def test_flops_matched_router_is_not_worse_at_any_budget(report):
    for comparison in report.matched:
        point, low, high = comparison.by_flops_difference
        assert point >= 0.0, comparison
        assert low <= point <= high


def test_price_policy_spends_less_on_problems_predicted_easy(evaluation):
    plan = evaluation.router.choose(evaluation.prepared, parse_policy("price:0.02"))
    extra_by_level: dict[int, list[float]] = defaultdict(list)
    for item, option in zip(evaluation.prepared, plan.choices, strict=True):
        extra_by_level[item.estimate.level].append(option.expected_cost)
    means = {level: float(np.mean(costs)) for level, costs in sorted(extra_by_level.items())}
    print(f"\nmean extra generations by predicted level at price 0.02: {means}")
    assert means[1] == 0.0  # the probe's own samples already answer them
    middle = max(means[level] for level in (2, 3, 4) if level in means)
    assert means[1] < middle


def test_probe_samples_are_reused_and_counted_once(router, evaluation):
    k = router.probe_k
    prepared = evaluation.prepared[:6]
    option = Option("weighted_best_of_n", 16, 0.5, 12.0, True)
    jobs = [Job(item.problem, option, item.probe) for item in prepared]
    outcomes = {o.job.problem.id: o for o in execute(jobs, router.context)}
    for item in prepared:
        result = outcomes[item.problem.id].result
        assert result is not None and result.error is None
        probe_texts = [c.text for c in item.probe.candidates]
        assert [c.text for c in result.candidates[:k]] == probe_texts
        assert result.extra["reused_candidates"] == k
        assert result.cost.generations == 16 - k  # only the top-up is generated
        assert result.cost.probe_generations == 0
    records = list(router.run(prepared, Plan([option] * len(prepared)), "test"))
    for rec in records:
        assert rec.reused_probe_samples == k
        assert rec.cost.probe_generations == k
        assert rec.cost.generations == 16
        assert rec.compute.generations == 16


def test_cli_evaluate_writes_a_table_and_json(artifact_dir, tmp_path, capsys):
    from router.cli import main

    out = tmp_path / "eval.json"
    code = main(
        [
            "evaluate",
            "simulator:40:2",
            "--calibration",
            str(artifact_dir),
            "--budgets",
            "8",
            "--policies",
            "auto,price:0.02",
            "--resamples",
            "50",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    text = captured.out
    counts = re.findall(r"fixed runs: (\d+) of (\d+) done", captured.err)
    assert counts and [int(done) for done, _ in counts] == list(range(1, len(counts) + 1))
    assert {int(total) for _, total in counts} == {len(counts)}
    assert "Matched compute" in text and "Compute to match" in text and "Headline" in text
    report = json.loads(out.read_text())
    assert {m["name"] for m in report["router"]} == {"router auto", "router price:0.02"}
    assert {m["budget"] for m in report["fixed"]} == {8}
    assert report["num_problems"] == 40
    assert report["overlap_with_calibration"] == 0  # another simulator seed: held out
    assert out.with_suffix(".txt").read_text().startswith("ttc evaluate: 40 held-out problems")
