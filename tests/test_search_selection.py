"""Selection rules (majority, best-of-N, weighted best-of-N, reductions) and the
vectorised subsampling path calibration uses, checked against a plain reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.search.result import Candidate
from strategies.search.selection import (
    EncodedPool,
    best_of_n,
    choose,
    distinct_answers,
    majority,
    reduce_scores,
    select,
    weighted_best_of_n,
)


def cand(answer, *scores):
    return Candidate(
        text=f"\\boxed{{{answer}}}",
        steps=tuple(f"s{i}" for i in range(len(scores))),
        step_scores=tuple(scores),
        answer=answer,
        finish_reason="eos",
        num_tokens=1,
    )


def test_reductions():
    assert reduce_scores((0.9, 0.2, 0.7)) == 0.7
    assert reduce_scores((0.9, 0.2, 0.7), "min") == 0.2
    assert reduce_scores((0.5, 0.5), "prod") == 0.25
    assert reduce_scores((), "prod") == 0.0
    assert reduce_scores((0.9, 0.2, 0.7), "mean") == pytest.approx(0.6)
    with pytest.raises(ValueError, match="unknown score reduction 'median'"):
        reduce_scores((0.1,), "median")


def test_the_three_selections_disagree_where_they_should():
    pool = [
        cand("1", 0.3),
        cand("1", 0.3),
        cand("1", 0.3),
        cand("2", 0.95),
        cand("3", 0.6),
        cand("3", 0.6),
    ]
    assert majority(pool).answer == "1"
    assert best_of_n(pool).answer == "2"
    assert weighted_best_of_n(pool).answer == "3"
    assert weighted_best_of_n(pool).index == 4, "earliest of the best-scoring winners"


def test_reduction_changes_the_winner():
    pool = [cand("1", 0.1, 0.9), cand("2", 0.5, 0.6)]
    assert best_of_n(pool, "last").answer == "1"
    assert best_of_n(pool, "min").answer == "2"
    assert best_of_n(pool, "prod").answer == "2"


def test_ties_go_to_the_first_answer_and_missing_answers_never_win():
    assert majority([cand("7", 0.1), cand("8", 0.9), cand("8"), cand("7")]).answer == "7"
    pool = [cand(None, 0.99), cand("4", 0.2), cand(None, 0.99)]
    assert best_of_n(pool).answer == "4" and best_of_n(pool).index == 1
    assert weighted_best_of_n(pool).answer == "4"
    none = select("majority", [cand(None, 0.5)])
    assert none.index == -1 and none.answer is None
    assert select("best_of_n", []).answer is None


def test_majority_picks_the_best_scored_member_as_its_solution():
    pool = [cand("5", 0.2), cand("6", 0.9), cand("5", 0.7)]
    choice = majority(pool)
    assert choice.answer == "5" and choice.index == 2


def test_equivalent_answers_vote_together():
    pool = [cand("\\frac{1}{2}", 0.5), cand("0.5", 0.5), cand("3", 0.9), cand("3", 0.1)]
    pool += [cand("1/2", 0.4)]
    assert majority(pool).answer == "\\frac{1}{2}"
    assert distinct_answers(pool) == 2


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown selection method"):
        select("median", [cand("1", 0.5)])


def reference_choice(method, keys, scores, draw):
    """Plain Python statement of the rules in strategies.search.selection."""
    answered = [(pos, i) for pos, i in enumerate(draw) if keys[i] is not None]
    if not answered:
        return -1
    if method == "best_of_n":
        _, best = max(answered, key=lambda item: (scores[item[1]], -item[0]))
        winner = keys[best]
    else:
        totals: dict[str, float] = {}
        first: dict[str, int] = {}
        for pos, i in answered:
            weight = 1.0 if method == "majority" else scores[i]
            totals[keys[i]] = totals.get(keys[i], 0.0) + weight
            first.setdefault(keys[i], pos)
        winner = max(totals, key=lambda k: (totals[k], -first[k]))
    members = [(pos, i) for pos, i in answered if keys[i] == winner]
    return max(members, key=lambda item: (scores[item[1]], -item[0]))[1]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([None, "1", "2", "3", "4"]), st.integers(0, 8)),
        min_size=1,
        max_size=12,
    ),
    st.integers(0, 2**31 - 1),
    st.sampled_from(["majority", "best_of_n", "weighted_best_of_n"]),
)
def test_vectorised_choice_matches_the_reference(items, seed, method):
    keys = [k for k, _ in items]
    scores = [s / 8 for _, s in items]
    pool = EncodedPool.from_answers(keys, scores)
    rng = np.random.default_rng(seed)
    width = int(rng.integers(1, len(keys) + 1))
    draws = np.stack([rng.choice(len(keys), size=width, replace=False) for _ in range(7)])
    chosen = choose(method, pool, draws)
    expected = [reference_choice(method, keys, scores, list(draw)) for draw in draws]
    assert chosen.tolist() == expected


def test_subsampled_choice_agrees_with_the_candidate_path():
    pool = [cand(str(i % 3), (i % 5) / 5) for i in range(10)] + [cand(None, 1.0)]
    encoded = EncodedPool.from_candidates(pool, "last")
    whole = np.arange(len(pool))[None, :]
    for method in ("majority", "best_of_n", "weighted_best_of_n"):
        index = int(choose(method, encoded, whole)[0])
        assert index == select(method, pool).index
        assert encoded.answer_of(index) == select(method, pool).answer


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([None, "2", "2.0", "3", "\\frac{6}{2}", "7"]), st.integers(0, 4)),
        min_size=1,
        max_size=10,
    )
)
def test_selection_agrees_with_the_answers_module_votes(items):
    from strategies.answers import canonical_key, majority_vote, weighted_vote

    pool = [cand(answer, score / 4) for answer, score in items]
    answers = [a for a, _ in items]
    scores = [s / 4 for _, s in items]

    def same(a, b):
        return (a is None and b is None) or (
            a is not None and b is not None and canonical_key(a) == canonical_key(b)
        )

    assert same(majority(pool).answer, majority_vote(answers))
    assert same(weighted_best_of_n(pool).answer, weighted_vote(answers, scores))
