"""`ttc solve`: answer a file of problems, spending compute where the calibration says
it pays.

Examples::

    ttc solve scripts/examples/arithmetic.jsonl            # embedded default: SmolLM2 on CPU
    ttc solve problems.jsonl --calibration runs/llama1b --budget total:2000 \\
        --backend openai --endpoint http://gpu1:8000/v1 --out answers.jsonl
    ttc solve simulator:50:1 --calibration runs/sim --budget price:0.02

``--budget`` is one of ``auto`` (default), ``N``, ``total:B`` and ``price:LAMBDA``; see
``router.policy`` for what each does. Output: one JSON line per problem, written as it
finishes; rerunning the same command skips finished problems and retries failed ones.
Under ``total:B`` a rerun shares out what the earlier run left of B.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from router.command_common import (
    CommandError,
    add_common_arguments,
    build_router,
    load_setup,
    shout,
)
from router.output import AnswersFileError, AnswersWriter
from router.policy import BudgetPolicy, PolicyError, check_policy, parse_policy
from router.problem_source import ProblemSet, load_problem_set
from router.records import AnswerRecord
from router.summary import format_summary, summarize
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
        help="auto (default: the price the calibration recommends), N (fixed budget, best "
        "strategy), total:B (B units for the whole batch, probe included) or price:LAMBDA "
        "(climb while a step gains >= LAMBDA accuracy per unit)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="answers JSONL (default runs/solve/<calibration>/<problems>.<budget>.jsonl)",
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


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        policy = parse_policy(args.budget)
        loaded = load_setup(args)
        check_policy(policy, loaded.artifact.table.budgets)
        shout(loaded.mismatches, "solve")
        problems = load_problem_set(args.problems, args.pool, args.pool_split)
        out = args.out or default_out(problems, loaded.artifact.path, policy, args.cost_unit)
        writer = AnswersWriter(out)
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
    existing = writer.existing.finished
    wanted = {p.id for p in problems.problems}
    earlier = [existing[p.id] for p in problems.problems if p.id in existing]
    other_policies = sorted({r.policy for r in earlier if r.policy != str(policy)})
    if other_policies:
        print(
            f"ttc solve: note: {out} already holds answers made under --budget "
            f"{', '.join(other_policies)}; they are kept and not redone (use another --out "
            "for a fresh run)",
            file=sys.stderr,
        )
    pending = [p for p in problems.problems if p.id not in existing]
    budget_left = None
    if policy.kind == "total":
        budget_left = float(policy.value or 0.0) - spent_in(earlier, policy, args.cost_unit)
    records: list[AnswerRecord] = list(earlier)
    if pending:
        try:
            router = build_router(loaded, problems, args)
        except (CommandError, ValueError, ImportError, FileNotFoundError) as exc:
            print(f"ttc solve: error: {exc}", file=sys.stderr)
            return 2
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
    ordered = {r.id: r for r in records if r.id in wanted}
    summary = summarize(
        list(ordered.values()), resumed=len(earlier), wall_time_s=time.perf_counter() - started
    )
    price = ""
    if pending and policy.kind in ("auto", "price"):
        price = f" (price {router.price_for(policy):.3g} per {args.cost_unit[:-1]})"
    header = f"ttc solve: {args.problems or problems.spec} -> {out}\n  budget     {policy}{price}"
    print(format_summary(summary, header=header))
    return 1 if summary.failed else 0
