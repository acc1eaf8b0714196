"""``esc:N[:WINDOW]``: Early-Stopping Self-Consistency (Li et al., ICLR 2024).

Sample in windows of WINDOW (default 4, never past N); stop at the first window whose
answers are unanimous, or at N samples. Majority vote over everything drawn picks the
answer. The test itself is ``runtime.stopping_rules.EarlyStopping``.
"""

from __future__ import annotations

from router.policies.base import POLICIES
from router.policies.sampling_rules import MajorityRule
from runtime.stopping_rules import EarlyStopping


@POLICIES.register("esc", summary="Early-Stopping Self-Consistency: unanimous window")
class EarlyStoppingPolicy(MajorityRule):
    name = "esc"
    forms = "esc:N[:WINDOW] (e.g. esc:16 or esc:16:4)"
    parameter_name = "the window"
    default_parameter = float(EarlyStopping.window)

    @property
    def window(self) -> int:
        return max(1, int(self.parameter))

    @property
    def rule(self) -> EarlyStopping:
        return EarlyStopping(self.window)
