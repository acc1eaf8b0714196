"""`ttc solve` end to end on a real (tiny, random) model: a calibration made here with the
transformers backend and the arithmetic step checker, then the router reading its
manifest to rebuild the same engines. Mechanics only: the model's text is noise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calibration.config import CalibrationConfig
from calibration.pipeline import run_calibration
from router.cli import main
from strategies.generation import GenerationSettings
from strategies.search.registry import get_strategy

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TREE = "beam_search:m=2,depth=2,step_tokens=4"


@pytest.fixture(scope="module")
def calibration(tiny_llama_dir, tmp_path_factory) -> Path:
    import torch

    torch.set_num_threads(1)  # a second thread spin-waits on a busy machine (10x slower here)
    out = tmp_path_factory.mktemp("tiny-calibration") / "tiny"
    run_calibration(
        CalibrationConfig(
            problems="arithmetic:10",
            model=str(tiny_llama_dir),
            backend="transformers",
            verifier="arithmetic",
            prompt_config="smollm2-arithmetic",
            samples=2,
            generation=GenerationSettings(max_tokens=8),
            budgets=(1, 2),
            strategies=("majority", "weighted_best_of_n", TREE),
            seeds=1,
            draws=4,
            probe_k=2,
            probe_draws=2,
            bootstrap=10,
            cv_repeats=1,
            batch_size=10,
            out=out,
            progress=False,
        )
    )
    return out


def test_solve_runs_end_to_end_on_the_calibrated_model(calibration, tmp_path, capsys):
    problems = tmp_path / "problems.jsonl"
    source = (ROOT / "scripts" / "examples" / "arithmetic.jsonl").read_text().splitlines()
    problems.write_text("\n".join(source[:3]) + '\n{"id": "no-ref", "problem": "What is 5 + 5?"}\n')
    out = tmp_path / "answers.jsonl"
    code = main(
        [
            "solve",
            str(problems),
            "--calibration",
            str(calibration),
            "--out",
            str(out),
            "--budget",
            "total:12",
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "WARNING" not in captured.err  # model, verifier and prompt came from the manifest
    records = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(records) == {"example-1", "example-2", "example-3", "no-ref"}
    for record in records.values():
        assert record["status"] in ("ok", "no_answer"), record["error"]
        assert record["route"] and record["compute"]["generations"] >= 1
        assert record["cost"]["generated_tokens"] > 0  # real tokens from the real model
        assert record["strategy"] in ("majority", "weighted_best_of_n", get_strategy(TREE).spec)
    assert records["no-ref"]["correct"] is None and records["no-ref"]["reference"] is None
    assert records["example-1"]["correct"] in (True, False)
    assert sum(r["compute"]["generations"] for r in records.values()) <= 12
    assert "problems   4" in captured.out
