"""What `ttc solve` and `ttc evaluate` share on the command line: the calibration to
load, overrides of its model, backend and verifier, and building the Router."""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from calibration.store.artifact import Artifact, ArtifactError, load_artifact
from router.problem_source import ProblemSet
from router.setup import (
    DEFAULT_CALIBRATION,
    CalibrationMismatchWarning,
    EngineSettings,
    Overrides,
    build_engines,
    engine_context,
    resolve_settings,
)
from router.solver import Router
from runtime.arguments import add_pool_arguments, parse_options


class CommandError(ValueError):
    """Bad input on the command line; printed as ``ttc CMD: error: ...`` with exit code 2."""


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--calibration",
        type=Path,
        help=f"calibration artifact folder from `ttc calibrate` (default: the shipped "
        f"{DEFAULT_CALIBRATION.parent.name}/{DEFAULT_CALIBRATION.name})",
    )
    parser.add_argument(
        "--cost-unit",
        choices=("generations", "flops"),
        default="generations",
        help="what total:B and price:LAMBDA count: full-solution generations (default) or "
        "FLOPs (generator + verifier, from the ledger)",
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (0)")
    parser.add_argument(
        "--batch-size", type=int, default=32, help="problems per strategy call (32)"
    )
    engines = parser.add_argument_group(
        "overrides (default: what the calibration used; any difference warns)"
    )
    engines.add_argument("--model", help="model name or folder")
    engines.add_argument(
        "--backend",
        choices=("transformers", "vllm", "openai", "simulator", "replay"),
        help="engine (replay: serve recorded samples from --pool)",
    )
    add_pool_arguments(engines)
    engines.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="URL",
        help="OpenAI-compatible server base URL; repeat for replicas (--backend openai)",
    )
    engines.add_argument("--verifier", help="verifier name (arithmetic, judge, rlhflow, ...)")
    engines.add_argument("--prompt-config", help="prompt configuration name")
    engines.add_argument(
        "--backend-option", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    engines.add_argument(
        "--verifier-option", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default: torch's choice); use 1 on a shared or busy machine, "
        "where a second thread spin-waits for a core",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def load_calibration(path: Path | None) -> Artifact:
    folder = path if path is not None else DEFAULT_CALIBRATION
    if path is None and not folder.exists():
        raise CommandError(
            f"the shipped calibration {folder} is missing, so there is nothing to route by. "
            "Make one with `ttc calibrate --out "
            f"{folder}` (the embedded SmolLM2 default; about an hour on CPU), or pass "
            "--calibration DIR"
        )
    try:
        return load_artifact(folder)
    except ArtifactError as exc:
        raise CommandError(f"cannot use the calibration: {exc}") from None


@dataclass(frozen=True)
class Loaded:
    artifact: Artifact
    settings: EngineSettings
    mismatches: list[str]


def load_setup(args: argparse.Namespace) -> Loaded:
    artifact = load_calibration(args.calibration)
    backend, verifier = args.backend, args.verifier
    if args.pool:
        if backend not in (None, "replay"):
            raise CommandError(f"--pool replays recorded samples: drop --backend {backend}")
        backend, verifier = "replay", verifier or "replay"
    elif backend == "replay":
        raise CommandError("--backend replay needs --pool FILE (the recorded samples)")
    overrides = Overrides(
        model=args.model,
        backend=backend,
        verifier=verifier,
        prompt_config=args.prompt_config,
        backend_options=parse_options(args.backend_option, "--backend-option"),
        verifier_options=parse_options(args.verifier_option, "--verifier-option"),
        endpoints=tuple(args.endpoint),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CalibrationMismatchWarning)
        settings = resolve_settings(artifact.manifest, overrides)
    messages = [
        str(w.message) for w in caught if issubclass(w.category, CalibrationMismatchWarning)
    ]
    for w in caught:
        if not issubclass(w.category, CalibrationMismatchWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return Loaded(artifact, settings, messages)


def shout(messages: list[str], command: str) -> None:
    """Mismatch warnings, framed so nobody scrolls past them."""
    if not messages:
        return
    bar = "!" * 78
    print(bar, file=sys.stderr)
    for message in messages:
        print(f"ttc {command}: WARNING: {message}", file=sys.stderr)
    print(bar, file=sys.stderr)


def build_router(loaded: Loaded, problems: ProblemSet, args: argparse.Namespace) -> Router:
    model = loaded.artifact.sequential
    if args.cost_unit == "flops" and model is not None and model.sample_flops <= 0:
        # every action would cost 0 FLOPs: a FLOPs budget would never bind
        raise CommandError(
            f"--cost-unit flops: {loaded.artifact.path} records no FLOPs (it was calibrated "
            "on a recorded pool, whose samples carry no compute); count generations (the "
            "default) instead"
        )
    if args.batch_size < 1:
        raise CommandError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.threads is not None:
        if args.threads < 1:
            raise CommandError(f"--threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    context = engine_context(
        loaded.settings, loaded.artifact.table.strategies, [p.text for p in problems.problems]
    )
    generator, verifier = build_engines(loaded.settings, problems.world, context)
    return Router(
        loaded.artifact,
        loaded.settings,
        generator,
        verifier,
        seed=args.seed,
        batch_size=args.batch_size,
        cost_unit=args.cost_unit,
    )
