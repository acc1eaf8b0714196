"""The router held out on recorded pools of real models, both ways, several draws.

For each pool: calibrate on half 0/2 and evaluate on half 1/2, then the reverse, each
evaluation repeated under ``--draws`` seeds (fresh random orders of the recorded samples).
Every figure is then a mean over both halves (all the pool's problems, each held out
once) and the draws: the best fixed strategy at each N (picked on those means), the
router capped at N (``--budget N``), the published stopping rules at the largest N
(``beta:N``, ``esc:N``), and compute to match the best fixed strategy from the router's
``total:B`` sweep. Intervals are 95 % normal intervals over the problems (draws of one
problem are not independent evidence, so they do not narrow it).

    python -m scripts.replay_pools ../shared/data/pools/*.jsonl --out runs/replay-pools

Seconds per pool on 2 CPU cores; no model is loaded. Prints one Markdown table per pool
(the README's) and writes every report under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from calibration.store.evaluation_records import MethodSummary
from router.evaluation.harness import compute_to_match
from scripts.pool_evaluations import (
    expected_oracle,
    expected_outcomes,
    gap_closed,
    pool_fixed,
    pool_sweep,
)


def _ttc(*args: str, log: Path) -> None:
    command = [sys.executable, "-m", "router.cli", *args, "--no-progress"]
    with log.open("w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed; see {log}")


def run_pool(pool: Path, out: Path, budgets: str | None, draws: int) -> list[list[dict]]:
    """Reports per direction (calibrated on half s, evaluated on the other), per draw."""
    directions = []
    for calibrated in (0, 1):
        held_out = 1 - calibrated
        folder = out / f"calibrated-on-{calibrated}"
        folder.mkdir(parents=True, exist_ok=True)
        extra = ["--budgets", budgets] if budgets else []
        _ttc(
            "calibrate",
            "--pool",
            str(pool),
            "--pool-split",
            f"{calibrated}/2",
            *extra,
            "--out",
            str(folder / "calibration"),
            log=folder / "calibrate.log",
        )
        reports = []
        for seed in range(draws):
            report = folder / f"evaluate-seed{seed}.json"
            _ttc(
                "evaluate",
                "--calibration",
                str(folder / "calibration"),
                "--pool",
                str(pool),
                "--pool-split",
                f"{held_out}/2",
                "--seed",
                str(seed),
                "--out",
                str(report),
                log=folder / f"evaluate-seed{seed}.log",
            )
            reports.append(json.loads(report.read_text()))
        directions.append(reports)
    return directions


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def combine_fixed(directions: Sequence[Sequence[Mapping[str, Any]]]) -> list[MethodSummary]:
    """Each fixed strategy's accuracy over both halves and every draw."""
    halves = [{m.name: m for m in pool_fixed(reports)} for reports in directions]
    names = set.intersection(*(set(h) for h in halves))
    out = []
    for name in sorted(names):
        parts = [h[name] for h in halves]
        out.append(
            MethodSummary(
                name=name,
                kind="fixed",
                accuracy=_mean([p.accuracy for p in parts]),
                ci_low=0.0,
                ci_high=1.0,
                mean_generations=_mean([p.mean_generations for p in parts]),
                mean_flops=_mean([p.mean_flops for p in parts]),
                mean_tokens=_mean([p.mean_tokens for p in parts]),
                strategy=parts[0].strategy,
                budget=parts[0].budget,
            )
        )
    return out


def combine_router(
    directions: Sequence[Sequence[Mapping[str, Any]]],
) -> dict[str, tuple[float, float]]:
    """Router policy -> (accuracy, generations per problem) over both halves and draws."""
    runs: dict[str, list[tuple[float, float]]] = {}
    for reports in directions:
        for report in reports:
            for entry in report["router"]:
                runs.setdefault(entry["policy"], []).append(
                    (entry["accuracy"], entry["mean_generations"])
                )
    expected = sum(len(r) for r in directions)
    return {
        policy: (_mean([a for a, _ in values]), _mean([g for _, g in values]))
        for policy, values in runs.items()
        if len(values) == expected
    }


