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

from strategies.problems import Problem, ProblemSourceError, load_problems

GENERATED_PREFIXES = ("arithmetic:", "simulator:")


@dataclass(frozen=True)
class ProblemSet:
    spec: str
    problems: list[Problem]
    world: Any = None

    @property
    def stem(self) -> str:
        """A short name for default output paths."""
        if self.spec.startswith("pool:"):
            from runtime.sources import parse_pool_spec

            paths, split = parse_pool_spec(self.spec)
            part = "" if split is None else "-" + split.replace("/", "of")
            return "pool-" + "+".join(Path(p).stem for p in paths) + part
        if self.spec.startswith(GENERATED_PREFIXES):
            return self.spec.replace(":", "-")
        return Path(self.spec).stem


def load_problem_set(
    spec: str | None, pools: list[str] | None = None, split: str | None = None
) -> ProblemSet:
    """``spec``'s problems; with ``pools``, served by their ReplayWorld (``spec`` None:
    the pools' own problems, part ``split`` of them)."""
    if pools:
        return _pool_problem_set(spec, pools, split)
    if spec is None:
        raise ValueError("no problems given: pass PROBLEMS (a JSONL file or a generated set)")
    if spec.startswith(GENERATED_PREFIXES) and not Path(spec).is_file():
        from runtime.sources import load_source

        source = load_source(spec)
        return ProblemSet(spec, list(source.problems), source.world)
    problems = load_problems(spec)
    if not problems:
        raise ProblemSourceError(
            f"{spec} holds no problems (it is empty or has only blank lines); give a JSONL "
            "file with one problem per line"
        )
    return ProblemSet(spec, problems)


def _pool_args(spec: str) -> tuple[list[str], str | None]:
    from runtime.sources import parse_pool_spec

    return parse_pool_spec(spec)


def _pool_problem_set(spec: str | None, pools: list[str], split: str | None) -> ProblemSet:
    from runtime.sources import pool_spec
    from strategies.pools.loading import parse_split
    from strategies.pools.replay import ReplayWorld

    world = ReplayWorld.from_files(pools, parse_split(split))
    if spec is None:
        return ProblemSet(pool_spec(pools, split), world.problems, world)
    if split is not None:
        raise ValueError("--pool-split chooses among the pool's problems: drop PROBLEMS")
    return ProblemSet(spec, load_problem_set(spec).problems, world)


def calibration_texts(dataset: dict[str, Any]) -> set[str] | None:
    """The texts of the problems a calibration was made on (``dataset``: the manifest's
    record of them). Generated sets are regenerated from their spec, files are read if
    still there; None when neither works.

    Held-out figures are only held out if the evaluation problems avoid these: arithmetic
    levels 1-2 have few distinct sums, so another seed repeats some of them.
    """
    spec = str(dataset.get("source", ""))
    path = dataset.get("path")
    try:
        if spec.startswith("pool:"):
            calibrated = load_problem_set(None, *_pool_args(spec)).problems
        elif path and Path(path).is_file():
            calibrated = load_problems(path)
        elif spec.startswith(GENERATED_PREFIXES):
            calibrated = load_problem_set(spec).problems
        else:
            return None
    except (ValueError, OSError):
        return None
    return {problem.text.strip() for problem in calibrated}


def calibration_overlap(dataset: dict[str, Any], problems: list[Problem]) -> int | None:
    """How many of ``problems`` the calibration itself was made on (same text)."""
    texts = calibration_texts(dataset)
    if texts is None:
        return None
    return sum(problem.text.strip() in texts for problem in problems)
