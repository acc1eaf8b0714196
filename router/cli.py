"""The ``ttc`` command line.

Each subcommand lives in its own module and registers its arguments through an
``add_arguments(parser)`` / ``run(args)`` pair, imported lazily so ``ttc --help``
stays fast and never loads torch. The engines' log level is set before any of them
is imported (``router.commands.log_setup``: warnings only, unless ``--verbose``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from router.commands.log_setup import LEVEL_ENV, LogLevelError, configure_logging, resolve_level

# name -> (module, one-line help, description)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "calibrate": (
        "calibration.command",
        "sample, grade and score solutions; fit the router's decision model",
        "Offline calibration: samples K solutions per problem, grades and scores them, bins "
        "problems by difficulty, evaluates every strategy at every budget, fits the decision "
        "model the router runs, and writes an artifact folder (table.json, per-problem "
        "results, sequential_model.json, manifest.json).",
    ),
    "solve": (
        "router.commands.solve",
        "solve problems in rounds, by the calibration's decision model",
        "Online routing in rounds: from each problem's text and the samples drawn so far, the "
        "decision model stops, samples more or runs a tree search, under a policy (auto, N, "
        "total:B, price:LAMBDA), and writes one JSON line per problem with the answer and "
        "every generation it cost.",
    ),
    "evaluate": (
        "router.commands.evaluate",
        "compare the router with every fixed strategy at matched compute",
        "Held-out evaluation: the router under each budget policy against every fixed "
        "strategy at matched average compute, with confidence intervals.",
    ),
    "curves": (
        "calibration.curves.command",
        "print and plot accuracy against compute for each strategy and the router",
        "Compute-optimal curves of a calibration artifact: an aligned text table and PNG plots "
        "of accuracy against generations, tokens or FLOPs.",
    ),
    "serve": (
        "router.serve.command",
        "serve the router behind an OpenAI-compatible /v1/chat/completions endpoint",
        "An HTTP server: each chat request is one problem (its last user message), routed "
        "like `ttc solve` and answered as a chat completion with a ttc object (answer, "
        "strategy, budget, difficulty, cost). Concurrent requests are micro-batched.",
    ),
}


VERBOSE_HELP = (
    "show the engines' INFO logs (vLLM, transformers); by default they log warnings only "
    f"(or the level in ${LEVEL_ENV})"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ttc",
        description="ttc-router: spend an LLM's test-time compute where it pays.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text, description) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=description)
        # after the subcommand too; SUPPRESS keeps a flag given before it
        sub.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
        )
        module = _load(module_name)
        if module is not None:
            module.add_arguments(sub)
        sub.set_defaults(_module=module_name)
    return parser


def _load(module_name: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        configure_logging(resolve_level(args.verbose, os.environ))
    except LogLevelError as exc:
        parser.exit(2, f"ttc {args.command}: error: {exc}\n")
    module = _load(args._module)
    if module is None:
        parser.exit(2, f"ttc {args.command}: not implemented yet in this version\n")
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
