"""Write a JSONL of distinct arithmetic problems, the same number per level, for a big pool.

Why: ``arithmetic:COUNT`` repeats problem texts once a level's distinct expressions run
out (level 1 has 35 bare sums), and a pool with repeated texts counts one problem twice,
once in calibration and once held out. This draws from the seeded generator, keeps the
first occurrence of every text, takes ``--per-level`` problems of each level, and
interleaves the levels (1, 2, 3, 4, 5, 1, ...) so any prefix or half is balanced.

    python -m scripts.pool_problems --per-level 128 --seed 7 --out problems.jsonl
"""

from __future__ import annotations

import argparse
from pathlib import Path

from strategies.arithmetic_problems import ARITHMETIC_LEVELS, generate_arithmetic_problems
from strategies.problems import Problem, write_problems_jsonl


def distinct_balanced(per_level: int, seed: int) -> list[Problem]:
    """``per_level`` distinct-text problems of each level, levels interleaved."""
    by_level: dict[int, list[Problem]] = {level: [] for level in ARITHMETIC_LEVELS}
    seen: set[str] = set()
    draws = per_level * len(ARITHMETIC_LEVELS)
    while True:
        for problem in generate_arithmetic_problems(draws, seed=seed):
            level = problem.metadata["level"]
            if problem.text in seen or len(by_level[level]) >= per_level:
                continue
            seen.add(problem.text)
            by_level[level].append(problem)
        if all(len(found) >= per_level for found in by_level.values()):
            break
        if draws > 200 * per_level * len(ARITHMETIC_LEVELS):
            short = {lv: len(found) for lv, found in by_level.items() if len(found) < per_level}
            raise SystemExit(f"not enough distinct problems for {per_level} per level: {short}")
        draws *= 2  # a longer list extends the shorter one (same seed), so nothing changes order
        by_level = {level: [] for level in ARITHMETIC_LEVELS}
        seen = set()
    return [by_level[lv][i] for i in range(per_level) for lv in ARITHMETIC_LEVELS]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-level", type=int, default=128)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    problems = distinct_balanced(args.per_level, args.seed)
    write_problems_jsonl(problems, args.out)
    print(f"{len(problems)} problems -> {args.out}")


if __name__ == "__main__":
    main()