def interval(accuracy: float, problems: int) -> str:
    half = 1.96 * math.sqrt(max(accuracy * (1 - accuracy), 1e-12) / max(problems, 1))
    return f"[{100 * max(0.0, accuracy - half):.0f}, {100 * min(1.0, accuracy + half):.0f}]"


def table(pool: Path, directions: Sequence[Sequence[Mapping[str, Any]]]) -> str:
    problems = sum(r[0]["num_problems"] for r in directions)
    fixed = combine_fixed(directions)
    sweeps = [pool_sweep(reports) for reports in directions]
    sweep = [
        type(a)(
            a.per_problem_budget,
            (a.accuracy + b.accuracy) / 2,
            (a.mean_generations + b.mean_generations) / 2,
            (a.mean_flops + b.mean_flops) / 2,
        )
        for a, b in zip(*sweeps, strict=True)
    ]
    matches = compute_to_match(fixed, sweep)
    router = combine_router(directions)
    top = max(m.budget for m in matches)
    halves = [expected_outcomes(reports) for reports in directions]
    outcomes = None
    if all(h is not None and h[0] == halves[0][0] for h in halves):  # type: ignore[index]
        names = halves[0][0]  # type: ignore[index]
        outcomes = (
            names,
            np.vstack([h[1] for h in halves]),  # type: ignore[index]
            np.vstack([h[2] for h in halves]),  # type: ignore[index]
        )
    lines = [
        f"{pool.name}: {problems} problems held out ({problems // 2} per half, both ways), "
        f"{len(directions[0])} draws each",
        "",
        "| N | best fixed | acc % | router `--budget N` acc % (gens) "
        "| compute to match (`total:B`) | expected oracle (gap closed) |",
        "|---|---|---|---|---|---|",
    ]
    for match in matches:
        best = next(m for m in fixed if m.name == match.fixed)
        capped = router.get(str(match.budget))
        capped_text = (
            "-"
            if capped is None
            else f"{100 * capped[0]:.1f} {interval(capped[0], problems)} ({capped[1]:.2f})"
        )
        saving = (
            "not reached"
            if match.ratio is None
            else (f"{match.ratio:.2f}x ({match.router_generations:.2f} gens)")
        )
        limit = "-"
        if outcomes is not None:
            oracle = expected_oracle(outcomes, match.budget, match.target_accuracy)
            gap = gap_closed(match.fixed_generations, oracle, match.router_generations)
            if oracle is not None and oracle > 0:
                limit = f"{match.fixed_generations / oracle:.2f}x ({oracle:.2f} gens)"
                limit += "" if gap is None else f", {100 * gap:.0f} %"
        lines.append(
            f"| {match.budget} | {match.fixed} | {100 * best.accuracy:.1f} "
            f"{interval(best.accuracy, problems)} | {capped_text} | {saving} | {limit} |"
        )
    lines.append("")
    for policy in (str(top), f"beta:{top}", f"esc:{top}", f"margin:{top}", "auto"):
        if policy in router:
            accuracy, generations = router[policy]
            lines.append(
                f"- `{policy}`: {100 * accuracy:.1f} % {interval(accuracy, problems)} "
                f"at {generations:.2f} generations per problem"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pools", nargs="+", type=Path, help="recorded pool files (JSONL)")
    parser.add_argument("--out", type=Path, default=Path("runs/replay-pools"))
    parser.add_argument("--draws", type=int, default=3, help="evaluation seeds per half (3)")
    parser.add_argument("--budgets", help="calibration budgets (default: what each pool allows)")
    args = parser.parse_args(argv)
    for pool in args.pools:
        directions = run_pool(pool, args.out / pool.stem, args.budgets, args.draws)
        print(table(pool, directions), flush=True)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
