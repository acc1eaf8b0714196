"""A seeded simulator of step-by-step solving and its PRM, for statistical tests.

See ``world.SimulatedWorld`` for the entry point and each module's docstring for one
part of the generative model.
"""

from strategies.simulation.config import SimulatorConfig
from strategies.simulation.generator import SimulatorGenerator
from strategies.simulation.prm import SimulatorPRM
from strategies.simulation.problem_specs import ProblemSpec, UnknownProblemError
from strategies.simulation.tokens import count_tokens
from strategies.simulation.world import SimulatedWorld

__all__ = [
    "ProblemSpec",
    "SimulatedWorld",
    "SimulatorConfig",
    "SimulatorGenerator",
    "SimulatorPRM",
    "UnknownProblemError",
    "count_tokens",
]
