"""Do these problems look like the ones the calibration was made on? One line if not.

A calibration table says which strategy and budget pay off for problems like its own.
On other problems (MATH-500 routed with a table made on 3-operation arithmetic and an
arithmetic checker) its choices mean little, and a run can answer nothing without a word
of why. So `ttc solve` and `ttc evaluate` compare the problems with the calibration on
what both sides know without running a model, and `ttc solve` once more on its answers:

- the dataset: the names both sides give (a generated set's spec, a file's ``source``
  field), compared only when both name one;
- the kind of reference answer (integer, decimal, fraction, expression, text): a
  quarter or more of the problems with a kind the calibration never had;
- the length: half or more of the problems longer than the calibration's longest;
- after the run, the share of problems left without any answer: more than the
  calibration's own rate makes likely (binomial tail below 1 %). That rate is how often
  k of its samples all lacked an answer (k: the calibration's ``probe_k`` setting, 4 by
  default; from each calibration problem's answered share); a record without an answer
  drew at least that many samples, all unanswered, so this expectation errs towards
  silence.

The warning names what differs and the command that calibrates on the user's problems.
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from calibration.store.artifact import Artifact
from router.problem_source import GENERATED_PREFIXES, ProblemSet, calibration_texts
from router.records import AnswerRecord
from strategies.problems import Problem

# Thresholds (see the module docstring for what each guards).
NEW_ANSWER_KINDS_SHARE = 0.25
LONGER_SHARE = 0.5
UNANSWERED_P_VALUE = 0.01
MIN_PROBLEMS = 3  # fewer tell nothing: no warning from two problems

_INTEGER = re.compile(r"[-+]?\d{1,3}(,\d{3})+|[-+]?\d+")
_DECIMAL = re.compile(r"[-+]?\d*\.\d+")
_FRACTION = re.compile(r"[-+]?\d+\s*/\s*\d+|[-+]?\\[dt]?frac\{\d+\}\{\d+\}")


def answer_kind(answer: str) -> str:
    """integer, decimal, fraction, expression (LaTeX or symbols) or text."""
    text = answer.strip().strip("$").strip()
    if _INTEGER.fullmatch(text):
        return "integer"
    if _DECIMAL.fullmatch(text):
        return "decimal"
    if _FRACTION.fullmatch(text):
        return "fraction"
    if re.search(r"[\\^_{}()=<>+\-*/\[\]]|\d", text):
        return "expression"
    return "text"


def dataset_name(spec: str, problems: Sequence[Problem]) -> str | None:
    """The dataset's own name: a generated set's kind, or the ``source`` most problems
    give in their metadata; None when nothing names it (a file name is no evidence)."""
    if spec.startswith(GENERATED_PREFIXES):
        return spec.partition(":")[0]
    sources = Counter(str(p.metadata["source"]) for p in problems if p.metadata.get("source"))
    if sources and sum(sources.values()) * 2 > len(problems):
        return sources.most_common(1)[0][0]
    return None


def binomial_tail(count: int, trials: int, rate: float) -> float:
    """P(X >= count) for X ~ Binomial(trials, rate)."""
    if count <= 0:
        return 1.0
    return sum(
        math.comb(trials, k) * rate**k * (1 - rate) ** (trials - k)
        for k in range(count, trials + 1)
    )


@dataclass(frozen=True)
class CalibrationDomain:
    """What the artifact says about its problems (None where it cannot say)."""

    source: str
    name: str | None
    answer_kinds: frozenset[str]
    longest: int | None
    samples_k: int | None
    unanswered_rate: float | None

    @classmethod
    def of(cls, artifact: Artifact) -> CalibrationDomain:
        dataset = artifact.manifest.dataset
        source = str(dataset.get("source", ""))
        texts = calibration_texts(dataset)
        name = source.partition(":")[0] if source.startswith(GENERATED_PREFIXES) else None
        frame = artifact.problems
        kinds = (
            frozenset(answer_kind(str(g)) for g in frame["gold"].dropna())
            if "gold" in frame.columns
            else frozenset()
        )
        samples_k = artifact.manifest.settings.get("probe_k")
        rate = None
        if samples_k and "answered_share" in frame.columns:
            shares = frame["answered_share"].dropna().clip(0.0, 1.0)
            if len(shares):
                rate = float(((1.0 - shares) ** int(samples_k)).mean())
        return cls(
            source=source,
            name=name,
            answer_kinds=kinds,
            longest=max((len(t) for t in texts), default=None) if texts else None,
            samples_k=int(samples_k) if samples_k else None,
            unanswered_rate=rate,
        )


def problem_differences(
    domain: CalibrationDomain, spec: str, problems: Sequence[Problem]
) -> list[str]:
    """What sets ``problems`` apart from the calibration's, before any model runs."""
    if len(problems) < MIN_PROBLEMS:
        return []
    out = []
    name = dataset_name(spec, problems)
    if name and domain.name and name.lower() != domain.name.lower():
        out.append(f"dataset {name!r}, calibrated on {domain.name!r}")
    answers = [p.answer for p in problems if p.answer is not None and p.answer.strip()]
    if answers and domain.answer_kinds:
        kinds = Counter(answer_kind(a) for a in answers)
        new = {k: n for k, n in kinds.items() if k not in domain.answer_kinds}
        if sum(new.values()) >= NEW_ANSWER_KINDS_SHARE * len(answers):
            shown = ", ".join(f"{n} {k}" for k, n in sorted(new.items(), key=lambda i: -i[1]))
            had = "/".join(sorted(domain.answer_kinds))
            out.append(f"answers of kinds it never saw ({shown} of {len(answers)}; it had {had})")
    if domain.longest is not None:
        longer = sum(len(p.text) > domain.longest for p in problems)
        if longer >= LONGER_SHARE * len(problems):
            out.append(
                f"{longer} of {len(problems)} problems longer than its longest "
                f"({domain.longest} characters)"
            )
    return out


