"""Cheap difficulty signals from the samples a problem has drawn so far.

The decision model's state (``runtime.states``) holds them for the samples the router
has drawn; calibration computes the very same function on prefixes of each pool to fit
it, and on k-sample subsets for the difficulty predictor behind ``ttc curves --bins
predicted``. One code path, so training and serving cannot drift.

Every feature is a rate or a mean, so its scale does not depend on k, except
``distinct_answers`` (a count: with k samples it is at most k, which is why the
predictor is trained for one subset size).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from strategies.search.result import Candidate
from strategies.search.selection import EncodedPool, solution_score

FEATURE_NAMES: tuple[str, ...] = (
    "score_mean",
    "score_min",
    "score_max",
    "score_std",
    "min_step_score_mean",
    "agreement",
    "weighted_agreement",
    "distinct_answers",
    "answered_share",
    "finished_share",
    "boxed_share",
    "log_tokens_mean",
    "steps_mean",
)


def sample_features(candidates: Sequence[Candidate], reduction: str = "last") -> np.ndarray:
    """The feature vector (ordered as FEATURE_NAMES) of one problem's samples.

    ``agreement`` is the share of samples giving the modal answer (samples without an
    answer count in the denominator); ``weighted_agreement`` the share of total score
    on the answer with the most score. Answers are grouped by canonical key, as the
    selection rules group them.
    """
    if not candidates:
        raise ValueError("sample_features needs at least one sample")
    count = len(candidates)
    scores = np.array([solution_score(c, reduction) for c in candidates], dtype=np.float64)
    min_steps = np.array([min(c.step_scores) if c.step_scores else 0.0 for c in candidates])
    pool = EncodedPool.from_answers([c.answer for c in candidates], scores.tolist())
    answered = pool.codes >= 0
    num_classes = len(pool.answers)
    if num_classes:
        votes = np.bincount(pool.codes[answered], minlength=num_classes)
        mass = np.bincount(pool.codes[answered], weights=scores[answered], minlength=num_classes)
        agreement = float(votes.max()) / count
        total_mass = float(scores[answered].sum())
        weighted_agreement = float(mass.max()) / total_mass if total_mass > 0 else agreement
    else:
        agreement = 0.0
        weighted_agreement = 0.0
    values = {
        "score_mean": float(scores.mean()),
        "score_min": float(scores.min()),
        "score_max": float(scores.max()),
        "score_std": float(scores.std()),
        "min_step_score_mean": float(min_steps.mean()),
        "agreement": agreement,
        "weighted_agreement": weighted_agreement,
        "distinct_answers": float(num_classes),
        "answered_share": float(answered.mean()),
        "finished_share": sum(c.finish_reason != "length" for c in candidates) / count,
        "boxed_share": sum("\\boxed{" in c.text for c in candidates) / count,
        "log_tokens_mean": float(np.mean([math.log1p(c.num_tokens) for c in candidates])),
        "steps_mean": float(np.mean([len(c.steps) for c in candidates])),
    }
    return np.array([values[name] for name in FEATURE_NAMES], dtype=np.float64)
