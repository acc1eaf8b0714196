"""The simulator backend: a seeded model of step-by-step solving and its PRM.

The implementation lives in ``strategies.simulation`` (one module per part); this module
is the backend's stable import path.
"""

from strategies.simulation import (
    ProblemSpec,
    SimulatedWorld,
    SimulatorConfig,
    SimulatorGenerator,
    SimulatorPRM,
    UnknownProblemError,
    count_tokens,
)

__all__ = [
    "ProblemSpec",
    "SimulatedWorld",
    "SimulatorConfig",
    "SimulatorGenerator",
    "SimulatorPRM",
    "UnknownProblemError",
    "count_tokens",
]
