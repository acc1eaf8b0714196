"""The summary `ttc solve` prints at the end: outcomes, accuracy, compute, time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from calibration.strategy_names import LabelNames
from router.records import AnswerRecord


@dataclass(frozen=True)
class SolveSummary:
    problems: int
    ok: int
    no_answer: int
    failed: int
    graded: int
    correct: int
    generations: float
    tokens: int
    flops: float
    wall_time_s: float
    resumed: int = 0
    choices: dict[str, int] = field(default_factory=dict)
    # failed problems that had a reference: accuracy is unknown because of them, not
    # because the problems have no references
    failed_with_reference: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.graded if self.graded else None


def summarize(
    records: Sequence[AnswerRecord], *, resumed: int = 0, wall_time_s: float = 0.0
) -> SolveSummary:
    """Over every record of the run, including those finished by an earlier run.

    Accuracy counts every problem with a reference that finished (an unanswered problem
    counts as wrong); failed problems are reported apart, since a rerun retries them.
    """
    finished = [r for r in records if r.finished]
    graded = [r for r in finished if r.correct is not None]
    choices = Counter(r.choice for r in finished if r.choice is not None)
    return SolveSummary(
        problems=len(records),
        ok=sum(r.status == "ok" for r in records),
        no_answer=sum(r.status == "no_answer" for r in records),
        failed=sum(r.status == "failed" for r in records),
        graded=len(graded),
        correct=sum(bool(r.correct) for r in graded),
        generations=sum(r.compute.generations for r in records),
        tokens=sum(r.compute.tokens for r in records),
        flops=sum(r.compute.flops for r in records),
        wall_time_s=wall_time_s,
        resumed=resumed,
        choices=dict(choices.most_common()),
        failed_with_reference=sum(
            r.status == "failed" and r.reference is not None for r in records
        ),
    )


def format_summary(summary: SolveSummary, *, header: str = "") -> str:
    per_problem = summary.generations / summary.problems if summary.problems else 0.0
    lines = [header] if header else []
    earlier = f" ({summary.resumed} finished by an earlier run)" if summary.resumed else ""
    lines.append(
        f"  problems   {summary.problems}: answered {summary.ok}, no answer "
        f"{summary.no_answer}, failed {summary.failed}{earlier}"
    )
    if summary.accuracy is not None:
        lines.append(
            f"  accuracy   {summary.correct}/{summary.graded} = {100 * summary.accuracy:.1f}% "
            "(problems with a reference answer)"
        )
    elif summary.failed_with_reference:
        lines.append(
            f"  accuracy   unknown: none of the problems with a reference answer finished "
            f"({summary.failed_with_reference} failed)"
        )
    else:
        lines.append("  accuracy   unknown (no reference answers)")
    lines.append(
        f"  compute    {summary.generations:g} generations ({per_problem:.2f} per problem), "
        f"{summary.tokens:,} tokens, "
        f"{summary.flops:.3g} FLOPs"
    )
    if summary.choices:
        names = LabelNames(summary.choices)
        shown = ", ".join(f"{names(name)} x{count}" for name, count in summary.choices.items())
        lines.append(f"  choices    {shown}")
        legend = names.legend()
        if legend:
            lines.append(f"  legend     {'; '.join(legend)}")
    lines.append(f"  time       {summary.wall_time_s:.1f} s")
    if summary.failed:
        lines.append("  rerun the same command to retry the failed problems")
    return "\n".join(lines)
