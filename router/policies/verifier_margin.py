"""``margin:N[:SHARE]``: verifier-weighted stopping.

Sample in doubling tranches (1, 2, 4, ... up to N); stop once at least two samples are
drawn and the leading answer holds at least SHARE (default 0.8) of the summed verifier
scores. Weighted best-of-N picks the answer. A calibration without verifier scores is
refused up front: there is no margin to read. The test itself is
``runtime.stopping_rules.VerifierMargin``.
"""

from __future__ import annotations

from router.policies.base import POLICIES, PolicyError
from router.policies.sampling_rules import SamplingRule
from runtime.answer_rule import AnswerRule
from runtime.decision_model import SequentialModel
from runtime.stopping_rules import VerifierMargin


@POLICIES.register("margin", summary="stop when the verifier-weighted leader holds SHARE")
class VerifierMarginPolicy(SamplingRule):
    name = "margin"
    forms = "margin:N[:SHARE] (e.g. margin:16 or margin:16:0.8)"
    parameter_name = "the share"
    default_parameter = VerifierMargin.share

    def check_model(self, model: SequentialModel) -> None:
        if not model.scored:
            raise PolicyError(
                f"--budget {self}: the calibration's samples carry no verifier scores, so "
                "there is no verifier margin to stop on; use beta:N or esc:N"
            )

    def answer_rule(self, model: SequentialModel, samples: int) -> AnswerRule:
        return AnswerRule("weighted_best_of_n", model.reduction)

    def needs_scores(self, model: SequentialModel) -> bool:
        return True

    @property
    def rule(self) -> VerifierMargin:
        return VerifierMargin(self.parameter)
