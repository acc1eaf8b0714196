"""`ttc curves` on artifacts built here on the simulator: table, formats, plots, command."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from calibration.config import CalibrationConfig
from calibration.curves.data import OPTIMAL, ROUTER, STRATEGY, build_report
from calibration.curves.plots import OVERVIEW, PLOTS, SIZES, plot_paths, write_plots
from calibration.curves.routing import replay_heldout_routing
from calibration.curves.table import WIDTH, render, render_text
from calibration.pipeline import run_calibration
from calibration.store.artifact import load_artifact
from calibration.store.evaluation_records import EvaluationReport, MethodSummary, SweepPoint
from router.cli import main

GOLDEN = Path(__file__).parent / "golden" / "curves_simulator.txt"
BUDGETS = (1, 2, 4, 8)


def calibrate(out: Path, problems: int, **overrides) -> Path:
    settings = {
        "problems": f"simulator:{problems}",
        "backend": "simulator",
        "verifier": "simulator",
        "prompt_config": "llama-math",
        "samples": 16,
        "budgets": BUDGETS,
        "seeds": 1,
        "draws": 16,
        "probe_k": 4,
        "probe_draws": 4,
        "bootstrap": 100,
        "cv_repeats": 3,
        "batch_size": 40,
        "out": out,
        "progress": False,
    }
    run_calibration(CalibrationConfig(**{**settings, **overrides}))
    return out


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory) -> Path:
    return calibrate(tmp_path_factory.mktemp("curves") / "sim", 40)


@pytest.fixture(scope="module")
def artifact(artifact_dir):
    return load_artifact(artifact_dir)


@pytest.fixture(scope="module")
def report(artifact):
    return build_report(artifact)


def test_the_replayed_cross_validation_reproduces_the_tables_heldout_figures(artifact):
    for name, binning in artifact.table.binnings.items():
        replay = replay_heldout_routing(artifact, name)
        for b, budget in enumerate(replay.budgets):
            assert replay.accuracy[b] == pytest.approx(binning.routing.heldout[budget], abs=1e-12)
            assert replay.ci_low[b] <= replay.accuracy[b] <= replay.ci_high[b]
    # at N=1 every strategy is one sample, so the choice costs what one sample costs
    oracle = replay_heldout_routing(artifact, "oracle")
    single = artifact.table.overall[1]["majority"].cost
    assert oracle.costs[0, 1] == pytest.approx(single.generated_tokens)


def test_report_has_every_strategy_binning_and_the_default_target(artifact, report):
    table = artifact.table
    assert [c.key for c in report.group(STRATEGY)] == list(table.strategies)
    assert [c.key for c in report.group(OPTIMAL)] == [
        "optimal:oracle",
        "optimal:verifier",
        "optimal:predicted",
        "optimal:absolute",
    ]
    assert report.group(ROUTER) == []
    dvts = report.curve("dvts")
    assert [p.budget for p in dvts.points] == [2, 4, 8]  # tree searches start at N=2
    assert dvts.at_budget(8).accuracy == table.overall[8]["dvts"].accuracy
    oracle = report.curve("optimal:oracle")
    assert [p.accuracy for p in oracle.points] == [
        table.binning("oracle").routing.heldout[b] for b in BUDGETS
    ]
    # default target: best-of-N (the better form) at its largest budget
    baseline = max(("best_of_n", "weighted_best_of_n"), key=lambda s: table.overall[8][s].accuracy)
    assert report.reference == baseline
    assert report.target == table.overall[8][baseline].accuracy
    assert report.reach[baseline].compute == pytest.approx(8)
    # on the simulator, choosing per bin matches best-of-N's best with less compute
    assert report.savings("optimal:oracle") > 1.5
    assert report.coverage == table.coverage and report.coverage_fit is not None
    assert report.coverage_fit.a < 0 and report.coverage_fit.b < 0


def test_text_table_matches_the_golden_file_and_fits_80_columns(report):
    text = render_text(report)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    assert "/tmp" not in text and "pytest" not in text  # nothing machine-specific
    assert text == GOLDEN.read_text(), (
        "ttc curves' text output changed; if intended, rerun with UPDATE_GOLDEN=1 and review "
        "the diff of tests/golden/curves_simulator.txt"
    )


def test_text_for_other_axes_adds_the_cost_line_and_stays_within_80_columns(artifact):
    for axis in ("tokens", "flops"):
        text = render_text(build_report(artifact, axis=axis, binning="verifier"))
        assert max(len(line) for line in text.splitlines()) <= WIDTH
        assert f"    {axis}" in text
        assert "best strategy per verifier level" in text


def test_csv_parses_back_to_every_point(report):
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert len(rows) == sum(len(c.points) for c in report.curves)
    for row in rows:
        point = report.curve(row["curve"]).at_budget(int(float(row["budget"])))
        assert point is not None
        assert float(row["accuracy"]) == point.accuracy
        assert float(row["ci_low"]) == point.ci_low
        assert float(row["flops"]) == point.flops


def test_json_parses_back_with_curves_reach_coverage_and_levels(report):
    data = json.loads(render(report, "json"))
    assert data["axis"] == "generations" and data["binning"] == "oracle"
    assert data["target"] == report.target
    by_key = {c["key"]: c for c in data["curves"]}
    assert list(by_key) == [c.key for c in report.curves]
    oracle = by_key["optimal:oracle"]
    assert [p["accuracy"] for p in oracle["points"]] == [
        p.accuracy for p in report.curve("optimal:oracle").points
    ]
    assert oracle["reach"] == report.reach["optimal:oracle"].compute
    assert data["coverage"]["fit"]["a"] == report.coverage_fit.a
    assert [row["level"] for row in data["levels"]] == [1, 2, 3, 4, 5]
    assert data["predictor"]["probe_k"] == 4
    assert "created" not in json.dumps(data)


def test_markdown_is_a_pipe_table_with_one_row_per_curve(report):
    lines = render(report, "markdown").splitlines()
    table = [line for line in lines if line.startswith("|")]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert header[:2] == ["curve", "group"]
    assert header[2:6] == [f"N={b}" for b in BUDGETS]
    assert set(table[1].replace("|", "").split()) == {"---"}
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table[2:]]
    assert [row[0] for row in rows] == [c.label for c in report.curves]
    assert all(len(row) == len(header) for row in rows)
    majority = next(row for row in rows if row[0] == "majority")
    assert majority[2].startswith(f"{100 * report.curve('majority').points[0].accuracy:.1f} (")


def test_every_plot_is_written_at_its_size_and_is_not_blank(artifact, report, tmp_path):
    outcome = write_plots(report, artifact, tmp_path / "curves.png")
    assert outcome.skipped == {}
    assert set(outcome.written) == {OVERVIEW, *PLOTS}
    assert outcome.written == plot_paths(tmp_path / "curves.png")
    for name, path in outcome.written.items():
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.size == SIZES[name], name
            grey = np.asarray(image.convert("L"))
        # something was drawn: a fair share of non-white pixels, not a flat picture
        assert (grey < 250).mean() > 0.03, name
        assert grey.std() > 20, name


def test_command_prints_the_table_and_writes_plots_into_a_folder(
    artifact_dir, report, tmp_path, capsys
):
    assert main(["curves", str(artifact_dir), "--png", str(tmp_path / "plots")]) == 0
    captured = capsys.readouterr()
    assert captured.out == render_text(report)
    for name in (OVERVIEW, *PLOTS):
        with Image.open(tmp_path / "plots" / f"{name}.png") as image:
            assert image.size == SIZES[name]
        assert f"wrote {name} plot" in captured.err
    assert main(["curves", str(artifact_dir), "--format", "json", "--x", "flops"]) == 0
    assert json.loads(capsys.readouterr().out)["axis"] == "flops"
    assert main(["curves", str(artifact_dir), "--target", "60%", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("group,curve,")


def test_a_folder_that_is_not_an_artifact_fails_clearly(tmp_path, capsys):
    assert main(["curves", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} is not a calibration artifact: it has no manifest.json" in err
    assert main(["curves", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_router_results_in_the_artifact_are_shown_in_table_and_plot(artifact_dir, tmp_path, capsys):
    folder = tmp_path / "with-router"
    shutil.copytree(artifact_dir, folder)
    policy = MethodSummary(
        name="router auto",
        kind="router",
        policy="auto",
        cost_unit="generations",
        accuracy=0.85,
        ci_low=0.8,
        ci_high=0.9,
        mean_generations=5.5,
        mean_tokens=1800.0,
        mean_flops=4.0e13,
    )
    sweep = [SweepPoint(b, a, b, b * 7e12) for b, a in ((4.0, 0.6), (6.0, 0.8), (12.0, 0.9))]
    report = EvaluationReport(
        problems="simulator:50:1",
        num_problems=50,
        calibration=str(folder),
        model="simulator",
        verifier="simulator",
        probe_k=4,
        seed=0,
        resamples=100,
        fixed=[],
        router=[policy],
        matched=[],
        sweep=sweep,
        to_match=[],
    )
    evaluation = report.to_json()
    (folder / "evaluation.json").write_text(json.dumps(evaluation))
    assert main(["curves", str(folder), "--png", str(tmp_path / "r.png")]) == 0
    out = capsys.readouterr().out
    assert "router on held-out problems (ttc evaluate; probe in its compute)" in out
    assert "router auto" in out and "85.0" in out and "80-90" in out
    assert "router results from" in out and str(folder / "evaluation.json") in out
    assert "50 held-out" in out
    # other problems than the calibration's: no reach against its target, once in the table
    assert out.count("router auto") == 1
    assert "router sweep" not in out  # a grid of points: plotted and in JSON/CSV only
    # only an unbreakable path may pass 80 columns
    assert all(len(line) <= WIDTH or " " not in line.strip() for line in out.splitlines())
    with Image.open(tmp_path / "r-accuracy.png") as image:
        assert image.size == SIZES["accuracy"]
    assert main(["curves", str(folder), "--format", "json"]) == 0
    curves = {c["key"]: c for c in json.loads(capsys.readouterr().out)["curves"]}
    assert [p["accuracy"] for p in curves["router:sweep"]["points"]] == [0.6, 0.8, 0.9]
    assert curves["router:auto"]["reach"] is None


def test_an_artifact_without_predictor_says_which_plot_it_cannot_draw(tmp_path, capsys):
    small = calibrate(
        tmp_path / "tiny",
        6,
        samples=4,
        budgets=(1, 2),
        strategies=("majority", "beam_search"),
        draws=4,
        probe_k=2,
        probe_draws=2,
        bootstrap=20,
        cv_repeats=1,
    )
    artifact = load_artifact(small)
    assert artifact.difficulty_predictor() is None
    report = build_report(artifact)
    text = render_text(report)
    assert "difficulty predictor: none in this artifact" in text
    assert "\n  predicted bins" not in text  # no compute-optimal row for it
    outcome = write_plots(report, artifact, tmp_path / "png")
    assert set(outcome.skipped) == {"difficulty"}
    assert "no difficulty predictor" in outcome.skipped["difficulty"]
    assert {OVERVIEW, "accuracy", "bins", "coverage"} == set(outcome.written)
    assert main(["curves", str(small), "--bins", "predicted"]) == 2
    assert "has no 'predicted' binning" in capsys.readouterr().err
    assert main(["curves", str(small), "--png", str(tmp_path / "cli")]) == 0
    assert "skipped difficulty plot: the artifact has no difficulty predictor" in (
        capsys.readouterr().err
    )
    assert not math.isnan(report.target)
