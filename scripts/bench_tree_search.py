"""Tree searches per second on the transformers backend: ``model.generate`` (the earlier
path) against the cached decoding loop, side by side in one run.

The router's demo sends the example problems to tree searches with SmolLM2-135M and the
arithmetic step checker (``rebase`` and ``particle_filtering`` at N=8, depth 6, 48 tokens
a step, as in the shipped calibration), so that is what is timed: the same searches, on
the same problems, with the same seeds and one loaded model shared by both paths. The
paths alternate (generate, cached, generate, ...) so that load from other jobs on a
shared machine falls on both alike; each path's fastest repeat is reported, with the
share of searches whose answer agrees (the paths may differ by a rounding step).

    .venv/bin/python -m scripts.bench_tree_search
    .venv/bin/python -m scripts.bench_tree_search --strategies rebase --budget 4 --repeats 2
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass

from strategies.backends.transformers_backend import TransformersGenerator
from strategies.problems import Problem, load_problems
from strategies.prompts import get_prompt_config
from strategies.search import SearchResult, get_strategy
from strategies.verifiers.registry import build_verifier

SEARCH = "depth=6,step_tokens=48,max_tokens=128"  # the shipped calibration's tree searches
EXAMPLES = "scripts/examples/arithmetic.jsonl"


@dataclass
class Timing:
    seconds: float
    searches: int
    tokens: int
    answers: list[str | None]

    @property
    def per_second(self) -> float:
        return self.searches / self.seconds


def run_searches(
    generator: TransformersGenerator,
    specs: Sequence[str],
    problems: Sequence[Problem],
    budget: int,
    seed: int,
) -> Timing:
    verifier = build_verifier("arithmetic")
    prompt_config = get_prompt_config("smollm2-arithmetic")
    if generator.cached is not None:
        generator.cached.store.clear()  # every repeat starts cold, as a new `ttc solve`
    started = time.perf_counter()
    results: list[SearchResult] = []
    for spec in specs:
        strategy = get_strategy(spec)
        results += strategy.run(
            problems, budget, generator, verifier, prompt_config=prompt_config, seed=seed
        )
    seconds = time.perf_counter() - started
    return Timing(
        seconds=seconds,
        searches=len(results),
        tokens=sum(r.cost.generated_tokens for r in results),
        answers=[r.answer for r in results],
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2", help="smollm2 (default) or a folder")
    parser.add_argument("--problems", default=EXAMPLES, help="JSONL problems file")
    parser.add_argument("--count", type=int, default=8, help="problems (searched together)")
    parser.add_argument(
        "--strategies", default="rebase,particle_filtering", help="comma-separated searches"
    )
    parser.add_argument("--budget", type=int, default=8, help="N of each search")
    parser.add_argument("--repeats", type=int, default=1, help="keep each path's fastest")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    problems = load_problems(args.problems)[: args.count]
    specs = [f"{name}:{SEARCH}" for name in args.strategies.split(",")]
    cached = TransformersGenerator(args.model)
    plain = TransformersGenerator(
        args.model, model_obj=cached.model, tokenizer=cached.tokenizer, decoder="generate"
    )
    print(
        f"{len(specs)} searches x {len(problems)} problems at N={args.budget} ({', '.join(specs)}),"
        f" {torch.get_num_threads()} torch threads, model {cached.name}",
        flush=True,
    )
    best: dict[str, Timing] = {}
    for repeat in range(args.repeats):
        for label, generator in (("generate", plain), ("cached", cached)):
            timing = run_searches(generator, specs, problems, args.budget, args.seed)
            print(
                f"  repeat {repeat + 1} {label:9s} {timing.seconds:7.1f} s"
                f"  {timing.per_second:.3f} searches/s",
                flush=True,
            )
            if label not in best or timing.seconds < best[label].seconds:
                best[label] = timing
    before, after = best["generate"], best["cached"]
    agree = sum(a == b for a, b in zip(before.answers, after.answers, strict=True))
    print(f"\n{'path':30s} {'searches/s':>10s} {'s/search':>9s} {'tokens':>7s}")
    for label, timing in (("before: model.generate", before), ("after: cached decoding", after)):
        print(
            f"{label:30s} {timing.per_second:10.3f} {timing.seconds / timing.searches:9.2f}"
            f" {timing.tokens:7d}"
        )
    print(
        f"speed-up {before.seconds / after.seconds:.2f}x; same answer in {agree} of"
        f" {len(before.answers)} searches"
    )


if __name__ == "__main__":
    main()
