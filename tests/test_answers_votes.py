"""majority_vote and weighted_vote: grouping by canonical key, ties, missing answers."""

from __future__ import annotations

import math

import pytest

from strategies.answers import (
    canonical_key,
    clear_caches,
    grade,
    keys,
    majority_vote,
    weighted_vote,
)


def test_majority_groups_notations_and_returns_the_first_seen_string() -> None:
    votes: list[str | None] = ["3", "\\frac{1}{2}", "0.5", None, "1/2", "3.0"]
    assert majority_vote(votes) == "\\frac{1}{2}"


def test_majority_ties_go_to_the_group_seen_first() -> None:
    assert majority_vote(["7", "\\frac{1}{2}", "0.5", "7.0"]) == "7"
    assert majority_vote(["\\frac{1}{2}", "7", "7.0", "0.5"]) == "\\frac{1}{2}"


@pytest.mark.parametrize("votes", [[], [None], [None, None]])
def test_no_answers_give_no_vote(votes: list[str | None]) -> None:
    assert majority_vote(votes) is None
    assert weighted_vote(votes, [1.0] * len(votes)) is None


def test_weighted_vote_sums_scores_per_group() -> None:
    votes: list[str | None] = ["4", "5", "5.0", "4", None]
    scores = [0.4, 0.5, 0.6, 0.3, 10.0]
    assert weighted_vote(votes, scores) == "5"  # 1.1 against 0.7; the None's score is ignored
    assert majority_vote(votes) == "4"  # two each: the first seen wins


def test_weighted_vote_ties_go_to_the_group_seen_first() -> None:
    assert weighted_vote(["2", "3", "\\frac{6}{2}"], [1.0, 0.5, 0.5]) == "2"


def test_weighted_vote_rejects_bad_scores() -> None:
    with pytest.raises(ValueError, match="2 answers but 1 scores"):
        weighted_vote(["1", "2"], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        weighted_vote(["1"], [math.nan])


def test_votes_never_compare_answers_pairwise(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*_: object) -> bool:
        raise AssertionError("a vote compared two answers")

    monkeypatch.setattr(keys, "is_equivalent", forbidden)
    clear_caches()
    votes = ["\\frac{1}{2}", "0.5", "1/2", "7", "\\frac{1}{2}"] * 40
    assert majority_vote(votes) == "\\frac{1}{2}"
    info = canonical_key.cache_info()
    assert info.misses == 4  # one key per distinct string, computed once
    assert info.hits == 0  # and asked for once: the vote remembers each string's class


def test_grade_handles_missing_answers() -> None:
    assert grade("\\frac{2}{4}", "0.5")
    assert not grade(None, "0.5")
    assert not grade("0.5", None)
    assert not grade("0.6", "0.5")
