"""`ttc solve` on the command line, on the simulator with a small calibration built here:
every policy end to end, resume after SIGKILL, bad problem lines, artifacts from another
model (warning) or schema (refusal), and the missing shipped artifact."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sim_calibration import calibrate_simulator
from slow_ttc import SLOW_TTC

from calibration.config import default_strategies
from router.cli import main
from router.execution import reuses_samples

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = "simulator:24:1"


@pytest.fixture(scope="module")
def calibration(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("solve-cli") / "sim"
    calibrate_simulator(
        out,
        problems="simulator:40",
        budgets=(1, 2, 4, 8),
        strategies=default_strategies(),
        draws=8,
        bootstrap=20,
        batch_size=40,
    )
    return out


def solve(calibration: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "solve",
            PROBLEMS,
            "--calibration",
            str(calibration),
            "--out",
            str(out),
            "--no-progress",
            "--batch-size",
            "5",
            *extra,
        ]
    )


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("budget", ["auto", "4", "total:150", "price:0.05", "esc:8"])
def test_every_policy_answers_every_problem(calibration, tmp_path, capsys, budget):
    out = tmp_path / "answers.jsonl"
    assert solve(calibration, out, "--budget", budget) == 0
    records = lines(out)
    assert sorted(r["id"] for r in records) == [f"sim-{i:04d}" for i in range(24)]
    for r in records:
        assert r["status"] in ("ok", "no_answer") and r["policy"] == budget
        assert r["correct"] is not None and r["reference"] is not None
        assert r["route"] and (r["route"][-1] == "stop" or "@" in r["route"][-1])
        # every generation counts: the samples drawn, plus N for a tree search
        tree = 0 if reuses_samples(r["strategy"]) else r["budget"]
        assert r["compute"]["generations"] == r["samples"] + tree >= 1
        assert r["compute"]["flops"] > 0
        if r["status"] == "ok":
            assert r["answer"] and r["solution"]
    if budget == "4":  # at most 4 per problem
        assert max(r["compute"]["generations"] for r in records) <= 4
    if budget == "total:150":
        assert sum(r["compute"]["generations"] for r in records) <= 150
    captured = capsys.readouterr()
    summary = captured.out
    assert f"budget     {budget}" in summary and "accuracy" in summary and "generations" in summary
    assert "do not look like the calibration's" not in captured.err  # held-out, same kind
    # rerunning the same command finds everything done and does nothing
    before = out.read_text()
    assert solve(calibration, out, "--budget", budget) == 0
    assert out.read_text() == before
    assert "24 finished by an earlier run" in capsys.readouterr().out


def _comparable(path: Path) -> dict[str, tuple]:
    return {
        r["id"]: (r["answer"], r["strategy"], r["budget"], r["compute"]["generations"])
        for r in lines(path)
    }


def test_resume_after_a_kill_gives_the_uninterrupted_answers(calibration, tmp_path):
    whole = tmp_path / "whole.jsonl"
    assert solve(calibration, whole, "--budget", "price:0.05") == 0
    out = tmp_path / "killed.jsonl"
    args = ["solve", PROBLEMS, "--calibration", str(calibration), "--out", str(out),
            "--no-progress", "--batch-size", "5", "--budget", "price:0.05"]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_TTC, "0.3", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    try:
        while not out.exists() or len(out.read_text().splitlines()) < 3:
            if process.poll() is not None:
                pytest.fail(f"solve ended before the kill: {process.stderr.read()!r}")
            if time.monotonic() > deadline:
                pytest.fail("solve made no progress")
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
        assert process.stderr is not None
        process.stderr.close()
    done = len(lines(out))
    assert 3 <= done < 24
    with out.open("a") as stream:  # a kill in the middle of writing a line
        stream.write('{"id": "sim-0023", "status": "ok", "answ')
    calls = out.with_name(out.name + ".calls")
    assert calls.exists()  # the killed run's generator and verifier calls, for the rerun
    logged = len(calls.read_text().splitlines())
    assert solve(calibration, out, "--budget", "price:0.05") == 0
    assert logged > 0 and not calls.exists()  # served from the log, removed once all finished
    assert len(lines(out)) == 24
    # the same answers, and each problem's compute counted once (not again for the rerun)
    assert _comparable(out) == _comparable(whole)


def test_a_resumed_total_budget_shares_out_only_what_is_left(calibration, tmp_path):
    out = tmp_path / "answers.jsonl"
    assert solve(calibration, out, "--budget", "total:150") == 0
    kept = out.read_text().splitlines()[:10]  # as if killed after ten answers
    out.write_text("\n".join(kept) + "\n")
    spent_before = sum(json.loads(line)["compute"]["generations"] for line in kept)
    assert solve(calibration, out, "--budget", "total:150") == 0
    records = lines(out)
    assert len(records) == 24 and records[:10] == [json.loads(line) for line in kept]
    assert spent_before < sum(r["compute"]["generations"] for r in records) <= 150


def test_a_failing_problem_is_recorded_and_the_batch_goes_on(calibration, tmp_path, monkeypatch):
    from strategies.generation import GenerationError
    from strategies.simulation.generator import SimulatorGenerator

    original = SimulatorGenerator.generate

    def broken_for_one(self, prompts, params):
        if any(p.problem_key.startswith("sim-0003") for p in prompts):
            raise GenerationError("replica lost", backend="simulator")
        return original(self, prompts, params)

    monkeypatch.setattr(SimulatorGenerator, "generate", broken_for_one)
    out = tmp_path / "answers.jsonl"
    assert solve(calibration, out, "--budget", "8") == 1
    records = {r["id"]: r for r in lines(out)}
    assert len(records) == 24
    failed = [r for r in records.values() if r["status"] == "failed"]
    assert [r["id"] for r in failed] == ["sim-0003"]
    assert "GenerationError" in failed[0]["error"] and "replica lost" in failed[0]["error"]
    monkeypatch.setattr(SimulatorGenerator, "generate", original)
    assert solve(calibration, out, "--budget", "8") == 0  # the rerun retries only that one
    again = lines(out)
    assert len(again) == 24 and all(r["status"] != "failed" for r in again)
    assert [r for r in again if r["id"] != "sim-0003"] == [
        r for r in records.values() if r["id"] != "sim-0003"
    ]


def test_a_malformed_problem_line_names_file_and_line(calibration, tmp_path, capsys):
    problems = tmp_path / "problems.jsonl"
    problems.write_text(
        '{"id": "a", "problem": "What is 2 + 2?", "answer": "4"}\n{"id": "b", "problem": \n'
    )
    code = main(["solve", str(problems), "--calibration", str(calibration), "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{problems}, line 2: invalid JSON" in err


@pytest.mark.parametrize(
    ("budget", "message"),
    [("0", "must be >= 1"), ("total:10", "24 problems need at least 24")],
)
def test_a_budget_that_cannot_answer_every_problem_is_refused_up_front(
    calibration, tmp_path, capsys, budget, message
):
    out = tmp_path / "answers.jsonl"
    assert solve(calibration, out, "--budget", budget) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() or not out.read_text()


def test_simulator_artifact_refuses_problems_it_cannot_simulate(calibration, tmp_path, capsys):
    problems = tmp_path / "problems.jsonl"
    problems.write_text('{"id": "a", "problem": "What is 2 + 2?", "answer": "4"}\n')
    code = main(["solve", str(problems), "--calibration", str(calibration), "--out",
                 str(tmp_path / "a.jsonl"), "--no-progress"])  # fmt: skip
    assert code == 2
    assert "simulator:COUNT" in capsys.readouterr().err


def test_another_model_warns_loudly_but_runs(calibration, tmp_path, capsys):
    out = tmp_path / "answers.jsonl"
    assert solve(calibration, out, "--budget", "2", "--model", "some/other-model") == 0
    err = capsys.readouterr().err
    assert "WARNING" in err and "'some/other-model'" in err and "Recalibrate" in err
    assert len(lines(out)) == 24


def test_an_artifact_of_another_schema_is_refused(calibration, tmp_path, capsys):
    copy = tmp_path / "old"
    shutil.copytree(calibration, copy, ignore=shutil.ignore_patterns("shards"))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (copy / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "answers.jsonl"
    assert solve(copy, out) == 2
    err = capsys.readouterr().err
    assert "schema version 99" in err and "Recalibrate" in err
    assert not out.exists()


def test_missing_shipped_calibration_says_how_to_make_it(tmp_path, capsys, monkeypatch):
    import router.commands.common as common

    monkeypatch.setattr(
        common, "DEFAULT_CALIBRATION", tmp_path / "artifacts" / "smollm2-arithmetic"
    )
    problems = ROOT / "scripts" / "examples" / "arithmetic.jsonl"
    assert main(["solve", str(problems), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "smollm2-arithmetic is missing" in err and "ttc calibrate --out" in err


def test_the_engine_the_tree_searches_were_calibrated_on_does_not_warn():
    from router.setup import EngineSettings, mismatches

    calibrated = EngineSettings(
        model="smollm2",
        backend="transformers",
        verifier="arithmetic",
        prompt_config="smollm2-arithmetic",
        tree_backend="vllm",
    )
    assert mismatches(calibrated, calibrated) == []
    assert mismatches(calibrated, replace(calibrated, backend="vllm")) == []
    (warning,) = mismatches(calibrated, replace(calibrated, backend="openai"))
    assert "'transformers'" in warning and "'openai'" in warning and "another engine" in warning
    (warning,) = mismatches(
        replace(calibrated, tree_backend=None), replace(calibrated, backend="vllm")
    )
    assert "'vllm'" in warning
