"""``beta:N[:CONFIDENCE]``: Adaptive-Consistency (Aggarwal et al., EMNLP 2023).

Draw one sample at a time; stop when a Beta posterior over the two leading answers'
shares gives the leader at least CONFIDENCE (default 0.95) probability of staying ahead,
or at N samples. Majority vote picks the answer. The test itself is
``runtime.stopping_rules.AdaptiveConsistency``.
"""

from __future__ import annotations

from router.policies.base import POLICIES
from router.policies.sampling_rules import MajorityRule
from runtime.stopping_rules import AdaptiveConsistency


@POLICIES.register("beta", summary="Adaptive-Consistency: Beta posterior stopping")
class AdaptiveConsistencyPolicy(MajorityRule):
    name = "beta"
    forms = "beta:N[:CONFIDENCE] (e.g. beta:16 or beta:16:0.95)"
    parameter_name = "the confidence"
    default_parameter = AdaptiveConsistency.confidence

    @property
    def rule(self) -> AdaptiveConsistency:
        return AdaptiveConsistency(self.parameter)
