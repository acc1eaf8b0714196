"""Steps of a solution: the pieces between step delimiters.

Two views of the same split, kept aligned one to one: ``solution_steps`` keeps each
delimiter on its step (so ``"".join(steps) == text`` and a Candidate can be rebuilt
exactly), and ``strategies.verification.split_steps`` drops them (what a verifier
reads). Whitespace-only pieces are glued to a neighbour rather than counted, because
``split_steps`` drops them and a verifier returns one score per step it was given.
"""

from __future__ import annotations

from strategies.answers import extract_answer
from strategies.search.result import Candidate
from strategies.verification import split_steps


def solution_steps(text: str, delimiter: str = "\n\n") -> tuple[str, ...]:
    """Steps of ``text``, each keeping its delimiter; aligned with ``split_steps``."""
    pieces = text.split(delimiter)
    steps: list[str] = []
    pending = ""
    for i, piece in enumerate(pieces):
        tail = delimiter if i < len(pieces) - 1 else ""
        if piece.strip():
            steps.append(pending + piece + tail)
            pending = ""
        elif steps:
            steps[-1] += piece + tail
        else:
            pending += piece + tail
    if pending and steps:
        steps[-1] += pending
    return tuple(steps)


def verifier_steps(text: str, delimiter: str = "\n\n") -> tuple[str, ...]:
    """The steps a verifier scores: one per entry of ``solution_steps``."""
    return split_steps(text, delimiter)


def build_candidate(
    text: str,
    step_scores: tuple[float, ...],
    finish_reason: str,
    num_tokens: int,
    delimiter: str = "\n\n",
    extraction: str = "full",
) -> Candidate:
    """A Candidate with its steps split at ``delimiter`` and its final answer extracted
    by the tiers ``extraction`` allows (the prompt configuration's)."""
    steps = solution_steps(text, delimiter)
    if step_scores and len(step_scores) != len(steps):
        raise ValueError(f"{len(step_scores)} step scores for {len(steps)} steps")
    return Candidate(
        text=text,
        steps=steps,
        step_scores=step_scores,
        answer=extract_answer(text, extraction),
        finish_reason=finish_reason,
        num_tokens=num_tokens,
    )
