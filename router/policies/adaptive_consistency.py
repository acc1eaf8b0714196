"""``beta:N[:CONFIDENCE]``: Adaptive-Consistency (Aggarwal et al., EMNLP 2023).

Draw one sample at a time; stop when a Beta posterior over the two leading answers'
shares gives the leader at least CONFIDENCE (default 0.95) probability of staying ahead,
or at N samples. Majority vote picks the answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from router.policies.base import POLICIES, RoundView
from router.policies.sampling_rules import MajorityRule, vote_counts
from runtime.states import leader_confidence
from strategies.search.result import Candidate


@POLICIES.register("beta", summary="Adaptive-Consistency: Beta posterior stopping")
class AdaptiveConsistencyPolicy(MajorityRule):
    name = "beta"
    forms = "beta:N[:CONFIDENCE] (e.g. beta:16 or beta:16:0.95)"
    parameter_name = "the confidence"
    default_parameter = 0.95

    def tranche(self, drawn: int) -> int:
        return 1

    def settled(self, candidates: Sequence[Candidate], view: RoundView) -> bool:
        counts = vote_counts(candidates)
        if not counts:
            return False
        runner_up = counts[1] if len(counts) > 1 else 0
        return leader_confidence(counts[0], runner_up) >= self.parameter