def answer_differences(domain: CalibrationDomain, records: Sequence[AnswerRecord]) -> list[str]:
    """What the run's answer records show: far more problems without any answer."""
    finished = [r for r in records if r.finished]
    if len(finished) < MIN_PROBLEMS or domain.unanswered_rate is None:
        return []
    unanswered = sum(r.status == "no_answer" for r in finished)
    if binomial_tail(unanswered, len(finished), domain.unanswered_rate) >= UNANSWERED_P_VALUE:
        return []
    return [
        f"{unanswered} of {len(finished)} problems without any answer, where its "
        f"{domain.samples_k} samples all missed one on "
        f"{100 * domain.unanswered_rate:.0f}% of its own"
    ]


def calibrate_hint(artifact: Artifact, spec: str) -> str:
    """The command that makes a calibration for these problems with the same engines."""
    manifest = artifact.manifest
    stem = ProblemSet(spec, []).stem
    return (
        f"ttc calibrate --problems {spec} --model {manifest.model} --verifier "
        f"{manifest.verifier} --out runs/{stem}-calibration"
    )


@dataclass
class DomainCheck:
    """Warns at most once per command: before the run, or after it on the answers."""

    artifact: Artifact
    problems: ProblemSet
    command: str
    stream: TextIO | None = None
    domain: CalibrationDomain = field(init=False)
    warned: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.domain = CalibrationDomain.of(self.artifact)

    def before_run(self) -> None:
        self._warn(problem_differences(self.domain, self.problems.spec, self.problems.problems))

    def after_run(self, records: Sequence[AnswerRecord]) -> None:
        if not self.warned:
            self._warn(answer_differences(self.domain, records))

    def _warn(self, differences: list[str]) -> None:
        if not differences:
            return
        self.warned = True
        print(
            f"ttc {self.command}: warning: these problems do not look like the calibration's "
            f"({self.domain.source or self.artifact.path.name}): {'; '.join(differences)}. "
            "Its strategy and budget choices may not hold here; calibrate on your own "
            f"problems: `{calibrate_hint(self.artifact, self.problems.spec)}`, then pass "
            f"--calibration runs/{self.problems.stem}-calibration.",
            file=self.stream or sys.stderr,
        )
