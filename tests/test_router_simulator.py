"""The router on the simulator, with a calibration built here (in-process, ~200 problems).

Held-out problems come from another simulator seed. Checked: the router under total:B
is at least as accurate as the best fixed strategy at the same total compute (and the
compute ratio is printed); the price policy spends less where problems are easy; every
sample a problem draws stays in its final vote and is counted once; the oracle limit
bounds what the router saves.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from calibration.config import CalibrationConfig
from calibration.pipeline import run_calibration
from calibration.store.artifact import load_artifact
from router.evaluation.harness import Evaluation
from router.execution import reuses_samples
from router.problem_source import load_problem_set
from router.setup import Overrides, build_engines, resolve_settings
from router.solver import Router

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


def test_total_budget_router_is_never_significantly_worse_at_equal_compute(report):
    for comparison in report.matched:
        routed = comparison.by_generations
        # the same total compute, everything included (tree searches count N generations)
        assert routed.mean_generations <= comparison.fixed.mean_generations + 1e-9
        point, low, high = comparison.by_generations_difference
        print(
            f"\nheld-out {HELD_OUT}, N={comparison.budget}: router {routed.accuracy:.3f} vs "
            f"{comparison.fixed.name} {comparison.fixed.accuracy:.3f} at equal generations "
            f"(difference {point:+.3f} [{low:+.3f}, {high:+.3f}])"
        )
        assert high >= 0.0  # the interval of the difference reaches zero or above
    for match in report.to_match + report.to_match_sampling:
        print(f"  to match {match.fixed}: ratio {match.ratio}")
    # against best-of-N (the paper's baseline) the saving is large
    sampling = next(c for c in report.to_match_sampling if c.budget == max(BUDGETS))
    assert sampling.ratio is not None and sampling.ratio > 2.0


def test_flops_matched_router_spends_within_its_budget(report):
    for comparison in report.matched:
        point, low, high = comparison.by_flops_difference
        assert low <= point <= high
        # FLOPs are capped by the calibration's per-action estimates, so only roughly
        assert comparison.by_flops.mean_flops <= comparison.fixed.mean_flops * 1.25


def test_price_policy_spends_less_on_easy_problems(router, held_out):
    records = {r.id: r for r in router.solve(held_out.problems, "price:0.01")}
    hidden = sorted(held_out.problems, key=lambda p: p.metadata["difficulty"])
    third = len(hidden) // 3
    easy = np.mean([records[p.id].compute.generations for p in hidden[:third]])
    middle = np.mean([records[p.id].compute.generations for p in hidden[third : 2 * third]])
    print(f"\nmean generations at price 0.01: easiest third {easy:.2f}, middle third {middle:.2f}")
    assert easy < middle


def test_every_sample_stays_in_the_vote_and_is_counted_once(router, held_out):
    for record in router.solve(held_out.problems[:30], "price:0.005"):
        tree = not reuses_samples(record.strategy)
        assert record.compute.generations == record.samples + (record.budget if tree else 0)
        if not tree:  # stopped on its samples: the vote is over every one of them
            assert record.budget == record.samples == record.cost.generations
            assert record.route[-1] == "stop"
            assert all(step.startswith("sample to") for step in record.route[:-1])


def test_the_oracle_needs_less_than_the_best_fixed_strategy(report):
    # (the oracle chooses among the fixed runs evaluated, here N=8 and 16 only, so the
    # router, which may stop after one sample, can undercut it; over every calibrated
    # budget it cannot)
    for limit in report.oracle:
        assert limit.oracle_generations is not None
        assert limit.oracle_generations <= limit.fixed_generations


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
    assert "One-draw oracle" in text and "credits luck" in text
    report = json.loads(out.read_text())
    # every problem's fixed outcomes are kept, for the expected oracle over draws
    assert len(report["problem_ids"]) == report["num_problems"]
    assert all(len(v) == report["num_problems"] for v in report["fixed_correct"].values())
    assert {m["name"] for m in report["router"]} == {"router auto", "router price:0.02"}
    assert [o["budget"] for o in report["oracle"]] == [8]
    assert {m["budget"] for m in report["fixed"]} == {8}
    assert report["num_problems"] == 40
    assert report["overlap_with_calibration"] == 0  # another simulator seed: held out
    assert out.with_suffix(".txt").read_text().startswith("ttc evaluate: 40 held-out problems")


def test_a_fixed_cap_buys_what_the_best_fixed_strategy_at_that_cap_does(router, held_out, report):
    """``--budget N`` on held-out problems: never more than N per problem, and about as
    accurate as the best fixed strategy at N (it used to sample on towards searches its
    cap could not pay for, and answer with a vote 20 points below). The calibration's
    own held-out figure for each cap is stored with the model."""
    heldout = router.model.capped.heldout
    assert sorted(heldout) == list(BUDGETS)
    for cap in (8, 16):
        records = list(router.solve(held_out.problems, str(cap)))
        spent = [r.compute.generations for r in records]
        accuracy = float(np.mean([r.correct for r in records]))
        best = max((m for m in report.fixed if m.budget == cap), key=lambda m: m.accuracy)
        print(
            f"\n--budget {cap}: {accuracy:.3f} at {np.mean(spent):.2f} generations; best fixed "
            f"{best.name} {best.accuracy:.3f}; calibration held out "
            f"{heldout[cap].accuracy:.3f} at {heldout[cap].mean_cost:.2f}"
        )
        assert max(spent) <= cap
        assert accuracy >= best.accuracy - 0.05


def test_the_text_report_names_strategies_without_their_parameters(report):
    """A real model's keys carry parameters ('rebase:depth=6,...@8'): in the table they
    would push every column out of line, so the table names them bare and a legend
    says what each name stands for."""
    from dataclasses import replace

    from router.evaluation.text_report import format_report

    def long(label: str) -> str:
        key, at, budget = label.rpartition("@")
        if not at or "best_of_n" in key or key.startswith("majority"):
            return label
        base, plus, rest = key.partition("+")
        return f"{base}:depth=6,step_tokens=48{plus}{rest}{at}{budget}"

    def rename(method):
        return replace(
            method, name=long(method.name), mix={long(k): v for k, v in method.mix.items()}
        )

    renamed = replace(
        report,
        fixed=[rename(m) for m in report.fixed],
        router=[rename(m) for m in report.router],
        matched=[replace(c, fixed=rename(c.fixed)) for c in report.matched],
        to_match=[replace(c, fixed=long(c.fixed)) for c in report.to_match],
    )
    assert any("depth=6" in m.name for m in renamed.fixed)
    text = format_report(renamed)
    assert format_report(report).splitlines()[:-1] == text.splitlines()[:-3]
    legend = text.splitlines()[-2]
    assert legend.startswith("Strategies: ") and "beam_search = beam_search:depth=6" in legend
    assert "depth=6" not in "\n".join(text.splitlines()[:-2])
