"""The published stopping rules' tests, apart from the policies that run them.

Why here: the router runs them (``beta:N``, ``esc:N``, ``margin:N`` in router/policies/)
and the calibration replays them on its own pools (``calibration.sequential.baselines``),
so that ``total:B`` can tell, before it spends anything, whether a rule did better than
the decision model on the calibration problems at the same compute. One definition
serves both, so what was replayed is what runs.

Each rule draws in tranches up to N samples and stops at the first tranche after which
it calls the answer settled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from runtime.answer_rule import MAJORITY_RULE, AnswerRule
from runtime.states import leader_confidence
from strategies.answers import canonical_key
from strategies.search.result import Candidate
from strategies.search.selection import answer_mass


def vote_counts(candidates: Sequence[Candidate]) -> list[int]:
    """Votes per distinct answer (by canonical key), largest first."""
    counts = Counter(canonical_key(c.answer) for c in candidates if c.answer is not None)
    return sorted(counts.values(), reverse=True)


def score_mass(candidates: Sequence[Candidate], reduction: str) -> list[float]:
    """Summed solution scores per distinct answer, largest first."""
    return sorted(answer_mass(candidates, reduction).values(), reverse=True)


@dataclass(frozen=True)
class AdaptiveConsistency:
    """Aggarwal et al., EMNLP 2023: one sample at a time; stop when a Beta posterior
    over the two leading answers' shares gives the leader ``confidence`` probability of
    staying ahead. Answers by majority."""

    confidence: float = 0.95
    needs_scores = False

    def tranche(self, drawn: int) -> int:
        return 1

    def settled(self, candidates: Sequence[Candidate], budget: int, reduction: str) -> bool:
        counts = vote_counts(candidates)
        if not counts:
            return False
        runner_up = counts[1] if len(counts) > 1 else 0
        return leader_confidence(counts[0], runner_up) >= self.confidence

    def answer_rule(self, reduction: str) -> AnswerRule:
        return MAJORITY_RULE


@dataclass(frozen=True)
class EarlyStopping:
    """Li et al., ICLR 2024: windows of ``window`` samples (never past N); stop at the
    first window whose answers are unanimous. Answers by majority over all drawn."""

    window: int = 4
    needs_scores = False

    def tranche(self, drawn: int) -> int:
        return self.window

    def settled(self, candidates: Sequence[Candidate], budget: int, reduction: str) -> bool:
        window = list(candidates[-self.window :])
        if len(window) < min(self.window, budget):
            return False
        counts = vote_counts(window)
        return len(counts) == 1 and counts[0] == len(window)

    def answer_rule(self, reduction: str) -> AnswerRule:
        return MAJORITY_RULE


@dataclass(frozen=True)
class VerifierMargin:
    """Doubling tranches (1, 2, 4, ...); stop once at least two samples are drawn and
    the leading answer holds ``share`` of the summed verifier scores. Answers by the
    verifier-weighted vote."""

    share: float = 0.8
    needs_scores = True

    def tranche(self, drawn: int) -> int:
        return max(1, drawn)

    def settled(self, candidates: Sequence[Candidate], budget: int, reduction: str) -> bool:
        if len(candidates) < 2:
            return False
        mass = score_mass(candidates, reduction)
        total = sum(mass)
        return bool(mass) and total > 0 and mass[0] / total >= self.share

    def answer_rule(self, reduction: str) -> AnswerRule:
        return AnswerRule("weighted_best_of_n", reduction)


StoppingRule = AdaptiveConsistency | EarlyStopping | VerifierMargin


def stopping_point(
    rule: StoppingRule, candidates: Sequence[Candidate], budget: int, reduction: str
) -> int:
    """How many of ``candidates`` (in drawing order) the rule draws before it stops, as
    the router's policy would run it round by round."""
    drawn = 0
    while True:
        drawn = min(budget, drawn + rule.tranche(drawn), len(candidates))
        if drawn >= min(budget, len(candidates)):
            return drawn
        if rule.settled(candidates[:drawn], budget, reduction):
            return drawn
