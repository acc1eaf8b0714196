"""The replay verifier: the recorded step scores of the samples the replay backend served.

A request is matched to a recorded sample by its problem (text, or the id the generator
saw it under) and its steps, split as the search splits them. Recorded score lists whose
length differs from the number of steps (a pool that recorded one final ``score``, or
steps split at another delimiter) keep their *last* scores, padded at the front with the
first: exact for the default ``last`` reduction and for ``min`` over repeated scores.
A pool without scores yields 0.0 per step (``load_pool`` already warned that only
majority vote means anything then). Text that is not a recorded sample is an error, not a
guess: to score new text, name a real verifier (``--verifier arithmetic``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from strategies.verification import ScoreRequest, StepScores, split_steps

if TYPE_CHECKING:
    from strategies.pools.records import RecordedSample
    from strategies.pools.replay import ReplayWorld


class UnrecordedSampleError(ValueError):
    """A solution the pool never recorded, so it has no recorded score."""


def fitted_scores(recorded: tuple[float, ...] | None, steps: int) -> tuple[float, ...]:
    """``recorded`` stretched or cut to ``steps`` entries, keeping the last ones."""
    if steps == 0:
        return ()
    if not recorded:
        return (0.0,) * steps
    if len(recorded) >= steps:
        return tuple(recorded[len(recorded) - steps :])
    return (recorded[0],) * (steps - len(recorded)) + tuple(recorded)


class ReplayVerifier:
    name = "replay"

    def __init__(
        self, world: ReplayWorld, delimiter: str = "\n\n", num_parameters: int | None = None
    ) -> None:
        self.world = world
        self.delimiter = delimiter
        known = world.pool.verifier_num_parameters if num_parameters is None else num_parameters
        self.num_parameters = int(known or 0)
        self._index: dict[str, dict[tuple[str, ...], RecordedSample]] = {}

    def score(self, requests: Sequence[ScoreRequest]) -> list[StepScores]:
        return [self._score(request) for request in requests]

    def _score(self, request: ScoreRequest) -> StepScores:
        ids = self.world.ids_for_text(request.problem)
        for problem_id in ids:
            sample = self._samples(problem_id).get(tuple(request.steps))
            if sample is not None:
                scores = fitted_scores(sample.step_scores, len(request.steps))
                read = (
                    sample.num_tokens if sample.verifier_tokens is None else sample.verifier_tokens
                )
                return StepScores(scores, read)
        where = f"problem {ids[0]!r}" if ids else f"problem {request.problem[:60]!r}"
        raise UnrecordedSampleError(
            f"replay verifier: {where} has no recorded sample with these steps, so there "
            "is no recorded score for it; to score new text, pass a real verifier "
            "(--verifier arithmetic, rlhflow, ...)"
        )

    def _samples(self, problem_id: str) -> dict[tuple[str, ...], RecordedSample]:
        found = self._index.get(problem_id)
        if found is None:
            from strategies.pools.replay import served_text

            problem = self.world.pool.problems[problem_id]
            found = {split_steps(served_text(s), self.delimiter): s for s in problem.samples}
            self._index[problem_id] = found
        return found
