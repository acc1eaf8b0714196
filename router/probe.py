"""The probe: k full solutions per problem, scored by the verifier, before any choice.

The probe is weighted best-of-N's pool at budget k under the calibration's own sampling
settings, so its samples are exactly what a sampling strategy would draw first (same
seed, same prompts). That is what lets majority and best-of-N take them into their pool
later (``SamplingStrategy.run(reuse=...)``) instead of drawing them again; and its
features come from ``calibration.features.probe_features``, the function the predictor
was trained with, on subsets of calibration pools of the same size k.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from router.setup import GenerationSettings
from strategies.cost import CostLedger
from strategies.generation import Generator
from strategies.problems import Problem
from strategies.prompts import PromptConfig
from strategies.search.base import SearchStrategy
from strategies.search.registry import get_strategy
from strategies.search.result import Candidate
from strategies.verification import Verifier

PROBE_STRATEGY = "weighted_best_of_n"


@dataclass(frozen=True)
class ProbeResult:
    """One problem's probe. ``cost`` has ``probe_generations``/``probe_tokens`` set.

    ``note`` says why the probe is not fully usable (e.g. the verifier's scores did not
    line up, so the samples are unscored); the router then still predicts from them.
    """

    problem_id: str
    candidates: tuple[Candidate, ...]
    cost: CostLedger
    note: str | None = None


def runnable_strategy(key: str, generation: GenerationSettings) -> SearchStrategy:
    """The table's strategy ``key`` with the calibration's sampling settings filled in.

    Table keys leave out sampling settings (``beam_search``), but the calibration ran
    them with its own temperature, top_p and max_tokens, and so must the router; a
    setting the key does name is kept.
    """
    strategy = get_strategy(key)
    config = strategy.config
    named = {f.name for f in fields(config) if getattr(config, f.name) != f.default}
    wanted = {
        "temperature": generation.temperature,
        "top_p": generation.top_p,
        "max_tokens": generation.max_tokens,
    }
    available = {f.name for f in fields(config)}
    extra = [f"{k}={v}" for k, v in wanted.items() if k in available and k not in named]
    if not extra:
        return strategy
    given = strategy.spec.partition(":")[2]
    spec = strategy.name + ":" + ",".join(filter(None, [given, *extra]))
    return get_strategy(spec)


def probe_strategy(generation: GenerationSettings) -> SearchStrategy:
    return runnable_strategy(f"{PROBE_STRATEGY}:reduction={generation.reduction}", generation)


def run_probe(
    problems: Sequence[Problem],
    k: int,
    generator: Generator,
    verifier: Verifier,
    *,
    prompt_config: PromptConfig,
    generation: GenerationSettings,
    seed: int,
) -> list[ProbeResult]:
    """Probe every problem in one generator call and one verifier call."""
    if k < 1:
        raise ValueError(f"the probe needs k >= 1 samples, got {k}")
    if not problems:
        return []
    results = probe_strategy(generation).run(
        problems, k, generator, verifier, prompt_config=prompt_config, seed=seed
    )
    probes = []
    for problem, result in zip(problems, results, strict=True):
        cost = CostLedger.from_dict(result.cost.to_dict())
        cost.probe_generations = cost.generations
        cost.probe_tokens = cost.generated_tokens
        unscored = any(not c.step_scores and c.steps for c in result.candidates)
        note = result.error if unscored else None
        probes.append(ProbeResult(problem.id, tuple(result.candidates), cost, note))
    return probes
