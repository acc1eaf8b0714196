"""What the router knows about one problem between rounds, as a feature vector.

One function serves calibration (on prefixes of recorded pools) and the router (on the
samples it has drawn), so training and serving cannot drift. A state is the problem
text plus the samples drawn so far; its rung is how many samples that is.

Rung 0 (nothing drawn yet) has only the prompt's own features: they cost nothing, so
the router can send a problem that looks hard straight to a tree search without paying
for a probe first.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence

import numpy as np
from scipy.special import betainc

from runtime.sample_features import FEATURE_NAMES, sample_features
from strategies.search.result import Candidate
from strategies.search.selection import EncodedPool, solution_score

PROMPT_FEATURE_NAMES: tuple[str, ...] = (
    "prompt_log_chars",
    "prompt_log_words",
    "prompt_log_numbers",
    "prompt_log_digits",
)

# The signals the published stopping rules stop on, so that the decision model can do
# at least what they do: Adaptive-Consistency's Beta posterior, ESC's unanimous window,
# and the verifier's margin between the two leading answers.
STOPPING_FEATURE_NAMES: tuple[str, ...] = (
    "vote_confidence",
    "vote_margin",
    "window_unanimous",
    "weighted_margin",
)
ESC_WINDOW = 4

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def prompt_features(text: str) -> np.ndarray:
    """Zero-cost signals read off the problem text: its length and how much arithmetic it
    holds (harder problems are longer and carry more, larger numbers)."""
    numbers = _NUMBER.findall(text)
    digits = sum(ch.isdigit() for ch in text)
    return np.array(
        [
            math.log1p(len(text)),
            math.log1p(len(text.split())),
            math.log1p(len(numbers)),
            math.log1p(digits),
        ],
        dtype=np.float64,
    )


def feature_names(rung: int) -> tuple[str, ...]:
    if rung == 0:
        return PROMPT_FEATURE_NAMES
    return PROMPT_FEATURE_NAMES + FEATURE_NAMES + STOPPING_FEATURE_NAMES


def leader_confidence(leader: float, runner_up: float) -> float:
    """P(the leading answer's share beats the runner-up's), ``leader`` and ``runner_up``
    votes, under a uniform Beta prior on their split: Adaptive-Consistency's statistic,
    for its stopping rule and the decision model's state alike. 0 with no vote."""
    if leader <= 0:
        return 0.0
    # P(p > 1/2) for p ~ Beta(leader + 1, runner_up + 1)
    return 1.0 - float(betainc(leader + 1.0, runner_up + 1.0, 0.5))


def stopping_features(candidates: Sequence[Candidate], reduction: str) -> np.ndarray:
    """``vote_confidence``: P(the leading answer's share beats the runner-up's) under a
    uniform Beta prior on their split, the Adaptive-Consistency statistic;
    ``vote_margin``: (leader's votes - runner-up's) / samples; ``window_unanimous``: 1
    when the last ``ESC_WINDOW`` samples (at least two) all give one answer, ESC's stop;
    ``weighted_margin``: the same margin on summed verifier scores (0 without scores)."""
    count = len(candidates)
    scores = np.array([solution_score(c, reduction) for c in candidates], dtype=np.float64)
    pool = EncodedPool.from_answers([c.answer for c in candidates], scores.tolist())
    answered = pool.codes >= 0
    classes = len(pool.answers)
    votes = np.sort(np.bincount(pool.codes[answered], minlength=max(classes, 2)))[::-1]
    mass = np.sort(
        np.bincount(pool.codes[answered], weights=scores[answered], minlength=max(classes, 2))
    )[::-1]
    leader, runner_up = float(votes[0]), float(votes[1])
    confidence = leader_confidence(leader, runner_up)
    window = pool.codes[-ESC_WINDOW:]
    unanimous = float(len(window) >= 2 and window[0] >= 0 and bool(np.all(window == window[0])))
    total = float(np.abs(scores[answered]).sum())
    weighted = float(mass[0] - mass[1]) / total if total > 0 else 0.0
    return np.array(
        [confidence, (leader - runner_up) / count, unanimous, weighted], dtype=np.float64
    )


def state_features(
    text: str, candidates: Sequence[Candidate], reduction: str, prompt: np.ndarray | None = None
) -> np.ndarray:
    """The feature vector of a state (ordered as ``feature_names(len(candidates))``)."""
    base = prompt_features(text) if prompt is None else prompt
    if not candidates:
        return base
    return np.concatenate(
        [base, sample_features(candidates, reduction), stopping_features(candidates, reduction)]
    )


def rung_ladder(budgets: Sequence[int], pool_size: int) -> tuple[int, ...]:
    """The sample counts at which the router re-decides: 0, then every calibrated budget
    the pools can replay (a rung above the pool size has no recorded outcome), with a
    rung halfway (in log scale, rounded) between two calibrated budgets that are a
    doubling or more apart: 3 between 2 and 4, 6 between 4 and 8, 12 between 8 and 16.

    Why the halfway rungs: with a doubling ladder a problem whose vote is nearly settled
    at 8 samples must either stop or pay 8 more; the published stopping rules, which draw
    one sample at a time, stopped such problems for less. Half-steps give the decision
    model the same chance at a quarter of the fitting cost of a rung per sample."""
    calibrated = sorted({b for b in budgets if 1 <= b <= pool_size})
    rungs = set(calibrated)
    for low, high in itertools.pairwise(calibrated):
        middle = round(math.sqrt(low * high))
        if high >= 2 * low and low < middle < high:
            rungs.add(middle)
    return (0, *sorted(rungs))
