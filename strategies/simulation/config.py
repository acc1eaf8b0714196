"""The simulator's knobs, in one frozen record so a world is fully described by (seed, config)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SimulatorConfig:
    """How simulated problems are drawn and how the simulated model solves them.

    Every problem has one crux step (the insight the problem turns on) that slips more
    often than its ordinary steps; both rates grow with the hidden difficulty. The defaults
    are tuned so that the findings of Snell et al. and of the Hugging Face
    blog (DESIGN.md section 2) show on the simulator with a clear margin: per-problem
    pass@1 spans about 1.0 down to about 0.0, majority voting locks onto a wrong answer on
    hard problems, beam search beats best-of-N at small budgets on the hardest problems,
    and DVTS keeps more distinct answers than beam search.
    """

    min_steps: int = field(default=3, metadata={"help": "fewest solution steps of a problem"})
    max_steps: int = field(default=8, metadata={"help": "most solution steps of a problem"})
    steps_follow_difficulty: float = field(
        default=0.5,
        metadata={
            "help": "0: step count independent of difficulty; 1: harder problems always longer"
        },
    )
    step_error_easy: float = field(
        default=0.005,
        metadata={"help": "per-step slip probability at difficulty 0 (at reference_temperature)"},
    )
    step_error_hard: float = field(
        default=0.4,
        metadata={"help": "per-step slip probability at difficulty 1 (at reference_temperature)"},
    )
    step_error_exponent: float = field(
        default=2.0,
        metadata={
            "help": "curve shape: rate = easy + (hard - easy) * difficulty ** exponent; "
            "above 1 keeps most problems easy-ish and makes the hardest ones very hard"
        },
    )
    crux_error_easy: float = field(
        default=0.01,
        metadata={"help": "slip probability of a problem's crux step at difficulty 0"},
    )
    crux_error_hard: float = field(
        default=0.9,
        metadata={
            "help": "slip probability of the crux step at difficulty 1; above about 0.6 the "
            "most tempting slip is likelier than the right step, so greedy decoding and "
            "majority voting go wrong there, as on real hard problems"
        },
    )
    crux_error_exponent: float = field(
        default=1.5, metadata={"help": "curve shape of the crux step's slip probability"}
    )
    reference_temperature: float = field(
        default=0.8,
        metadata={
            "help": "temperature at which the error-rate curve holds; other temperatures "
            "sharpen (lower) or flatten (higher) the step distribution"
        },
    )
    num_wrong_answers: int = field(
        default=4, metadata={"help": "tempting wrong final answers per problem"}
    )
    wrong_answer_skew: float = field(
        default=1.5,
        metadata={
            "help": "Zipf exponent of the tempting wrong answers' weights (1.5 with 4 answers "
            "gives about 0.60, 0.21, 0.12, 0.08): the most tempting one dominates"
        },
    )
    max_wrong_offset: int = field(
        default=20,
        metadata={"help": "wrong answers differ from the right one by 1..max_wrong_offset"},
    )
    tokens_per_step: tuple[int, int] = field(
        default=(30, 80),
        metadata={"help": "range of the estimated tokens of one step (filler text pads it)"},
    )
    num_parameters: int = field(
        default=1_000_000_000,
        metadata={"help": "pretend size of the simulated policy, for FLOPs estimates"},
    )
    prm_num_parameters: int = field(
        default=8_000_000_000,
        metadata={"help": "pretend size of the simulated PRM, for FLOPs estimates"},
    )
    prm_logit_separation: float = field(
        default=3.0,
        metadata={
            "help": "the PRM's typical logit for a step it judges: +s if right, -s if wrong "
            "(3.0 puts typical scores near 0.95 and 0.05)"
        },
    )
    prm_difficulty_fade: float = field(
        default=2.0,
        metadata={
            "help": "how fast the share of steps the PRM cannot judge grows with difficulty: "
            "at difficulty d it is 1 - (1 - noise) ** (1 + fade * d) (noise 0.1: 0.27 at d=1)"
        },
    )
    prm_fooled_logit_share: float = field(
        default=0.8,
        metadata={
            "help": "a confidently misjudged wrong step scores like a right one with its "
            "typical logit scaled by this share (1: indistinguishable from right)"
        },
    )
    prm_mistakes_persist: bool = field(
        default=True,
        metadata={
            "help": "a confident mistake fools the PRM for the rest of that wrong path "
            "(True: search can exploit it, as with real PRMs) or only at that step (False)"
        },
    )

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.min_steps <= self.max_steps:
            problems.append("need 1 <= min_steps <= max_steps")
        if not 0.0 <= self.steps_follow_difficulty <= 1.0:
            problems.append("steps_follow_difficulty must lie in [0, 1]")
        for name in ("step_error_easy", "step_error_hard", "crux_error_easy", "crux_error_hard"):
            if not 0.0 <= getattr(self, name) < 1.0:
                problems.append(f"{name} must lie in [0, 1)")
        if self.step_error_exponent <= 0 or self.crux_error_exponent <= 0:
            problems.append("step_error_exponent and crux_error_exponent must be positive")
        if self.reference_temperature <= 0:
            problems.append("reference_temperature must be positive")
        if self.num_wrong_answers < 1:
            problems.append("num_wrong_answers must be at least 1")
        if self.max_wrong_offset < (self.num_wrong_answers + 1) // 2:
            problems.append("max_wrong_offset too small for num_wrong_answers distinct answers")
        low, high = self.tokens_per_step
        if not 1 <= low <= high:
            problems.append("tokens_per_step must be (low, high) with 1 <= low <= high")
        if self.num_parameters <= 0 or self.prm_num_parameters <= 0:
            problems.append("parameter counts must be positive")
        if not -1.0 <= self.prm_fooled_logit_share <= 1.0:
            problems.append("prm_fooled_logit_share must lie in [-1, 1]")
        if self.prm_difficulty_fade < 0:
            problems.append("prm_difficulty_fade must be >= 0")
        if self.prm_logit_separation < 0:
            problems.append("prm_logit_separation must be >= 0")
        if problems:
            raise ValueError("invalid SimulatorConfig: " + "; ".join(problems))

    def step_error_rate(self, difficulty: float) -> float:
        """Slip probability of an ordinary step at ``reference_temperature``."""
        span = self.step_error_hard - self.step_error_easy
        return self.step_error_easy + span * difficulty**self.step_error_exponent

    def crux_error_rate(self, difficulty: float) -> float:
        """Slip probability of the crux step at ``reference_temperature``."""
        span = self.crux_error_hard - self.crux_error_easy
        return self.crux_error_easy + span * difficulty**self.crux_error_exponent
