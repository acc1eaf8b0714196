"""Handing a batch to a published stopping rule where the calibration says it does
better than the decision model: ``total:B`` within its budget, ``N`` (``--budget N``)
under its cap.

Why: the decision model is fitted on the calibration problems, and on a small
calibration of a real model (50 problems, unscored samples) its values are noisy enough
that Adaptive-Consistency, which fits nothing, matched majority@16 with a third less
compute than the router's ``total:B`` (3B pool). So before a batch spends anything,
``TotalPolicy.for_batch`` compares, at the batch's budget per problem, the decision
model's held-out calibration accuracy (its two-fold price curve) with the published
rules replayed on the same calibration problems (``SequentialModel.baselines``), and
hands the batch to the rule when the rule was more accurate within the same compute.
``FixedPolicy.for_batch`` does the same for a per-problem cap, which promises accuracy
first: the rule must have been at least as accurate as the capped decision model held
out and as sampling to the cap, and cheaper. The choice is made from the calibration
alone, never from the problems being solved.

B is still never exceeded: the rule's draws are admitted cheapest first while they fit
(one sample kept back for every problem that has none), and a problem whose draw does
not fit draws what still fits, or stops. A cap is never exceeded either: the rule at N
draws at most N samples.
"""

from __future__ import annotations

from router.policies.base import POLICIES, BudgetPolicy, RoundView
from router.policies.pricing import admit_cheapest_first
from router.policies.sampling_rules import SamplingRule
from runtime.actions import Decision
from runtime.answer_rule import AnswerRule
from runtime.decision_model import SequentialModel

# How much more accurate (share of problems) a rule must have been than the decision
# model, on the calibration problems within the same compute, to run instead of it.
RULE_MARGIN = 0.0


def better_rule(model: SequentialModel, per_problem: float) -> str | None:
    """The stopping rule (its ``--budget`` form) that, within ``per_problem`` generations
    on the calibration problems, beat the decision model's held-out accuracy and was at
    least as accurate as sampling to that budget; None when there is none.

    Why both: the held-out price curve stops where the model stops at price 0, while
    ``total:B`` may spend a generous B down to the last sample; a rule that tops out below
    plain sampling at B (a verifier margin that stops at 2 samples) would cap what B buys.
    """
    fits = {n: p for n, p in model.baselines.items() if p.mean_cost <= per_problem + 1e-9}
    if not fits:
        return None
    # the most accurate; of equals, the cheapest (then by name, so the choice is stable)
    name = max(fits, key=lambda n: (fits[n].accuracy, -fits[n].mean_cost, n))
    accuracy = fits[name].accuracy
    router = model.heldout_accuracy_within(per_problem)
    if router is not None and accuracy <= router + RULE_MARGIN:
        return None
    sampling = model.sampling_accuracy_within(per_problem)
    if sampling is not None and accuracy < sampling:
        return None
    return name


def stopping_rule(name: str) -> SamplingRule:
    """The policy that runs a rule given in its ``--budget`` form (``beta:16``)."""
    kind, _, argument = name.partition(":")
    rule = POLICIES.get(kind).parse(argument)
    assert isinstance(rule, SamplingRule)
    return rule


class HandedToRule(BudgetPolicy):
    """A batch of ``policy`` handed to a stopping rule: it reads and prints as
    ``policy`` (the reports stay under the name the user asked for) and runs the rule."""

    def __init__(self, policy: BudgetPolicy, rule: SamplingRule) -> None:
        self.policy = policy
        self.rule = rule

    @classmethod
    def parse(cls, argument: str) -> BudgetPolicy:
        raise TypeError("made by a policy's for_batch, never parsed")

    def __str__(self) -> str:
        return str(self.policy)

    def check_model(self, model: SequentialModel) -> None:
        self.rule.check_model(model)

    def answer_rule(self, model: SequentialModel, samples: int) -> AnswerRule:
        return self.rule.answer_rule(model, samples)

    def needs_scores(self, model: SequentialModel) -> bool:
        return self.rule.needs_scores(model)


class RuleUnderCap(HandedToRule):
    """A ``--budget N`` batch handed to the rule at N (``SequentialModel.rule_under_cap``)."""

    name = "fixed"
    forms = "N (e.g. 8)"

    def decide(self, view: RoundView) -> list[Decision]:
        return self.rule.decide(view)


class RuleWithinBudget(HandedToRule):
    """A ``total:B`` batch handed to a stopping rule."""

    name = "total"
    forms = "total:B"

    def __init__(self, total: BudgetPolicy, rule: SamplingRule) -> None:
        assert total.shared_budget is not None
        super().__init__(total, rule)
        self.total = total

    @property
    def shared_budget(self) -> float | None:
        return self.total.shared_budget

    def check_batch(
        self, num_problems: int, one_sample: float, unit: str, available: float | None = None
    ) -> None:
        self.total.check_batch(num_problems, one_sample, unit, available)

    def decide(self, view: RoundView) -> list[Decision]:
        """The rule's decisions, admitted within what is left of B; a draw that does not
        fit draws what still fits, or stops."""
        assert self.total.shared_budget is not None
        one = view.sample_cost(1)

        def shrink(index: int, room: float) -> tuple[Decision, float]:
            affordable = int(max(room, 0.0) // one) if one > 0 else 0
            if affordable <= 0:
                return Decision("stop", 0.0, 0.0), 0.0
            target = len(view.problems[index].candidates) + affordable
            sample = Decision("sample", 0.0, float(affordable), None, target)
            return sample, view.sample_cost(affordable)

        decisions = self.rule.decide(view)
        costs = [view.first_run_cost(d, p) for d, p in zip(decisions, view.problems, strict=True)]
        left = self.total.shared_budget - view.spent
        return admit_cheapest_first(view, decisions, costs, left, shrink)
