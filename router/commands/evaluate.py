"""`ttc evaluate`: the router against every fixed strategy on held-out problems.

Examples::

    ttc calibrate --problems simulator:200 --out runs/sim
    ttc evaluate simulator:200:1 --calibration runs/sim        # other seed: held out
    ttc evaluate arithmetic:60:1 --drop-calibration-problems   # embedded default, SmolLM2
    ttc evaluate problems.jsonl --calibration DIR --budgets 4,16 --policies auto,price:0.02
    ttc evaluate --backend replay --pool dump.jsonl --pool-split 1/2 --calibration DIR

Prints the table of ``router.evaluation.text_report`` and writes the full report as JSON
(default runs/evaluate/<calibration>/<problems>.json). Problems need reference answers,
and must not be the calibration's own problems for the figures to mean anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from calibration.store.artifact import Artifact
from router.budget_checks import check_syntax
from router.commands.common import (
    CommandError,
    add_common_arguments,
    build_router,
    load_setup,
    shout,
)
from router.commands.domain_check import DomainCheck
from router.commands.pool_check import check_pool_covers, pool_model_warning
from router.commands.report_path import check_report_path
from router.evaluation.harness import Evaluation
from router.evaluation.text_report import format_report
from router.policies import PolicyError, parse_policy
from router.problem_source import ProblemSet, calibration_texts, load_problem_set
from strategies.problems import ProblemFormatError, ProblemSourceError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "problems",
        metavar="PROBLEMS",
        nargs="?",
        help="held-out problems with reference answers: JSONL file, arithmetic:COUNT[:SEED] "
        "or simulator:COUNT[:SEED] (use a seed other than the calibration's); with --pool, "
        "default the pool's problems (part --pool-split of them)",
    )
    parser.add_argument(
        "--policies",
        help="comma-separated router policies to report besides the matched-compute runs "
        "(default: auto, every calibration budget N, and the stopping rules beta, esc and "
        "margin at the largest N)",
    )
    parser.add_argument(
        "--budgets",
        help="comma-separated budgets N at which to run the fixed strategies "
        "(default: every calibration budget)",
    )
    parser.add_argument(
        "--drop-calibration-problems",
        action="store_true",
        help="leave out problems whose text was also in the calibration set (arithmetic "
        "levels 1-2 repeat across seeds), and with --pool also those whose id was, so every "
        "figure is held out",
    )
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (1000)")
    parser.add_argument("--out", type=Path, help="report JSON (default under runs/evaluate/)")
    add_common_arguments(parser)


def default_policies(budgets: list[int] | tuple[int, ...], scored: bool = True) -> list[str]:
    """auto, at most N for every calibrated N, and the published stopping rules at the
    largest N (the baselines a sequential router must beat; the verifier margin only
    where the calibration's samples have scores)."""
    top = max(budgets)
    rules = [f"beta:{top}", f"esc:{top}"] + ([f"margin:{top}"] if scored else [])
    return ["auto", *(str(b) for b in budgets), *rules]


def _budgets(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(b) for b in text.split(",") if b.strip()]
    except ValueError:
        raise CommandError(f"--budgets {text!r}: expected integers such as 4,16") from None


def _calibration_ids(problems: ProblemSet, artifact: Artifact) -> set[str]:
    """Ids of the calibration's problems, when evaluating on a pool (where ids are stable)."""
    if problems.world is None or not problems.spec.startswith("pool:"):
        return set()
    return {str(i) for i in artifact.problems["problem_id"]}


def _drop_calibrated(
    problems: ProblemSet, dataset: dict[str, Any], ids: set[str] | None = None
) -> ProblemSet:
    """Leave out the calibration's problems: same text, or (pools) same id."""
    texts = calibration_texts(dataset)
    ids = ids or set()
    if texts is None and not ids:
        raise CommandError(
            "--drop-calibration-problems: cannot read the calibration's problems back "
            f"({dataset.get('source')!r})"
        )
    texts = texts or set()
    kept = [p for p in problems.problems if p.text.strip() not in texts and p.id not in ids]
    print(
        f"ttc evaluate: left out {len(problems.problems) - len(kept)} problems that were in "
        f"the calibration set; {len(kept)} remain",
        file=sys.stderr,
    )
    return replace(problems, problems=kept)


def run(args: argparse.Namespace) -> int:
    try:
        loaded = load_setup(args)
        shout(loaded.mismatches, "evaluate")
        table = loaded.artifact.table
        policies = (
            [p.strip() for p in args.policies.split(",") if p.strip()]
            if args.policies
            else default_policies(
                table.budgets,
                loaded.artifact.sequential is None or loaded.artifact.sequential.scored,
            )
        )
        for policy in policies:
            parse_policy(check_syntax(policy))
        budgets = _budgets(args.budgets)
        problems = load_problem_set(args.problems, args.pool, args.pool_split)
        if args.drop_calibration_problems:
            problems = _drop_calibrated(
                problems,
                loaded.artifact.manifest.dataset,
                _calibration_ids(problems, loaded.artifact),
            )
        else:
            _warn_overlap(problems, loaded.artifact)
        DomainCheck(loaded.artifact, problems, "evaluate").before_run()
        warning = pool_model_warning(problems, loaded.settings.model, "evaluate")
        if warning:
            print(warning, file=sys.stderr)
        check_pool_covers(problems, max([*table.budgets, *(budgets or [])]), "evaluate")
        out = args.out or (
            Path("runs") / "evaluate" / loaded.artifact.path.name / f"{problems.stem}.json"
        )
        check_report_path(out)  # before any compute: the report must have somewhere to go
        router = build_router(loaded, problems, args)
        progress = (lambda message: None) if args.no_progress else _progress
        evaluation = Evaluation(
            router,
            problems.problems,
            resamples=args.resamples,
            budgets=budgets,
            progress=progress,
        )
    except (
        CommandError,
        PolicyError,
        ProblemFormatError,
        ProblemSourceError,
        ValueError,
    ) as exc:
        print(f"ttc evaluate: error: {exc}", file=sys.stderr)
        return 2
    report = evaluation.run(policies, problems_label=args.problems or problems.spec)
    text = format_report(report)
    print(text)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report.to_json(), indent=1) + "\n", encoding="utf-8")
        out.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")
    except OSError as exc:  # it changed since the check (a full disk): the table is above
        print(f"ttc evaluate: error: --out {out}: cannot write the report ({exc})", file=sys.stderr)
        return 1
    print(f"report: {out} (and {out.with_suffix('.txt').name})")
    return 0


def _warn_overlap(problems: ProblemSet, artifact: Artifact) -> None:
    ids = _calibration_ids(problems, artifact)
    shared = sum(p.id in ids for p in problems.problems)
    if shared:
        print(
            f"ttc evaluate: WARNING: {shared} of {len(problems.problems)} pool problems were "
            "also calibrated on, so the figures are not held out (use another --pool-split "
            "or --drop-calibration-problems)",
            file=sys.stderr,
        )


def _progress(message: str) -> None:
    print(f"ttc evaluate: {message} ...", file=sys.stderr, flush=True)
