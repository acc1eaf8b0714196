"""A small simulator calibration made in a few seconds, shared by the router tests."""

from __future__ import annotations

from pathlib import Path

from calibration.config import CalibrationConfig
from calibration.pipeline import run_calibration


def small_simulator_calibration(out: Path, problems: int = 40) -> Path:
    """``problems`` simulator problems (seed 0), 8 samples, budgets 1-8, probe k = 2."""
    run_calibration(
        CalibrationConfig(
            problems=f"simulator:{problems}",
            backend="simulator",
            verifier="simulator",
            prompt_config="llama-math",
            samples=8,
            budgets=(1, 2, 4, 8),
            seeds=1,
            draws=8,
            probe_k=2,
            probe_draws=2,
            bootstrap=20,
            cv_repeats=1,
            batch_size=problems,
            out=out,
            progress=False,
        )
    )
    return out
