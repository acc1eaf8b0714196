"""`ttc calibrate --pool`: the defaults a recorded pool implies, and what it cannot do.

A pool fixes what was sampled, so the settings default to what it recorded (model,
prompt configuration, K = its smallest problem's sample count) and only the sampling
strategies can be calibrated: beam search and DVTS need new generations, so naming
one is refused by name. A pool without scores leaves only majority vote (with a warning);
a pool with scores records the transform that reads them (logits through a logistic).
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

from calibration.config import DEFAULT_BUDGETS
from runtime.sources import pool_spec
from strategies.generation import DEFAULT_GENERATION
from strategies.search.registry import get_strategy

SAMPLING_STRATEGIES = ("majority", "best_of_n", "weighted_best_of_n")


class ReplayScoresWarning(UserWarning):
    """The pool has no scores, so the calibration keeps majority vote only."""


def replay_config_args(args: argparse.Namespace) -> argparse.Namespace:
    """A copy of ``args`` with the replay defaults filled in; bad combinations raise."""
    from strategies.pools.loading import parse_split
    from strategies.pools.replay import ReplayWorld

    if args.backend not in (None, "replay"):
        raise ValueError(f"--pool replays recorded samples: drop --backend {args.backend}")
    if not args.pool:
        raise ValueError("--backend replay needs --pool FILE (the recorded samples)")
    if args.problems is not None:
        raise ValueError(
            "--backend replay calibrates on the pool's own problems: drop --problems "
            "(choose a part with --pool-split I/N)"
        )
    if args.tree_backend is not None:
        raise ValueError("--tree-backend: a replay runs no tree searches")
    world = ReplayWorld.from_files(args.pool, parse_split(args.pool_split))
    pool = world.pool
    filled = argparse.Namespace(**vars(args))
    filled.backend = "replay"
    filled.problems = pool_spec(args.pool, args.pool_split)
    filled.model = args.model or pool.recorded("model") or "unknown"
    filled.verifier = args.verifier or "replay"
    recorded_prompt = {f.settings.get("prompt_config") for f in pool.files}
    if args.prompt_config is None and len(recorded_prompt) == 1 and None not in recorded_prompt:
        filled.prompt_config = recorded_prompt.pop()
    smallest = min(len(p.samples) for p in world.selected) if world.selected else 0
    filled.samples = smallest if args.samples is None else args.samples
    if args.budgets is None:
        filled.budgets = ",".join(str(b) for b in DEFAULT_BUDGETS if b <= filled.samples)
    if filled.verifier == "replay" and pool.scored:
        filled.verifier_option = _with_score_transform(list(args.verifier_option or []), pool)
    filled.strategies = _strategies(
        args.strategies, scored=pool.scored or filled.verifier != "replay"
    )
    if args.max_tokens is None:
        filled.max_tokens = int(
            next(iter(pool.files)).settings.get("max_tokens", DEFAULT_GENERATION.max_tokens)
        )
    return filled


def _with_score_transform(options: list[str], pool: Any) -> list[str]:
    """``--verifier-option`` items with the transform the pool's scores need, unless one
    is named: logits (any score outside [0, 1]) read through a logistic. Recorded in the
    manifest with the other options, so evaluating on another part of the pool, whose
    scores may all fall inside [0, 1] by chance, reads them the same way."""
    from strategies.score_transforms import SCORE_TRANSFORM_OPTION, detect_transform

    if any(item.partition("=")[0].strip() == SCORE_TRANSFORM_OPTION for item in options):
        return options
    scores = (
        score
        for problem in pool
        for sample in problem.samples
        for score in sample.step_scores or ()
    )
    return [*options, f"{SCORE_TRANSFORM_OPTION}={detect_transform(scores)}"]


def _strategies(given: str | None, *, scored: bool) -> str:
    from calibration.command import split_strategy_specs

    specs = split_strategy_specs(given) if given else SAMPLING_STRATEGIES
    tree = [spec for spec in specs if not get_strategy(spec).reuses_samples]
    if tree:
        raise ValueError(
            f"--strategies {', '.join(tree)}: a recorded pool holds whole solutions, so "
            "strategies that need new generations (beam search, DVTS) cannot be replayed; "
            f"use {', '.join(SAMPLING_STRATEGIES)} (run tree searches live)"
        )
    if not scored:
        kept = [spec for spec in specs if get_strategy(spec).spec == "majority"] or ["majority"]
        warnings.warn(
            "the pool has samples without scores, so only majority vote is calibrated "
            f"(not {', '.join(s for s in specs if s not in kept)})",
            ReplayScoresWarning,
            stacklevel=2,
        )
        specs = tuple(kept)
    return ",".join(specs)
