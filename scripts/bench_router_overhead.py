"""The router's own bookkeeping per round against the engines' time, side by side.

Routes a problem file with a calibration (default: the shipped SmolLM2 artifact on the
8 example problems, on CPU) and prints, per run, the time spent inside the generator and
the verifier against the time the router spent deciding (state features, the policy's
decisions: ``Router.decision_s``), and their ratio. The goal is bookkeeping under 1% of
generation time.

    python -m scripts.bench_router_overhead [PROBLEMS] [--calibration DIR] [--budget auto]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from router.commands.common import add_common_arguments, build_router, load_setup
from router.problem_source import load_problem_set

ROOT = Path(__file__).resolve().parents[1]


class Timed:
    """Wraps a generator or verifier and adds up the seconds spent inside it."""

    def __init__(self, inner: Any, method: str) -> None:
        self.inner = inner
        self.method = method
        self.seconds = 0.0
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return getattr(self.inner, self.method)(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        return self.call(*args, **kwargs)

    def score(self, *args: Any, **kwargs: Any) -> Any:
        return self.call(*args, **kwargs)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "problems", nargs="?", default=str(ROOT / "scripts/examples/arithmetic.jsonl")
    )
    parser.add_argument("--budget", default="auto")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    loaded = load_setup(args)
    problems = load_problem_set(args.problems)
    router = build_router(loaded, problems, args)
    generator = Timed(router.context.generator, "generate")
    verifier = Timed(router.context.verifier, "score")
    router.context = replace(router.context, generator=generator, verifier=verifier)
    started = time.perf_counter()
    records = list(router.solve(problems.problems, args.budget))
    wall = time.perf_counter() - started
    engines = generator.seconds + verifier.seconds
    print(
        f"bench_router_overhead: {len(records)} problems, --budget {args.budget}, {router.rounds} rounds"
    )
    print(f"  generator  {generator.seconds:8.2f} s in {generator.calls} calls")
    print(f"  verifier   {verifier.seconds:8.2f} s in {verifier.calls} calls")
    print(f"  router     {router.decision_s:8.3f} s deciding (features and policy)")
    print(f"  wall       {wall:8.2f} s")
    print(f"  bookkeeping / generation = {router.decision_s / max(generator.seconds, 1e-9):.4%}")
    print(f"  bookkeeping / engines    = {router.decision_s / max(engines, 1e-9):.4%}")


if __name__ == "__main__":
    main()
