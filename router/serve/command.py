"""`ttc serve`: the router behind an OpenAI-compatible endpoint.

Examples::

    ttc serve                                     # the shipped SmolLM2 artifact, on CPU
    ttc serve --calibration runs/llama1b --backend openai \\
        --endpoint http://gpu1:8000/v1 --endpoint http://gpu2:8000/v1 --port 8080
    ttc serve --calibration runs/sim --world simulator:200:1   # the simulator (tests)

Then ``POST /v1/chat/completions`` with the problem as the last user message, and
optionally ``"ttc": {"budget": "auto" | N | "price:LAMBDA"}``. ``--budget`` is the
default for requests that name none; ``--budget total:B`` shares B units per
``--budget-window`` seconds among them instead.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING, Any

from router.commands.common import (
    CommandError,
    Loaded,
    add_common_arguments,
    build_router,
    load_setup,
    shout,
)
from router.problem_source import ProblemSet, load_problem_set
from runtime.engines import SIMULATOR
from strategies.problems import ProblemSourceError

if TYPE_CHECKING:
    from router.serve.server import ServeSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (8000)")
    parser.add_argument(
        "--budget",
        default="auto",
        help="default for requests without ttc.budget: auto (default), N or price:LAMBDA; or "
        "total:B, B units per --budget-window shared by those requests",
    )
    parser.add_argument(
        "--budget-window",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="with --budget total:B, how often B is renewed (60)",
    )
    parser.add_argument(
        "--batch-window-ms",
        type=float,
        default=20.0,
        help="how long the first request of a batch waits for others to join (20 ms)",
    )
    parser.add_argument(
        "--max-concurrency",
        type=int,
        default=256,
        help="requests admitted at once; beyond it the server answers 429 (256)",
    )
    parser.add_argument(
        "--max-body-bytes", type=int, default=1_000_000, help="largest request body (1 MB)"
    )
    parser.add_argument(
        "--max-request-budget",
        type=int,
        metavar="N",
        help="the most generations per problem one request may order "
        "(default: the calibration's largest measured N; never above it)",
    )
    parser.add_argument(
        "--shutdown-grace",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="on SIGTERM or Ctrl-C, how long answers in flight may take to finish before "
        "each gets a 503; then the server exits 0 (20)",
    )
    parser.add_argument(
        "--served-model-name", help="the model id clients send (default: the calibration's name)"
    )
    parser.add_argument(
        "--world",
        metavar="simulator:COUNT[:SEED]",
        help="the simulator's problems (with the simulator backend, which solves only these)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=("critical", "error", "warning", "info", "debug")
    )
    add_common_arguments(parser)
    _hide(parser, "--pool", "--pool-split")


def _hide(parser: argparse.ArgumentParser, *flags: str) -> None:
    """Keep shared flags that cannot work in a server out of ``--help`` (they are still
    read, so using one gets a clear error instead of argparse's 'unrecognized')."""
    for action in parser._actions:
        if set(action.option_strings) & set(flags):
            action.help = argparse.SUPPRESS


def run(args: argparse.Namespace) -> int:
    # imported here, not at the top: `ttc --help` loads every command's arguments
    from router.serve.server import (
        ServeServer,
        bind_socket,
        build_app,
        server_config,
        simulator_check,
    )

    try:
        if not 0 <= args.port <= 65535:
            raise CommandError(f"--port must be in 0..65535, got {args.port}")
        if getattr(args, "pool", None) or getattr(args, "pool_split", None):
            raise CommandError(
                "--pool replays recorded answers to known problems (ttc solve, ttc evaluate); "
                "a server answers new problems, so it cannot serve from a pool"
            )
        settings, loaded = _settings(args)
        world = _world(args.world)
        simulated = SIMULATOR in (loaded.settings.backend, loaded.settings.verifier)
        if world is not None and not simulated:
            raise CommandError(
                f"--world is for the simulator backend; this server runs "
                f"{loaded.settings.backend} with verifier {loaded.settings.verifier}"
            )
        simulator_check(loaded.settings, world)
        shout(loaded.mismatches, "serve")
        router = build_router(loaded, ProblemSet(args.world or "served", [], world), args)
        app = build_app(router, settings, world)
        router.price_for(settings.default_policy)  # auto's price: found once, before serving
        listening = _listen(bind_socket, args.host, args.port)
    except (
        CommandError,
        ProblemSourceError,
        ValueError,  # PolicyError among them
        ImportError,
        OSError,  # a missing file, or a model hub that cannot be reached
    ) as exc:
        print(f"ttc serve: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"ttc serve: {settings.model_ids[0]} ({loaded.settings.model} on "
        f"{loaded.settings.backend}) at http://{args.host}:{args.port}/v1",
        file=sys.stderr,
    )
    grace_s = settings.shutdown_grace_s
    server = ServeServer(server_config(app, grace_s, log_level=args.log_level), grace_s)
    try:
        server.run(sockets=[listening])
    finally:
        listening.close()
    return 0


def _listen(bind: Any, host: str, port: int) -> Any:
    """The listening socket, bound before serving so a busy port or a bad address is one
    error line rather than uvicorn's traceback."""
    try:
        return bind(host, port)
    except (OSError, OverflowError) as exc:
        raise CommandError(f"--host {host} --port {port}: cannot listen there ({exc})") from None


def _settings(args: argparse.Namespace) -> tuple[ServeSettings, Loaded]:
    from router.serve.budgets import server_policy

    loaded = load_setup(args)
    policy = server_policy(args.budget, loaded.artifact.table.budgets)
    for flag, value, low in (
        ("--batch-window-ms", args.batch_window_ms, 0),
        ("--max-concurrency", args.max_concurrency, 1),
        ("--max-body-bytes", args.max_body_bytes, 1),
        ("--batch-size", args.batch_size, 1),
    ):
        if value < low:
            raise CommandError(f"{flag} must be >= {low}, got {value}")
    for flag, number in (
        ("--budget-window", args.budget_window),
        ("--batch-window-ms", args.batch_window_ms),
        ("--shutdown-grace", args.shutdown_grace),
    ):
        if not math.isfinite(number):
            raise CommandError(f"{flag} must be a finite number, got {number}")
    if not 0 <= args.shutdown_grace <= 3600:
        raise CommandError(f"--shutdown-grace must be in 0..3600 s, got {args.shutdown_grace}")
    if args.budget_window <= 0:
        raise CommandError(f"--budget-window must be > 0, got {args.budget_window}")
    most = max(loaded.artifact.table.budgets, default=None)
    ceiling = args.max_request_budget
    if ceiling is not None and (ceiling < 1 or (most is not None and ceiling > most)):
        raise CommandError(
            f"--max-request-budget must be in 1..{most} (the calibration's largest N), "
            f"got {ceiling}"
        )
    from router.serve.app import ServeLimits
    from router.serve.server import ServeSettings

    settings = ServeSettings(
        model_ids=(args.served_model_name or loaded.artifact.path.name,),
        default_policy=policy,
        window_s=args.batch_window_ms / 1000.0,
        max_batch=args.batch_size,
        budget_window_s=args.budget_window,
        limits=ServeLimits(args.max_concurrency, args.max_body_bytes),
        max_request_budget=ceiling,
        shutdown_grace_s=args.shutdown_grace,
    )
    return settings, loaded


def _world(spec: str | None) -> Any:
    if spec is None:
        return None
    if not spec.startswith("simulator:"):
        raise CommandError(f"--world {spec!r}: expected simulator:COUNT[:SEED]")
    return load_problem_set(spec).world
