"""`ttc solve`: answer a file of problems, spending compute where the calibration says
it pays.

Examples::

    ttc solve scripts/examples/arithmetic.jsonl            # embedded default: SmolLM2 on CPU
    ttc solve problems.jsonl --calibration runs/llama1b --budget total:2000 \\
        --backend openai --endpoint http://gpu1:8000/v1 --out answers.jsonl
    ttc solve simulator:50:1 --calibration runs/sim --budget price:0.02

``--budget`` is one of ``auto`` (default), ``N``, ``total:B``, ``price:LAMBDA`` or a
stopping rule (``beta:N``, ``esc:N``, ``margin:N``); see ``router.policies``. Output: one JSON line per problem, written as it
finishes; rerunning the same command skips finished problems and retries failed ones.
Under ``total:B`` a rerun shares out what the earlier run left of B.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from calibration.store.artifact import MANIFEST, sha256_file
from router.budget_checks import check_syntax, largest_budget
from router.commands.common import (
    CommandError,
    Loaded,
    add_common_arguments,
    build_router,
    load_setup,
    shout,
)
from router.commands.domain_check import DomainCheck
from router.commands.output import AnswersFileError, AnswersWriter
from router.commands.pool_check import check_pool_covers, pool_model_warning
from router.commands.savings import savings_lines
from router.evaluation.summary import format_summary, summarize
from router.policies import BudgetPolicy, PolicyError, parse_policy
from router.problem_source import ProblemSet, load_problem_set
from router.recording import CallLog, RecordingGenerator, RecordingVerifier
from router.records import AnswerRecord
from router.solver import Router
from strategies.problems import ProblemFormatError, ProblemSourceError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "problems",
        metavar="PROBLEMS",
        nargs="?",
        help="JSONL file of problems (generic, MATH-500 or GSM8K layout), or "
        "arithmetic:COUNT[:SEED] / simulator:COUNT[:SEED]; with --pool, default the pool's "
        "problems",
    )
    parser.add_argument(
        "--budget",
        default="auto",
        help="auto (default: the price the calibration recommends), N (at most N generations "
        "per problem), total:B (B units for the whole batch, never exceeded), price:LAMBDA "
        "(spend while a step gains >= LAMBDA accuracy per unit), or a stopping rule: "
        "beta:N, esc:N, margin:N",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="answers JSONL (default runs/solve/<calibration>/<problems>.<budget>.jsonl); "
        "a rerun resumes it, if made with the same settings and problems",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="discard the answers --out holds from an earlier run (of any settings) and start "
        "afresh; without it, a file made with other settings or problems is refused",
    )
    add_common_arguments(parser)


def default_out(problems: ProblemSet, calibration: Path, policy: BudgetPolicy, unit: str) -> Path:
    suffix = "" if unit == "generations" else f".{unit}"
    return (
        Path("runs") / "solve" / calibration.name / f"{problems.stem}.{policy.slug}{suffix}.jsonl"
    )


def spent_in(records: list[AnswerRecord], policy: BudgetPolicy, unit: str) -> float:
    same = [r for r in records if r.policy == str(policy)]
    return sum(r.compute.generations if unit == "generations" else r.compute.flops for r in same)


def calls_log_path(out: Path) -> Path:
    """Every generator and verifier call of an unfinished run, beside its answers: a rerun
    after a kill is served from it (``router.recording``) instead of paying again."""
    return out.with_name(out.name + ".calls")


def record_calls(router: Router, path: Path) -> CallLog:
    log = CallLog(path)
    router.context = replace(
        router.context,
        generator=RecordingGenerator(router.context.generator, log),
        verifier=RecordingVerifier(router.context.verifier, log),
    )
    return log


def run_fingerprint(
    loaded: Loaded, policy: BudgetPolicy, args: argparse.Namespace
) -> dict[str, Any]:
    """What an answer depends on besides its problem; stored on every answers line, so a
    rerun with other settings cannot pass an earlier run's answers off as its own."""
    settings = loaded.settings
    return {
        "calibration_sha256": sha256_file(loaded.artifact.path / MANIFEST),
        "model": settings.model,
        "backend": settings.backend,
        "verifier": settings.verifier,
        "prompt_config": settings.prompt_config,
        "backend_options": settings.backend_options,
        "verifier_options": settings.verifier_options,
        "seed": args.seed,
        "policy": str(policy),
        "cost_unit": args.cost_unit,
    }


