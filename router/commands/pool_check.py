"""What a replayed pool must hold before `ttc evaluate` (or `ttc solve`) spends anything.

Why: ``ttc calibrate --pool`` refuses up front a pool with fewer samples per problem
than its largest budget, and problems the pool never recorded; evaluate and solve found
both only mid-run, as a ``GenerationError`` traceback from the replay engine. And a pool
recorded from another model than the calibration's replays fine but measures the
calibration against samples it was not fitted on, so it warns.
"""

from __future__ import annotations

from typing import Any

from router.commands.common import CommandError
from router.problem_source import ProblemSet


def check_pool_covers(problems: ProblemSet, need: int, command: str) -> None:
    """Refuse problems the pool does not hold, or holds with fewer than ``need``
    samples; nothing to check when the problems are not replayed."""
    world = _replay_world(problems)
    if world is None:
        return
    missing, short = [], []
    for problem in problems.problems:
        recorded = _recorded(world, problem)
        if recorded is None:
            missing.append(problem.id)
        elif len(recorded.samples) < need:
            short.append((recorded, len(recorded.samples)))
    files = ", ".join(f.path for f in world.pool.files)
    if missing:
        raise CommandError(
            f"{len(missing)} of {len(problems.problems)} problems are not in the pool "
            f"({files}), e.g. {missing[0]!r}: a pool can only serve the problems it recorded"
        )
    if short:
        recorded, count = min(short, key=lambda item: item[1])
        raise CommandError(
            f"{recorded.where}: problem {recorded.id!r} has {count} recorded samples and "
            f"`ttc {command}` may draw up to {need} (the largest budget); "
            f"{len(short)} problems are short. Pass --budgets up to {count}, or a pool "
            "with more samples"
        )


def pool_model_warning(problems: ProblemSet, model: str, command: str) -> str | None:
    """A warning line when the pool says it was recorded from another model."""
    world = _replay_world(problems)
    if world is None:
        return None
    recorded = world.pool.recorded("model")
    if not recorded or not model or model in ("unknown", recorded):
        return None
    return (
        f"ttc {command}: WARNING: the pool was recorded from model {recorded!r} but the "
        f"calibration is of {model!r}; its figures describe another model's samples"
    )


def _replay_world(problems: ProblemSet) -> Any:
    world = problems.world
    return world if world is not None and hasattr(world, "pool") else None


def _recorded(world: Any, problem: Any) -> Any:
    found = world.pool.problems.get(problem.id)
    if found is not None:
        return found
    ids = world.ids_for_text(problem.text)
    return world.pool.problems[ids[0]] if ids else None
