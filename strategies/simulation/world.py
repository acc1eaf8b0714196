"""SimulatedWorld: a seeded set of simulated problems with their policy and PRM."""

from __future__ import annotations

from strategies.problems import Problem
from strategies.simulation.config import SimulatorConfig
from strategies.simulation.generator import SimulatorGenerator
from strategies.simulation.prm import SimulatorPRM
from strategies.simulation.problem_specs import ProblemIndex, ProblemSpec, draw_problem


class SimulatedWorld:
    """``num_problems`` problems drawn from ``seed``, solvable by ``generator()``, judged by
    ``verifier()``. Problem i depends only on (seed, i, config).

    The generative model, in short (each module's docstring has the details):

    - a problem is a running total ("Start with 45. Add 17, then subtract 8, ...") with a
      hidden difficulty d ~ U(0, 1), 3-8 operations (more when harder), one crux step,
      and 4 tempting wrong answers with Zipf weights (0.60, 0.21, 0.12, 0.08);
    - a solution writes one step per operation ("## Step k: ...", the arithmetic, then
      "value = N", ending "\\n\\n") and a conclusion step with the boxed answer and EOS;
    - each step slips with a probability that grows with d (the crux step much more),
      onto a wrong path that ends at one of the tempting answers; a wrong path never
      recovers, so majority voting locks onto the top wrong answer on hard problems;
    - the PRM scores each prefix: sharply when it can judge the step, at random when it
      cannot (more often on hard problems), and high for some slips it is fooled by.

    Problem metadata holds the hidden truth: ``difficulty``, ``num_steps`` (operations;
    a solution has one more step, the conclusion), ``step_error_rate``, ``crux_step``,
    ``crux_error_rate``, ``expected_pass_at_1`` (exact at the reference temperature) and
    ``wrong_answers`` (most tempting first).

    A prompt names its problem by ``Prompt.key`` (the problem id, optionally followed by
    "#anything" to get an independent sample stream of the same problem), falling back to
    the last user message (the problem text); a name this world does not have raises
    UnknownProblemError (a KeyError) rather than inventing a problem, so wiring mistakes
    surface at once.
    """

    def __init__(self, num_problems: int, seed: int = 0, config: SimulatorConfig | None = None):
        if num_problems < 0:
            raise ValueError(f"num_problems={num_problems} must be >= 0")
        self.seed = seed
        self.config = config if config is not None else SimulatorConfig()
        specs: list[ProblemSpec] = []
        texts: set[str] = set()
        for index in range(num_problems):
            salt = 0
            spec = draw_problem(seed, index, self.config)
            while spec.problem.text in texts:  # astronomically rare; keeps texts unique
                salt += 1
                spec = draw_problem(seed, index, self.config, salt)
            texts.add(spec.problem.text)
            specs.append(spec)
        self.specs = specs
        self.problems: list[Problem] = [spec.problem for spec in specs]
        self._index = ProblemIndex(specs)

    def spec(self, name: str) -> ProblemSpec:
        """The hidden truth of a problem, by id or text (for tests and analysis)."""
        return self._index.for_text(name)

    def generator(self) -> SimulatorGenerator:
        return SimulatorGenerator(self.seed, self._index, self.config)

    def verifier(self, noise: float = 0.1, confident_mistake_rate: float = 0.05) -> SimulatorPRM:
        return SimulatorPRM(self.seed, self._index, self.config, noise, confident_mistake_rate)