def close_engine(engine: object) -> None:
    """Stop the engine before the summary. A vLLM engine left to the interpreter's exit
    loses its engine process to multiprocessing's exit handler first, and vLLM's client
    then reports "engine core exited unexpectedly" under the summary."""
    close = getattr(engine, "close", None)
    if callable(close):
        close()


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        policy = parse_policy(check_syntax(args.budget))
        loaded = load_setup(args)
        policy.check(loaded.artifact.table.budgets)
        shout(loaded.mismatches, "solve")
        problems = load_problem_set(args.problems, args.pool, args.pool_split)
        domain = DomainCheck(loaded.artifact, problems, "solve")
        warning = pool_model_warning(problems, loaded.settings.model, "solve")
        if warning:
            print(warning, file=sys.stderr)
        most = largest_budget(policy) or max(loaded.artifact.table.budgets)
        check_pool_covers(problems, most, "solve")
        out = args.out or default_out(problems, loaded.artifact.path, policy, args.cost_unit)
        writer = AnswersWriter(
            out, run_fingerprint(loaded, policy, args), problems.problems, overwrite=args.overwrite
        )
    except (
        CommandError,
        PolicyError,
        ProblemFormatError,
        ProblemSourceError,
        AnswersFileError,
        ValueError,
    ) as exc:
        print(f"ttc solve: error: {exc}", file=sys.stderr)
        return 2
    for note in writer.notes:
        print(f"ttc solve: note: {note}", file=sys.stderr)
    domain.before_run()
    existing = writer.existing.finished
    wanted = {p.id for p in problems.problems}
    earlier = [existing[p.id] for p in problems.problems if p.id in existing]
    pending = [p for p in problems.problems if p.id not in existing]
    budget_left = None
    if policy.shared_budget is not None:
        budget_left = policy.shared_budget - spent_in(earlier, policy, args.cost_unit)
    records: list[AnswerRecord] = list(earlier)
    if pending:
        try:
            router = build_router(loaded, problems, args)
            router.check(policy, len(pending), budget_left)
        except (CommandError, ValueError, ImportError, FileNotFoundError) as exc:
            writer.close()
            print(f"ttc solve: error: {exc}", file=sys.stderr)
            return 2
        engine = router.context.generator
        calls = record_calls(router, calls_log_path(out))
        from tqdm.auto import tqdm

        with (
            writer,
            tqdm(
                total=len(pending), desc="solving", unit="problem", disable=args.no_progress
            ) as bar,
        ):
            for record in router.solve(pending, policy, budget_left=budget_left):
                writer.write(record)
                records.append(record)
                bar.update(1)
        calls.close()
        close_engine(engine)
        if all(r.finished for r in records):
            calls.path.unlink(missing_ok=True)  # type: ignore[union-attr]
    writer.close()
    ordered = {r.id: r for r in records if r.id in wanted}
    summary = summarize(
        list(ordered.values()), resumed=len(earlier), wall_time_s=time.perf_counter() - started
    )
    price = ""
    chosen_price = router.price_for(policy) if pending else None
    if chosen_price is not None:
        price = f" (price {chosen_price:.3g} per {args.cost_unit[:-1]})"
    header = f"ttc solve: {args.problems or problems.spec} -> {out}\n  budget     {policy}{price}"
    print(format_summary(summary, header=header))
    for line in savings_lines(loaded.artifact, policy):
        print(line)
    domain.after_run(list(ordered.values()))
    return 1 if summary.failed else 0
