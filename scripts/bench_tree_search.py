"""Tree searches per second on the transformers backend, two decoding paths side by side
in one run.

``--compare decoder`` (the default): ``model.generate`` (the earlier path) against the
cached decoding loop. ``--compare steps``: on the cached loop, a step of REBASE or
particle filtering as one generator call per distinct child count (the earlier tree
engine; reproduced here by ``GroupedCalls``, which splits each step's call exactly as the
engine used to) against the one call per step the engine makes now (``Prompt.samples``).

The router's demo sends the example problems to tree searches with SmolLM2-135M and the
arithmetic step checker (``rebase`` and ``particle_filtering`` at N=8, depth 6, 48 tokens
a step, as in the shipped calibration), so that is what is timed: the same searches, on
the same problems, with the same seeds and one loaded model shared by both paths. The
paths alternate (before, after, before, ...) so that load from other jobs on a
shared machine falls on both alike; each path's fastest repeat is reported, with the
share of searches whose answer agrees (the paths may differ by a rounding step).

    .venv/bin/python -m scripts.bench_tree_search
    .venv/bin/python -m scripts.bench_tree_search --strategies rebase --budget 4 --repeats 2
    .venv/bin/python -m scripts.bench_tree_search --compare steps --threads 1
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from strategies.backends.transformers_backend import TransformersGenerator
from strategies.generation import Completion, Prompt, SamplingParams, sample_count, token_limit
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
    calls: int
    answers: list[str | None]
    texts: list[list[str]]

    @property
    def per_second(self) -> float:
        return self.searches / self.seconds


class CountedCalls:
    """A generator whose calls are counted: each is one decoding loop on transformers."""

    def __init__(self, inner: TransformersGenerator) -> None:
        self.inner = inner
        self.name, self.num_parameters = inner.name, inner.num_parameters
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        self.calls += 1
        return self.inner.generate(prompts, params)


class GroupedCalls(CountedCalls):
    """The earlier tree engine's calls: a call whose prompts carry their own sample counts
    is split into one call per distinct count, in first-seen order, each with ``n`` =
    that count and the largest token cap of its prompts, as ``_TreeRun._expand`` made
    them before a step became one call (tests/test_search_merged_steps.py keeps that
    expansion as its reference)."""

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        groups: dict[int, list[int]] = {}
        for index, prompt in enumerate(prompts):
            groups.setdefault(sample_count(prompt, params), []).append(index)
        outputs: dict[int, list[Completion]] = {}
        for count, indices in groups.items():
            group = [replace(prompts[i], samples=None) for i in indices]
            caps = [token_limit(prompts[i], params) for i in indices]
            results = super().generate(group, replace(params, n=count, max_tokens=max(caps)))
            outputs.update(zip(indices, results, strict=True))
        return [outputs[i] for i in range(len(prompts))]


def run_searches(
    generator: CountedCalls,
    specs: Sequence[str],
    problems: Sequence[Problem],
    budget: int,
    seed: int,
) -> Timing:
    verifier = build_verifier("arithmetic")
    prompt_config = get_prompt_config("smollm2-arithmetic")
    if generator.inner.cached is not None:
        generator.inner.cached.store.clear()  # every repeat starts cold, as a new `ttc solve`
    generator.calls = 0
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
        calls=generator.calls,
        answers=[r.answer for r in results],
        texts=[sorted(c.text for c in r.candidates) for r in results],
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
    parser.add_argument(
        "--compare",
        choices=("decoder", "steps"),
        default="decoder",
        help="decoder: model.generate vs the cached loop; steps: one call per child count"
        " vs one call per step (both on the cached loop)",
    )
    parser.add_argument("--dtype", default="auto", help="model dtype (auto: the model's own)")
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    problems = load_problems(args.problems)[: args.count]
    specs = [f"{name}:{SEARCH}" for name in args.strategies.split(",")]
    cached = TransformersGenerator(args.model, dtype=args.dtype)
    paths: list[tuple[str, str, CountedCalls]]
    if args.compare == "decoder":
        plain = TransformersGenerator(
            args.model, model_obj=cached.model, tokenizer=cached.tokenizer, decoder="generate"
        )
        paths = [
            ("generate", "before: model.generate", CountedCalls(plain)),
            ("cached", "after: cached decoding", CountedCalls(cached)),
        ]
    else:
        paths = [
            ("grouped", "before: a call per count", GroupedCalls(cached)),
            ("merged", "after: a call per step", CountedCalls(cached)),
        ]
    print(
        f"{len(specs)} searches x {len(problems)} problems at N={args.budget} ({', '.join(specs)}),"
        f" {torch.get_num_threads()} torch threads, model {cached.name}"
        f" ({next(cached.model.parameters()).dtype})",
        flush=True,
    )
    best: dict[str, Timing] = {}
    for repeat in range(args.repeats):
        for key, _, generator in paths:
            timing = run_searches(generator, specs, problems, args.budget, args.seed)
            print(
                f"  repeat {repeat + 1} {key:9s} {timing.seconds:7.1f} s"
                f"  {timing.per_second:.3f} searches/s  {timing.calls} calls",
                flush=True,
            )
            if key not in best or timing.seconds < best[key].seconds:
                best[key] = timing
    before, after = best[paths[0][0]], best[paths[1][0]]
    agree = sum(a == b for a, b in zip(before.answers, after.answers, strict=True))
    same = sum(a == b for a, b in zip(before.texts, after.texts, strict=True))
    print(f"\n{'path':30s} {'searches/s':>10s} {'s/search':>9s} {'tokens':>7s} {'calls':>6s}")
    for (_, label, _), timing in zip(paths, (before, after), strict=True):
        print(
            f"{label:30s} {timing.per_second:10.3f} {timing.seconds / timing.searches:9.2f}"
            f" {timing.tokens:7d} {timing.calls:6d}"
        )
    print(
        f"speed-up {before.seconds / after.seconds:.2f}x; same answer in {agree} of"
        f" {len(before.answers)} searches, same solutions in {same}"
    )


if __name__ == "__main__":
    main()
