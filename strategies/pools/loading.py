"""Joining pool files into one SamplePool, and choosing which of its problems to use."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from pathlib import Path

from strategies.pools.formats import read_pool_file
from strategies.pools.records import PoolFile, PoolFormatError, RecordedProblem, SamplePool

# the fewest problems a --pool-split part may hold: 29/30 of a 30-problem pool used to
# "succeed" on one problem, a figure that means nothing
MIN_PART = 2


class UnscoredPoolWarning(UserWarning):
    """Some samples have no score: only majority vote can be replayed from them."""


def load_pool(paths: Sequence[str | Path]) -> SamplePool:
    """Every problem of every file, in file order; an id in two files is an error."""
    if not paths:
        raise PoolFormatError("--backend replay needs at least one --pool FILE")
    problems: dict[str, RecordedProblem] = {}
    files: list[PoolFile] = []
    for raw in paths:
        read, described = read_pool_file(Path(raw))
        for problem in read.problems:
            if problem.id in problems:
                raise PoolFormatError(
                    f"{problem.where}: problem id {problem.id!r} is also at "
                    f"{problems[problem.id].where}; a pool may hold each problem once"
                )
            if not problem.samples:
                raise PoolFormatError(f"{problem.where}: problem {problem.id!r} has no samples")
            problems[problem.id] = problem
        files.append(described)
    pool = SamplePool(problems, tuple(files))
    unscored = [p.id for p in pool if not p.scored]
    if unscored:
        warnings.warn(
            f"{len(unscored)} pool problems have samples without scores (e.g. "
            f"{unscored[0]!r}): only majority vote can be replayed from them",
            UnscoredPoolWarning,
            stacklevel=2,
        )
    return pool


def parse_split(text: str | None) -> tuple[int, int] | None:
    """``I/N`` -> (I, N), checked; None stays None."""
    if text is None:
        return None
    index, sep, count = text.partition("/")
    try:
        part, parts = int(index), int(count)
    except ValueError:
        part, parts = -1, 0
    if not sep or parts < 1 or not 0 <= part < parts:
        raise ValueError(f"--pool-split {text!r}: expected I/N with 0 <= I < N, e.g. 0/2")
    return part, parts


def split_problems(
    problems: Sequence[RecordedProblem], split: tuple[int, int] | None
) -> list[RecordedProblem]:
    """Part I of N: the problems at positions I, I + N, ... of the pool's file order.

    By position rather than by a hash of the id, so a pool written level by level in turn
    (as scripts/pool_problems.py writes them) splits into halves with equal levels.
    """
    if split is None:
        return list(problems)
    part, parts = split
    chosen = list(problems[part::parts])
    if len(chosen) < MIN_PART:
        raise PoolFormatError(
            f"--pool-split {part}/{parts}: that part holds {len(chosen)} of the pool's "
            f"{len(problems)} problems, and a part needs at least {MIN_PART} to calibrate, "
            f"evaluate or solve on; use fewer parts (at most {max(1, len(problems) // MIN_PART)})"
        )
    return chosen


def pool_sha256(pool: SamplePool, split: tuple[int, int] | None) -> str:
    """One digest for the pool files' bytes and the split taken from them."""
    digest = hashlib.sha256()
    for file in pool.files:
        digest.update(file.sha256.encode())
    digest.update(repr(split).encode())
    return digest.hexdigest()
