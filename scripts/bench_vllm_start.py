"""vLLM on CPU before and after the job-sized engine settings, beside transformers.

Measured back to back in one run, each in a fresh process, so a loaded machine's drift
hits every variant alike (the load average is printed beside each figure):

1. engine start: ``VLLMGenerator`` as it was built before (torch.compile, context = the
   model's maximum) against now (eager, context sized for the job), now with the worker
   inside the engine process ("uni" executor: one process fewer to start), and
   ``TransformersGenerator`` (the model ``ttc solve`` loads by default), each then with
   the first batched ``generate`` of the 8 example problems (8 samples each);
2. the whole `ttc solve scripts/examples/arithmetic.jsonl` on vLLM before and after,
   and on transformers (the calibration's own engine).

Run it in the vLLM environment (``scripts/setup_vllm_env.sh``), from the repository root:

    VLLM_CPU_KVCACHE_SPACE=2 .venv-vllm/bin/python scripts/bench_vllm_start.py

It prints one line per measurement as it goes, then the ratios. ``--skip-solve`` or
``--skip-engine`` runs half of it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXAMPLES = Path("scripts/examples/arithmetic.jsonl")
ROUNDS_KEY = "RESULT "


def _engine_child(variant: str, model_limit: int) -> None:
    """In a fresh process: build one engine, time it and one generate, print JSON."""
    from calibration.store.artifact import load_artifact
    from router.setup import DEFAULT_CALIBRATION, calibrated_settings, engine_context
    from strategies.backends.vllm_backend import VLLMGenerator
    from strategies.generation import SamplingParams
    from strategies.problems import load_problems
    from strategies.prompts import get_prompt_config

    artifact = load_artifact(DEFAULT_CALIBRATION)
    settings = calibrated_settings(artifact.manifest)
    problems = load_problems(str(EXAMPLES))
    context = engine_context(settings, artifact.table.strategies, [p.text for p in problems])
    variants: dict[str, dict[str, Any]] = {
        "before": {"enforce_eager": False, "max_model_len": model_limit},
        "after": {"context": context},
        "uni": {"context": context, "distributed_executor_backend": "uni"},
    }
    options = variants.get(variant, {})
    started = time.perf_counter()
    generator: Any
    if variant == "transformers":
        from strategies.backends.transformers_backend import TransformersGenerator

        generator = TransformersGenerator(settings.model)
    else:
        generator = VLLMGenerator(settings.model, **options)
    ready = time.perf_counter() - started
    prompt = get_prompt_config(settings.prompt_config)
    prompts = [prompt.prompt(p.text, key=p.id) for p in problems]
    started = time.perf_counter()
    out = generator.generate(prompts, SamplingParams(n=8, max_tokens=96, seed=0))
    generate_s = time.perf_counter() - started
    tokens = sum(c.num_tokens for row in out for c in row)
    result = {
        "ready_s": ready,
        "generate_s": generate_s,
        "tokens": tokens,
        "max_model_len": getattr(generator, "max_model_len", None),
        "enforce_eager": getattr(generator, "engine_options", {}).get("enforce_eager"),
    }
    close = getattr(generator, "close", None)
    if close is not None:
        close()
    print(ROUNDS_KEY + json.dumps(result), flush=True)


def _load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def _run(command: list[str], log: Path) -> tuple[float, str]:
    started = time.perf_counter()
    with log.open("w") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, check=False)
    wall = time.perf_counter() - started
    text = log.read_text(errors="replace")
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}; log {log}")
    return wall, text


def engine_round(variant: str, model_limit: int, logs: Path) -> dict:
    command = [sys.executable, __file__, "--child", variant, "--model-limit", str(model_limit)]
    _wall, text = _run(command, logs / f"engine-{variant}.log")
    line = next(x for x in text.splitlines() if x.startswith(ROUNDS_KEY))
    result = json.loads(line[len(ROUNDS_KEY) :])
    print(
        f"  engine {variant:<7} ready {result['ready_s']:6.1f} s, first generate "
        f"{result['generate_s']:6.1f} s ({result['tokens']} tokens), max_model_len "
        f"{result['max_model_len']}, eager {result['enforce_eager']}; {_load()}",
        flush=True,
    )
    return result


def solve_round(label: str, extra: Sequence[str], logs: Path) -> float:
    out = logs / f"answers-{label}.jsonl"
    command = [
        sys.executable,
        "-m",
        "router.cli",
        "solve",
        str(EXAMPLES),
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]
    wall, text = _run(command, logs / f"solve-{label}.log")
    summary = [
        x.strip() for x in text.splitlines() if x.strip().startswith(("accuracy", "compute"))
    ]
    print(f"  solve {label:<18} {wall:6.1f} s; {'; '.join(summary)}; {_load()}", flush=True)
    return wall


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model-limit", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--skip-solve", action="store_true")
    parser.add_argument(
        "--engines",
        default="before,after,uni,transformers",
        help="engine variants to start, in order: before (compiled, full context), after "
        "(eager, job context), uni (after, worker inside the engine process), transformers",
    )
    parser.add_argument("--logs", type=Path, help="keep the runs' logs here (default: temp)")
    args = parser.parse_args(argv)
    if args.child:
        _engine_child(args.child, args.model_limit)
        return
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    from calibration.store.artifact import load_artifact
    from router.setup import DEFAULT_CALIBRATION, calibrated_settings
    from strategies.backends.model_files import model_context_limit, prepare_model_location
    from strategies.models import resolve_model

    model = calibrated_settings(load_artifact(DEFAULT_CALIBRATION).manifest).model
    limit = model_context_limit(prepare_model_location(resolve_model(model))) or 8192
    logs = args.logs or Path(tempfile.mkdtemp(prefix="bench-vllm-start-"))
    logs.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} CPUs, {_load()} at start; logs in {logs}", flush=True)
    ratios = []
    if not args.skip_engine:
        results = {name: engine_round(name, limit, logs) for name in args.engines.split(",")}
        if "before" in results and "after" in results:
            before, after = results["before"], results["after"]
            ratios.append(f"engine ready: {before['ready_s'] / after['ready_s']:.2f}x faster after")
            ratios.append(
                f"first generate: {before['generate_s'] / after['generate_s']:.2f}x (before/after)"
            )
        ratios.append(
            "ready (first generate): "
            + ", ".join(
                f"{name} {r['ready_s']:.1f} s ({r['generate_s']:.1f} s)"
                for name, r in results.items()
            )
        )
    if not args.skip_solve:
        old = [
            "--backend-option",
            "enforce_eager=false",
            "--backend-option",
            f"max_model_len={limit}",
        ]
        vllm_before = solve_round("vllm before", ["--backend", "vllm", *old], logs)
        vllm_after = solve_round("vllm after", ["--backend", "vllm"], logs)
        transformers = solve_round("transformers", ["--backend", "transformers"], logs)
        ratios.append(f"ttc solve on vLLM: {vllm_before / vllm_after:.2f}x faster after")
        ratios.append(f"ttc solve, transformers / vLLM after: {transformers / vllm_after:.2f}x")
        ratios.append(f"ttc solve, transformers / vLLM before: {transformers / vllm_before:.2f}x")
    print("ratios:")
    for line in ratios:
        print(f"  {line}")


if __name__ == "__main__":
    main()
