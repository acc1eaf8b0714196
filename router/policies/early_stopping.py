"""``esc:N[:WINDOW]``: Early-Stopping Self-Consistency (Li et al., ICLR 2024).

Sample in windows of WINDOW (default 4, never past N); stop at the first window whose
answers are unanimous, or at N samples. Majority vote over everything drawn picks the
answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from router.policies.base import POLICIES, RoundView
from router.policies.sampling_rules import MajorityRule, vote_counts
from strategies.search.result import Candidate


@POLICIES.register("esc", summary="Early-Stopping Self-Consistency: unanimous window")
class EarlyStoppingPolicy(MajorityRule):
    name = "esc"
    forms = "esc:N[:WINDOW] (e.g. esc:16 or esc:16:4)"
    parameter_name = "the window"
    default_parameter = 4.0

    @property
    def window(self) -> int:
        return max(1, int(self.parameter))

    def tranche(self, drawn: int) -> int:
        return self.window

    def settled(self, candidates: Sequence[Candidate], view: RoundView) -> bool:
        window = list(candidates[-self.window :])
        if len(window) < min(self.window, self.budget):
            return False
        counts = vote_counts(window)
        return len(counts) == 1 and counts[0] == len(window)
