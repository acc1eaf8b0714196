"""The problems `ttc solve` and `ttc evaluate` read: a JSONL file, or a generated set.

A file keeps problems without a reference answer (they can be solved, not graded); a
malformed line stops with the file and line named (``strategies.problems``). Generated
sets use calibration's spellings: ``arithmetic:COUNT[:SEED]`` and
``simulator:COUNT[:SEED]``; the latter carries its SimulatedWorld, the only thing that
can generate and verify simulator problems. A calibration on ``simulator:200`` (seed 0)
is tested on held-out problems with another seed, e.g. ``simulator:200:1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strategies.problems import Problem, load_problems

GENERATED_PREFIXES = ("arithmetic:", "simulator:")


@dataclass(frozen=True)
class ProblemSet:
    spec: str
    problems: list[Problem]
    world: Any = None

    @property
    def stem(self) -> str:
        """A short name for default output paths."""
        if self.spec.startswith(GENERATED_PREFIXES):
            return self.spec.replace(":", "-")
        return Path(self.spec).stem


def load_problem_set(spec: str) -> ProblemSet:
    if spec.startswith(GENERATED_PREFIXES) and not Path(spec).is_file():
        from calibration.sources import load_source

        source = load_source(spec)
        return ProblemSet(spec, list(source.problems), source.world)
    return ProblemSet(spec, load_problems(spec))
