"""Simulated problems: a hidden difficulty, a chain of arithmetic steps, tempting wrong answers.

Each problem is a running total: "Start with 45. Add 17, then subtract 8, ...". Step k
applies the k-th operation, so the correct intermediate values are known exactly. A
wrong path is the right path shifted by a fixed offset: a slip at step k lands on
``value_k + offset_j`` and, since the following arithmetic is done correctly on the
wrong number, the path ends at the tempting wrong answer ``answer + offset_j``. Which
wrong answer a solution heads for is therefore readable from any of its values.

Problem ``i`` depends only on (seed, i, config), so a world of 10 problems is the first
10 problems of a world of 200 with the same seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from strategies.generation import Prompt
from strategies.problems import Problem
from strategies.simulation.config import SimulatorConfig
from strategies.simulation.randomness import new_stream


@dataclass(frozen=True)
class ProblemSpec:
    """Everything hidden about one simulated problem."""

    index: int
    problem: Problem
    difficulty: float
    start: int
    increments: tuple[int, ...]
    values: tuple[int, ...]
    wrong_offsets: tuple[int, ...]
    wrong_weights: tuple[float, ...]
    step_error_rate: float
    crux_step: int
    crux_error_rate: float

    def error_rate(self, step: int) -> float:
        """Slip probability of step ``step`` (0-based) at the reference temperature."""
        return self.crux_error_rate if step == self.crux_step else self.step_error_rate

    @property
    def num_steps(self) -> int:
        return len(self.increments)

    @property
    def answer(self) -> int:
        return self.values[-1]


class UnknownProblemError(KeyError):
    """A prompt or score request names a problem this world does not have."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown problem"


def _problem_text(start: int, increments: tuple[int, ...]) -> str:
    phrases = []
    for position, step in enumerate(increments):
        verb = "Add" if step >= 0 else "Subtract"
        if position:
            verb = "then " + verb.lower()
        phrases.append(f"{verb} {abs(step)}")
    return f"Start with {start}. " + ", ".join(phrases) + ". What number do you end with?"


def _wrong_weights(count: int, skew: float) -> tuple[float, ...]:
    raw = [1.0 / (rank + 1) ** skew for rank in range(count)]
    total = sum(raw)
    return tuple(weight / total for weight in raw)


def draw_problem(seed: int, index: int, config: SimulatorConfig, salt: int = 0) -> ProblemSpec:
    """Problem ``index`` of the world with this seed (``salt`` only breaks text collisions)."""
    rng = random.Random(int.from_bytes(new_stream("problem", seed, index, salt).digest()[:8]))
    difficulty = rng.random()
    span = config.max_steps - config.min_steps + 1
    mix = config.steps_follow_difficulty
    position = mix * difficulty + (1.0 - mix) * rng.random()
    num_steps = min(config.max_steps, config.min_steps + int(span * position))
    start = rng.randint(10, 99)
    increments = tuple(rng.choice((1, -1)) * rng.randint(2, 49) for _ in range(num_steps))
    values = []
    total = start
    for step in increments:
        total += step
        values.append(total)
    crux_step = rng.randrange(num_steps)
    step_error = config.step_error_rate(difficulty)
    crux_error = config.crux_error_rate(difficulty)
    candidates = [o for o in range(-config.max_wrong_offset, config.max_wrong_offset + 1) if o]
    offsets = tuple(rng.sample(candidates, config.num_wrong_answers))
    answer = values[-1]
    problem = Problem(
        id=f"sim-{index:04d}",
        text=_problem_text(start, increments),
        answer=str(answer),
        metadata={
            "source": "simulator",
            "seed": seed,
            "difficulty": difficulty,
            "num_steps": num_steps,
            "step_error_rate": step_error,
            "crux_step": crux_step,
            "crux_error_rate": crux_error,
            # Exact at the reference temperature and top_p 1: a wrong path never recovers.
            "expected_pass_at_1": (1.0 - step_error) ** (num_steps - 1) * (1.0 - crux_error),
            "wrong_answers": [str(answer + offset) for offset in offsets],
        },
    )
    return ProblemSpec(
        index=index,
        problem=problem,
        difficulty=difficulty,
        start=start,
        increments=increments,
        values=tuple(values),
        wrong_offsets=offsets,
        wrong_weights=_wrong_weights(config.num_wrong_answers, config.wrong_answer_skew),
        step_error_rate=step_error,
        crux_step=crux_step,
        crux_error_rate=crux_error,
    )


class ProblemIndex:
    """Finds a problem by id, by text, or by a prompt (key, then last user message)."""

    def __init__(self, specs: list[ProblemSpec]):
        self._specs = specs
        self._by_name: dict[str, ProblemSpec] = {}
        for spec in specs:
            self._by_name[spec.problem.id] = spec
            self._by_name[spec.problem.text] = spec

    def find(self, name: str) -> ProblemSpec | None:
        spec = self._by_name.get(name)
        if spec is None and "#" in name:
            spec = self._by_name.get(name.split("#", 1)[0])
        return spec

    def for_prompt(self, prompt: Prompt) -> tuple[ProblemSpec, str]:
        """The problem a prompt is about, and the name of its sample stream.

        The stream is the prompt's key when it has one (so "sim-0003#tree5" samples
        independently of "sim-0003"), else the problem id.
        """
        if prompt.key is not None:
            spec = self.find(prompt.key)
            if spec is not None:
                return spec, prompt.key
        users = [m.content for m in prompt.messages if m.role == "user"]
        if users:
            spec = self.find(users[-1])
            if spec is not None:
                return spec, spec.problem.id
        raise UnknownProblemError(self._unknown_message(prompt.key, users[-1] if users else None))

    def for_text(self, problem: str) -> ProblemSpec:
        spec = self.find(problem)
        if spec is None:
            raise UnknownProblemError(self._unknown_message(None, problem))
        return spec

    def _unknown_message(self, key: str | None, text: str | None) -> str:
        shown = ", ".join(s.problem.id for s in self._specs[:3])
        more = f", ... ({len(self._specs)} in all)" if len(self._specs) > 3 else ""
        what = []
        if key is not None:
            what.append(f"key {key!r}")
        if text is not None:
            what.append(f"text {text[:80]!r}")
        named = " or ".join(what) or "an empty prompt"
        return (
            f"simulator: no problem with {named} in this world (ids: {shown}{more}); "
            "pass Prompt.key=problem.id, the problem text as the last user message, or "
            "the problem text as ScoreRequest.problem"
        )
