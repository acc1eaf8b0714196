"""Building the generator and verifier a calibration runs with.

Loaded only when there is sampling or searching left to do, so re-running a finished
calibration (or merging) rebuilds the artifact without starting a model.
``--backend simulator`` and ``--verifier simulator`` take their engines from the
SimulatedWorld behind ``--problems simulator:COUNT``.
"""

from __future__ import annotations

from typing import Any

from calibration.config import CalibrationConfig
from calibration.sources import ProblemSource
from strategies.generation import Generator
from strategies.verification import Verifier

SIMULATOR = "simulator"


def build_generator(config: CalibrationConfig, source: ProblemSource) -> Generator:
    if config.backend == SIMULATOR:
        if source.world is None:
            raise ValueError(
                "--backend simulator needs --problems simulator:COUNT (the simulator can only "
                "solve its own problems)"
            )
        generator: Generator = source.world.generator()
        return generator
    if source.world is not None:
        raise ValueError("--problems simulator:COUNT needs --backend simulator")
    from strategies.backends.registry import build_generator as build

    options: dict[str, Any] = dict(config.backend_options)
    if config.endpoints:
        options["base_urls"] = list(config.endpoints)
    return build(config.backend, config.model, **options)


def build_verifier(config: CalibrationConfig, source: ProblemSource) -> Verifier:
    if config.verifier == SIMULATOR:
        if source.world is None:
            raise ValueError("--verifier simulator needs --problems simulator:COUNT")
        verifier: Verifier = source.world.verifier(**config.verifier_options)
        return verifier
    from strategies.verifiers.registry import build_verifier as build

    return build(config.verifier, **config.verifier_options)
