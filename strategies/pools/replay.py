"""A recorded pool as a world to solve in: its problems, a Generator and a Verifier.

Like the simulator's SimulatedWorld, the generator and the verifier share one object:
the verifier must find the recorded scores of exactly the samples the generator served,
and requests name a problem by id (``Prompt.key``) or only by its text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strategies.generation import Prompt
from strategies.pools.loading import load_pool, pool_sha256, split_problems
from strategies.pools.records import RecordedProblem, RecordedSample, SamplePool
from strategies.problems import Problem


class UnknownPoolProblemError(KeyError):
    """A request for a problem the pool does not hold."""

    def __str__(self) -> str:
        return str(self.args[0])


def served_text(sample: RecordedSample) -> str:
    """What the generator returns for a sample: its text, or its answer boxed when the
    file recorded only an answer (so the answer is extracted from it like any other)."""
    if sample.text:
        return sample.text
    return f"The final answer is $\\boxed{{{sample.answer}}}$."


class ReplayWorld:
    """``pool`` with the problems chosen from it (all, or part I of N)."""

    def __init__(self, pool: SamplePool, split: tuple[int, int] | None = None) -> None:
        self.pool = pool
        self.split = split
        self.selected: list[RecordedProblem] = split_problems(list(pool), split)
        self._by_text: dict[str, list[str]] = {}
        for problem in pool:
            self.alias(problem.as_problem().text, problem.id)

    @classmethod
    def from_files(cls, paths: Sequence[str], split: tuple[int, int] | None = None) -> ReplayWorld:
        return cls(load_pool(paths), split)

    @property
    def problems(self) -> list[Problem]:
        return [p.as_problem() for p in self.selected]

    @property
    def sha256(self) -> str:
        return pool_sha256(self.pool, self.split)

    def describe(self) -> dict[str, Any]:
        return {
            "pools": [f.describe() for f in self.pool.files],
            "split": None if self.split is None else f"{self.split[0]}/{self.split[1]}",
        }

    def alias(self, text: str, problem_id: str) -> None:
        ids = self._by_text.setdefault(text.strip(), [])
        if problem_id not in ids:
            ids.append(problem_id)

    def ids_for_text(self, text: str) -> list[str]:
        return self._by_text.get(text.strip(), [])

    def find(self, prompt: Prompt) -> RecordedProblem:
        """The recorded problem a prompt asks for: by its key (the problem id), else by text."""
        users = [m.content for m in prompt.messages if m.role == "user"]
        text = users[-1] if users else ""
        if prompt.key is not None and prompt.key in self.pool.problems:
            problem = self.pool.problems[prompt.key]
        else:
            ids = self.ids_for_text(text)
            if not ids:
                named = prompt.key if prompt.key is not None else text[:60]
                raise UnknownPoolProblemError(
                    f"problem {named!r} is not in the replay pool "
                    f"({', '.join(f.path for f in self.pool.files)}): a pool can only "
                    "serve the problems it recorded"
                )
            problem = self.pool.problems[ids[0]]
        self.alias(text, problem.id)
        return problem

    def generator(self, **options: Any) -> Any:
        from strategies.backends.replay import ReplayGenerator

        return ReplayGenerator(self, **options)

    def verifier(self, **options: Any) -> Any:
        from strategies.verifiers.replay import ReplayVerifier

        return ReplayVerifier(self, **options)
