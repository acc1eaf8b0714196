"""`ttc evaluate` results read as curves: the router's own JSON form, and where it is found."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from calibration.curves.evaluation import (
    FIXED_KEY,
    MATCHED_KEY,
    SWEEP_KEY,
    find_router_curves,
    router_curves,
)
from calibration.store.evaluation_records import (
    ComputeToMatch,
    EvaluationError,
    EvaluationReport,
    MatchedComparison,
    MethodSummary,
    SweepPoint,
    report_from_json,
)


def method(name: str, accuracy: float, generations: float, **extra) -> MethodSummary:
    return MethodSummary(
        name=name,
        kind=extra.pop("kind", "router"),
        accuracy=accuracy,
        ci_low=accuracy - 0.1,
        ci_high=accuracy + 0.05,
        mean_generations=generations,
        mean_flops=generations * 1e13,
        mean_tokens=generations * 300,
        **extra,
    )


def sample_report(calibration: str) -> EvaluationReport:
    """A report as `ttc evaluate` fills it."""
    fixed8 = method("beam_search@8", 0.9, 8.0, kind="fixed", strategy="beam_search", budget=8)
    fixed2 = method("best_of_n@2", 0.6, 2.0, kind="fixed", strategy="best_of_n", budget=2)
    report = EvaluationReport(
        problems="simulator:40:1",
        num_problems=40,
        calibration=calibration,
        model="smollm2",
        verifier="simulator",
        probe_k=4,
        seed=0,
        resamples=100,
        fixed=[fixed2, fixed8],
        router=[
            method("router auto", 0.82, 6.5, policy="auto", cost_unit="generations"),
            method("router 8", 0.88, 12.0, policy="8", cost_unit="generations"),
            method("router 2", 0.62, 5.0, policy="2", cost_unit="generations"),
            method("router price:0.01", 0.8, 6.0, policy="price:0.01", cost_unit="generations"),
        ],
        matched=[
            MatchedComparison(
                budget=budget,
                fixed=best,
                by_generations=method(f"router total:{budget * 40}", acc, budget + 0.5),
                by_generations_difference=(0.0, -0.1, 0.1),
                by_flops=method(f"router total:{budget}e13 (FLOPs)", acc, budget),
                by_flops_difference=(0.0, -0.1, 0.1),
            )
            for budget, best, acc in ((2, fixed2, 0.65), (8, fixed8, 0.86))
        ],
        sweep=[SweepPoint(b, a, b, b * 1e13) for b, a in ((4.0, 0.6), (8.0, 0.8), (12.0, 0.9))],
        to_match=[ComputeToMatch(8, "beam_search@8", 0.9, 8.0, 12.0, 8.0 / 12.0)],
    )
    return report


def evaluation(calibration: str) -> dict:
    """The report's JSON, as `ttc evaluate` writes it (its own records' to_json)."""
    return json.loads(json.dumps(sample_report(calibration).to_json()))


def test_the_written_report_reads_back_as_the_same_records():
    assert report_from_json(evaluation("x"), "e.json") == sample_report("x")


def test_a_report_missing_a_field_or_with_a_wrong_type_names_the_place():
    data = evaluation("x")
    del data["matched"][1]["fixed"]["mean_tokens"]
    with pytest.raises(
        EvaluationError, match=r"^e\.json: matched\[1\]\.fixed: needs 'mean_tokens'$"
    ):
        report_from_json(data, "e.json")
    data = evaluation("x")
    data["sweep"] = {"accuracy": 1}
    with pytest.raises(EvaluationError, match=r"^e\.json: 'sweep' should be a list$"):
        report_from_json(data, "e.json")
    data = evaluation("x")
    data["to_match"][0]["budget"] = 8.5
    with pytest.raises(EvaluationError, match=r"to_match\[0\]: 'budget' is 8\.5, not a whole"):
        report_from_json(data, "e.json")


def test_the_routers_json_becomes_policy_baseline_matched_and_sweep_curves(tmp_path):
    curves = {c.key: c for c in router_curves(report_from_json(evaluation("x"), "e.json"))}
    assert set(curves) == {
        "router:auto",
        "router:N",
        "router:price",
        FIXED_KEY,
        MATCHED_KEY,
        SWEEP_KEY,
    }
    fixed_n = curves["router:N"]
    assert [p.budget for p in fixed_n.points] == [5.0, 12.0]  # ordered by compute
    assert [p.label for p in fixed_n.points] == ["router N=2", "router N=8"]
    auto = curves["router:auto"].points[0]
    assert (auto.accuracy, auto.ci_low, auto.tokens, auto.flops) == pytest.approx(
        (0.82, 0.72, 6.5 * 300, 6.5e13)
    )
    assert [p.label for p in curves[FIXED_KEY].points] == ["fixed bon@2", "fixed beam@8"]
    assert [p.budget for p in curves[MATCHED_KEY].points] == [2.5, 8.5]  # by generations
    sweep = curves[SWEEP_KEY].points
    assert [p.accuracy for p in sweep] == [0.6, 0.8, 0.9]
    assert all(p.ci_low != p.ci_low for p in sweep)  # no interval: NaN


def test_a_file_inside_the_artifact_is_used_with_its_headline(tmp_path):
    folder = tmp_path / "artifact"
    folder.mkdir()
    (folder / "evaluation.json").write_text(json.dumps(evaluation("elsewhere")))
    curves, notes = find_router_curves(folder)
    assert {c.key for c in curves} >= {"router:auto", SWEEP_KEY}
    assert notes[0].startswith(f"router results from {folder / 'evaluation.json'}")
    assert "40 held-out problems, simulator:40:1" in notes[0]
    assert "matched beam_search@8's 90.0% with 12 generations" in notes[1]
    assert "1.5x more compute" in notes[1]


def test_a_file_beside_the_artifact_must_name_it(tmp_path):
    folder = tmp_path / "artifact"
    folder.mkdir()
    beside = tmp_path / "sim-evaluation.json"
    beside.write_text(json.dumps(evaluation(str(tmp_path / "another-artifact"))))
    assert find_router_curves(folder) == ([], [])
    beside.write_text(json.dumps(evaluation(str(folder))))
    curves, notes = find_router_curves(folder)
    assert curves and str(beside) in notes[0]


def test_the_default_output_of_ttc_evaluate_is_found(tmp_path, monkeypatch):
    folder = tmp_path / "artifacts" / "sim"
    folder.mkdir(parents=True)
    work = tmp_path / "work"
    out = work / "runs" / "evaluate" / "sim"
    out.mkdir(parents=True)
    monkeypatch.chdir(work)
    older, newer = out / "a.json", out / "b.json"
    older.write_text(json.dumps(evaluation("../artifacts/sim")))  # relative to the work dir
    newer.write_text(json.dumps(evaluation(str(folder))))
    os.utime(older, (1_000_000, 1_000_000))
    curves, notes = find_router_curves(folder)
    assert curves
    assert notes[0].startswith(f"router results from {newer}")
    assert notes[-1] == "1 other evaluation file(s) found; pick one with --evaluation FILE"


def test_bad_files_are_refused_when_given_and_passed_over_when_found(tmp_path):
    folder = tmp_path / "artifact"
    folder.mkdir()
    broken = folder / "evaluation.json"
    broken.write_text("{not json")
    with pytest.raises(EvaluationError, match=r"evaluation\.json is not valid JSON"):
        find_router_curves(folder, broken)
    curves, notes = find_router_curves(folder)
    assert curves == [] and "passed over" in notes[0]
    data = evaluation(str(folder))
    data["router"][0]["accuracy"] = "high"
    broken.write_text(json.dumps(data))
    with pytest.raises(EvaluationError, match=r"router\[0\]: 'accuracy' is 'high'"):
        find_router_curves(folder, broken)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"kind": "ttc-router calibration"}))
    with pytest.raises(EvaluationError, match="is not `ttc evaluate` output"):
        find_router_curves(folder, other)
    with pytest.raises(EvaluationError, match="no such evaluation file"):
        find_router_curves(folder, Path(tmp_path / "missing.json"))
