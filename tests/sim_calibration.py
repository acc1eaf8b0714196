"""A small simulator calibration for command-line tests: seconds to build, every file a
real `ttc calibrate` writes (shards included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from calibration.config import CalibrationConfig
from calibration.pipeline import run_calibration


def calibrate_simulator(out: Path, **overrides: Any) -> Path:
    """Calibrate ``simulator:30`` into ``out`` (``overrides`` change any setting)."""
    settings: dict[str, Any] = {
        "problems": "simulator:30",
        "backend": "simulator",
        "verifier": "simulator",
        "prompt_config": "llama-math",
        "samples": 8,
        "budgets": (1, 2, 4),
        "strategies": ("majority", "weighted_best_of_n", "beam_search"),
        "seeds": 1,
        "draws": 4,
        "probe_k": 2,
        "probe_draws": 2,
        "bootstrap": 10,
        "cv_repeats": 1,
        "batch_size": 30,
        "progress": False,
    }
    settings.update(overrides)
    run_calibration(CalibrationConfig(out=out, **settings))
    return out
