"""The simulated process reward model: a noisy, sometimes confidently wrong, judge of prefixes.

For each step the PRM knows the hidden truth "are steps 1..i all right?" and reports:

- a *judged* score, when it can judge the step: logit ~ Normal(+s, s/2) for a right
  prefix and Normal(-s, s/2) for a wrong one (s = ``prm_logit_separation``; with the
  default 3 typical scores are 0.95 and 0.05, and the two barely overlap);
- an *unjudged* score otherwise: logit ~ Normal(0, s), whatever the truth (anywhere
  from confident yes to confident no: what tempts naive best-of-N and tree search).

``noise`` is the share of steps the PRM cannot judge on the easiest problems; it grows
with difficulty by ``prm_difficulty_fade`` (at difficulty d the share is
1 - (1 - noise) ** (1 + fade * d)): like real PRMs, it judges hard problems worse.
noise 0 is a near-perfect judge (AUC about 0.998 per step), noise 1 a coin.

On top of that, a slip is *confidently* misjudged with probability
``confident_mistake_rate``: it is scored high, logit ~ Normal(share * s, s/2) with
share = ``prm_fooled_logit_share`` (0.8: typically 0.92, just below a right step's
0.95). With ``prm_mistakes_persist`` the PRM stays fooled for the rest of that wrong
path, the failure that search at large N exploits: at share 1 such paths crowd right
ones out of beam search's pool on hard problems, at share 0.5 they hardly ever get in.

Scores are pure functions of (world seed, problem, the steps so far): the same prefix
gets the same score in any batch, and the underlying draws do not depend on ``noise``
or the mistake rate, so raising either changes scores monotonically.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from strategies.simulation.config import SimulatorConfig
from strategies.simulation.problem_specs import ProblemIndex, ProblemSpec
from strategies.simulation.randomness import new_stream, standard_normal, uniforms
from strategies.simulation.text import read_value
from strategies.simulation.tokens import count_tokens
from strategies.verification import ScoreRequest, StepScores


def _sigmoid(logit: float) -> float:
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    exp = math.exp(logit)
    return exp / (1.0 + exp)


class SimulatorPRM:
    """A Verifier (strategies.verification) over the problems of a SimulatedWorld.

    Requests name their problem by text (``ScoreRequest.problem``) or id. Steps may come
    with or without their "\\n\\n" delimiter: surrounding whitespace is ignored. A step
    whose value cannot be read counts as wrong. ``num_tokens`` is the token estimate of
    the problem text plus every step (what a real PRM reads).
    """

    name = "simulator-prm"

    def __init__(
        self,
        seed: int,
        index: ProblemIndex,
        config: SimulatorConfig,
        noise: float = 0.1,
        confident_mistake_rate: float = 0.05,
    ):
        if not 0.0 <= noise <= 1.0:
            raise ValueError(f"simulator PRM: noise={noise} must lie in [0, 1]")
        if not 0.0 <= confident_mistake_rate <= 1.0:
            raise ValueError(
                f"simulator PRM: confident_mistake_rate={confident_mistake_rate} must lie in [0, 1]"
            )
        self._seed = seed
        self._index = index
        self._config = config
        self.noise = noise
        self.confident_mistake_rate = confident_mistake_rate
        self.num_parameters = config.prm_num_parameters
        self._problem_tokens: dict[int, int] = {}
        self._steps_read: dict[str, tuple[int | None, int]] = {}

    def unjudged_share(self, spec: ProblemSpec) -> float:
        """Share of this problem's steps whose score ignores correctness."""
        fade = self._config.prm_difficulty_fade * spec.difficulty
        return 1.0 - (1.0 - self.noise) ** (1.0 + fade)

    def score(self, requests: Sequence[ScoreRequest]) -> list[StepScores]:
        return [self._score_one(request) for request in requests]

    def _read(self, step: str) -> tuple[int | None, int]:
        """(value, tokens) of a step, cached: searches re-score the same prefixes often."""
        found = self._steps_read.get(step)
        if found is None:
            if len(self._steps_read) > 50_000:
                self._steps_read.clear()
            found = self._steps_read[step] = (read_value(step), count_tokens(step))
        return found

    def _score_one(self, request: ScoreRequest) -> StepScores:
        spec = self._index.for_text(request.problem)
        tokens = self._problem_tokens.get(spec.index)
        if tokens is None:
            tokens = self._problem_tokens[spec.index] = count_tokens(spec.problem.text)
        separation = self._config.prm_logit_separation
        fooled_mean = self._config.prm_fooled_logit_share * separation
        unjudged = self.unjudged_share(spec)
        stream = new_stream("prm", self._seed, spec.problem.id)
        right = True
        fooled = False
        scores = []
        for position, step in enumerate(request.steps):
            stream.update(step.strip().encode())
            stream.update(b"\x1e")
            value, step_tokens = self._read(step)
            tokens += step_tokens
            draws = uniforms(stream)
            if right and value != spec.values[min(position, spec.num_steps - 1)]:
                right = False
                fooled = draws[0] < self.confident_mistake_rate
            elif not right and not self._config.prm_mistakes_persist:
                fooled = draws[0] < self.confident_mistake_rate
            normal = standard_normal(draws[1])
            if draws[2] < unjudged:
                logit = separation * normal
            elif right:
                logit = separation + separation / 2 * normal
            elif fooled:
                logit = fooled_mean + separation / 2 * normal
            else:
                logit = -separation + separation / 2 * normal
            scores.append(_sigmoid(logit))
        return StepScores(scores=tuple(scores), num_tokens=tokens)
