"""Particle filtering (Puri et al. 2025, "A probabilistic inference approach to
inference-time scaling of LLMs using particle-based Monte Carlo methods").

Budget N is N particles. Each step, every unfinished particle advances one step; then the
whole population (finished particles stay in it, unextended) is resampled with
replacement, N draws from softmax(weights / T), where a particle's weight is the log-odds
of its PRM score (its step scores reduced by ``reduction``, ``last`` by default): the PRM's
probability that the partial solution is on track, read as a likelihood. So T = 1
resamples in proportion to the odds, lower T is greedier, higher T closer to uniform.
Unlike beam search's deterministic top-k, a weak particle can survive, which is the
paper's case for scaling better (4-16x on MATH in their report).

Copies of a particle drawn several times are one prefix expanded into that many
children. The search ends when every particle has finished (or at the depth limit, whose
step runs to EOS); the final pool is the N finished particles, copies included, and the
answer is weighted best-of-N over it. Resampling uses a random generator seeded by the
run's seed and the problem, so a search is reproducible and independent of its batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strategies.search.base import register_strategy
from strategies.search.selector import Expansion, Node, Selector, StepChoice, merged, softmax
from strategies.search.tree import StepSearch, TreeSearchConfig

# Scores are probabilities; their log-odds are clipped so that 0 and 1 stay finite.
_EDGE = 1e-6


@dataclass(frozen=True)
class ParticleFilteringConfig(TreeSearchConfig):
    resample_temperature: float = field(
        default=1.0, metadata={"help": "T of the resampling softmax over log-odds weights"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.resample_temperature > 0:
            raise ValueError(f"resample_temperature must be > 0, got {self.resample_temperature}")


def log_odds(score: float) -> float:
    p = min(1.0 - _EDGE, max(_EDGE, score))
    return math.log(p / (1.0 - p))


class ParticleSelector(Selector):
    def __init__(self, particles: int, temperature: float, seed: int) -> None:
        self.particles = particles
        self.temperature = temperature
        self.rng = np.random.default_rng(seed)
        self.finished: list[Node] = []
        self.resamplings = 0

    def first_children(self) -> int:
        return self.particles

    def select(self, children: list[Node], depth: int) -> StepChoice:
        population = self.finished + children
        weights = softmax([log_odds(node.rank) for node in population], self.temperature)
        draws = np.sort(self.rng.choice(len(population), size=self.particles, p=weights))
        self.resamplings += 1
        chosen = [population[int(i)] for i in draws]
        self.finished = [node for node in chosen if node.finished]
        unfinished = [Expansion(node, 1) for node in chosen if not node.finished]
        if not unfinished:
            return StepChoice(solutions=self.finished)
        return StepChoice(expand=merged(unfinished))

    def extra(self) -> dict[str, Any]:
        return {"effective_budget": self.particles, "resamplings": self.resamplings}


@register_strategy(
    "particle_filtering",
    summary="N particles advance a step at a time, resampled by softmax of PRM log-odds / T",
)
class ParticleFiltering(StepSearch):
    short_name, label = "pf", "particle filtering"
    config_type = ParticleFilteringConfig
    hidden_parameters = frozenset({"beam_width", "dedupe"})

    def selector(self, budget: int, seed: int) -> Selector:
        return ParticleSelector(budget, self.config.resample_temperature, seed)
