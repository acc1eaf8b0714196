"""Difficulty per problem and the bins the table is built on.

Two measures (DESIGN.md s.2): *oracle* difficulty is pass@1, the share of the K pool
samples that are correct (needs reference answers); *verifier* difficulty is the mean
reduced verifier score of the pool (needs no labels). Both are cut into five quantile
bins, level 1 the easiest (highest value). Liu et al.'s *absolute* bins of pass@1,
[0.5, 1], [0.1, 0.5) and [0, 0.1), are levels 1 to 3.

Ties at quantile edges: problems are ranked by value (descending) and, among equal
values, by the sha256 of their id; rank r of P problems goes to level
floor(r * bins / P) + 1. So every quantile bin has floor(P/bins) or ceil(P/bins)
problems whatever the ties, the assignment is the same on every machine and rerun, and
the tie-break is unrelated to problem order (ids often encode how a generator produced
them, which would leak difficulty into the tie-break). The price: problems with equal
pass@1 may straddle an edge. Each bin's [min, max] value range is reported so a reader
can see where that happened.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from calibration.store.records import ProblemSamples
from strategies.search.selection import reduce_scores

NUM_QUANTILE_BINS = 5
# Lower edges of Liu et al.'s absolute pass@1 bins, easiest first.
ABSOLUTE_LOWER_EDGES: tuple[float, ...] = (0.5, 0.1, 0.0)

ORACLE = "oracle"
VERIFIER = "verifier"
ABSOLUTE = "absolute"
PREDICTED = "predicted"


@dataclass(frozen=True)
class ProblemDifficulty:
    problem_id: str
    pass_at_1: float
    mean_score: float
    num_samples: int
    num_correct: int


def measure_difficulty(samples: ProblemSamples, reduction: str = "last") -> ProblemDifficulty:
    scores = [reduce_scores(s.step_scores, reduction) for s in samples.samples]
    num_correct = sum(s.correct for s in samples.samples)
    count = len(samples.samples)
    return ProblemDifficulty(
        problem_id=samples.problem_id,
        pass_at_1=num_correct / count if count else 0.0,
        mean_score=sum(scores) / count if count else 0.0,
        num_samples=count,
        num_correct=num_correct,
    )


@dataclass(frozen=True)
class Binning:
    """Problems assigned to difficulty levels (1 = easiest) by one measure.

    ``value_ranges[level]`` is the (min, max) of the measure among the level's problems
    (for absolute bins, the fixed interval), for reports and plots.
    """

    name: str
    measure: str
    levels: tuple[int, ...]
    assignment: dict[str, int]
    value_ranges: dict[int, tuple[float, float]]

    def members(self, level: int) -> list[str]:
        return [pid for pid, assigned in self.assignment.items() if assigned == level]

    def sizes(self) -> dict[int, int]:
        counts = dict.fromkeys(self.levels, 0)
        for level in self.assignment.values():
            counts[level] += 1
        return counts


def tie_break_key(problem_id: str) -> str:
    return hashlib.sha256(problem_id.encode()).hexdigest()


def quantile_levels(
    values: Mapping[str, float], num_bins: int = NUM_QUANTILE_BINS
) -> dict[str, int]:
    """Equal-count bins by descending value; ties ordered by the hash of the problem id."""
    if num_bins < 1:
        raise ValueError(f"need at least one bin, got {num_bins}")
    ranked = sorted(values, key=lambda pid: (-values[pid], tie_break_key(pid)))
    total = len(ranked)
    return {pid: rank * num_bins // total + 1 for rank, pid in enumerate(ranked)}


def quantile_binning(
    name: str, measure: str, values: Mapping[str, float], num_bins: int = NUM_QUANTILE_BINS
) -> Binning:
    assignment = quantile_levels(values, num_bins)
    levels = tuple(range(1, num_bins + 1))
    ranges: dict[int, tuple[float, float]] = {}
    for level in levels:
        members = [values[pid] for pid, lv in assignment.items() if lv == level]
        if members:
            ranges[level] = (min(members), max(members))
    return Binning(name, measure, levels, assignment, ranges)


def absolute_level(pass_at_1: float) -> int:
    for level, lower in enumerate(ABSOLUTE_LOWER_EDGES, start=1):
        if pass_at_1 >= lower:
            return level
    return len(ABSOLUTE_LOWER_EDGES)


def absolute_binning(pass_at_1: Mapping[str, float]) -> Binning:
    levels = tuple(range(1, len(ABSOLUTE_LOWER_EDGES) + 1))
    uppers = (1.0, *ABSOLUTE_LOWER_EDGES[:-1])
    ranges = {
        level: (lower, upper)
        for level, lower, upper in zip(levels, ABSOLUTE_LOWER_EDGES, uppers, strict=True)
    }
    assignment = {pid: absolute_level(value) for pid, value in pass_at_1.items()}
    return Binning(ABSOLUTE, "pass@1", levels, assignment, ranges)


def standard_binnings(difficulties: Sequence[ProblemDifficulty]) -> dict[str, Binning]:
    """The oracle, verifier and absolute binnings of one calibration set."""
    pass_at_1 = {d.problem_id: d.pass_at_1 for d in difficulties}
    mean_score = {d.problem_id: d.mean_score for d in difficulties}
    return {
        ORACLE: quantile_binning(ORACLE, "pass@1", pass_at_1),
        VERIFIER: quantile_binning(VERIFIER, "mean verifier score", mean_score),
        ABSOLUTE: absolute_binning(pass_at_1),
    }
