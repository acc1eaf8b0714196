"""Majority vote by canonical key against pairwise is_equivalent grouping, side by side.

For 50 MATH-500 problems (30 with integer answers, 10 with fractions, 10 with other
numeric expressions), 256 answers each: the reference in several equivalent notations and
wrong answers in several notations, shuffled with a fixed seed. Both methods run on the
same lists in one process; all answer caches (the canonical-key cache and the workers'
parse caches) are cleared before every timed vote, so each method starts cold on every
problem, and the order of the two methods alternates between problems.

The pairwise baseline is the natural one: each answer is compared with the first answer of
every group found so far until one matches (not all pairs), with is_equivalent's own
string shortcut and the workers' parse cache helping it.

Run: .venv/bin/python scripts/bench_answers.py [--problems 50] [--answers 256] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from strategies.answers import canonical_key, clear_caches, is_equivalent, majority_vote

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "math500_test.jsonl"
INTEGER = re.compile(r"-?\d+")
FRACTION = re.compile(r"(-?)\\d?frac\{(\d+)\}\{(\d+)\}")


def rational_notations(value: Fraction) -> list[str]:
    numerator, denominator = value.numerator, value.denominator
    if denominator == 1:
        return [
            str(numerator),
            f"{numerator}.0",
            f"\\frac{{{2 * numerator}}}{{2}}",
            f"\\dfrac{{{3 * numerator}}}{{3}}",
            f"x = {numerator}",
            f"{numerator} \\text{{ units}}",
        ]
    sign = "-" if numerator < 0 else ""
    size = abs(numerator)
    forms = [
        f"{sign}\\frac{{{size}}}{{{denominator}}}",
        f"{sign}\\dfrac{{{size}}}{{{denominator}}}",
        f"{numerator}/{denominator}",
        f"{sign}\\frac{{{2 * size}}}{{{2 * denominator}}}",
    ]
    decimal = f"{float(value):.6f}".rstrip("0")
    if abs(Fraction(decimal) - value) < Fraction(1, 10**6):
        forms.append(decimal)  # exact, or rounded to math-verify's 6 places
    return forms


def expression_notations(reference: str) -> list[str]:
    return [
        reference,
        reference.replace("\\frac", "\\dfrac"),
        f"{{{reference}}}",
        f"{reference}+0",
        f"1\\cdot{{{reference}}}",
    ]


def rational_distractors(value: Fraction) -> list[Fraction]:
    candidates = [
        value + 1,
        value - 1,
        2 * value,
        -value,
        value + 10,
        value / 2,
        Fraction(0),
        Fraction(1),
    ]
    candidates += [value + Fraction(1, value.denominator + 1), 3 * value + 2]
    return list(dict.fromkeys(candidate for candidate in candidates if candidate != value))


def expression_distractors(reference: str) -> list[list[str]]:
    group = f"{{{reference}}}"
    return [
        [f"{group}+1", f"1+{group}"],
        [f"2\\cdot{group}", f"2{group}"],
        [f"-{group}"],
        [f"\\frac{{{reference}}}{{2}}", f"{group}/2"],
        [f"{group}^2"],
        ["\\sqrt{2}", "\\sqrt 2"],
        ["1"],
        ["\\pi"],
        [f"{group}-1"],
    ]


@dataclass(frozen=True)
class BenchProblem:
    kind: str  # "integer", "fraction" or "expression"
    reference: str
    right: list[str]  # the reference in equivalent notations
    wrong: list[list[str]]  # wrong values, each in one or more notations


def choose_problems(count: int) -> list[BenchProblem]:
    """The first problems of each kind in file order: 3/5 integers, 1/5 fractions, the rest expressions."""
    by_kind: dict[str, list[BenchProblem]] = {"integer": [], "fraction": [], "expression": []}
    for line in DATA.read_text().splitlines():
        reference = json.loads(line)["answer"]
        fraction = FRACTION.fullmatch(reference)
        if INTEGER.fullmatch(reference) or fraction:
            if fraction:
                sign, numerator, denominator = fraction.groups()
                value = Fraction(int(sign + numerator), int(denominator))
            else:
                value = Fraction(int(reference))
            wrong = [rational_notations(other) for other in rational_distractors(value)]
            kind = "fraction" if fraction else "integer"
            by_kind[kind].append(BenchProblem(kind, reference, rational_notations(value), wrong))
        elif re.search(r"\\sqrt|\\pi", reference) and not re.search(r"\\pm|,", reference):
            by_kind["expression"].append(
                BenchProblem(
                    "expression",
                    reference,
                    expression_notations(reference),
                    expression_distractors(reference),
                )
            )
    integers, fractions = count * 3 // 5, count // 5
    return (
        by_kind["integer"][:integers]
        + by_kind["fraction"][:fractions]
        + by_kind["expression"][: count - integers - fractions]
    )


def answer_list(
    rng: random.Random, right: list[str], wrong: list[list[str]], size: int
) -> list[str | None]:
    """The reference takes 30-45% of the answers; wrong values share the rest unevenly."""
    right_count = int(size * rng.uniform(0.30, 0.45))
    chosen_wrong = rng.sample(wrong, min(len(wrong), rng.randint(6, 10)))
    weights = [rng.random() + 0.2 for _ in chosen_wrong]
    rest = size - right_count
    counts = [int(rest * weight / sum(weights)) for weight in weights]
    counts[0] += rest - sum(counts)
    cap = int(right_count * 0.7)
    overflow = sum(max(0, count - cap) for count in counts)
    counts = [min(count, cap) for count in counts]
    right_count += overflow
    answers: list[str | None] = [rng.choice(right) for _ in range(right_count)]
    for forms, count in zip(chosen_wrong, counts, strict=True):
        answers += [rng.choice(forms) for _ in range(count)]
    rng.shuffle(answers)
    return answers


class CountingEquivalence:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, first: str, second: str) -> bool:
        self.calls += 1
        return is_equivalent(first, second)


def pairwise_vote(answers: list[str | None], equivalent: Callable[[str, str], bool]) -> str | None:
    """Greedy grouping: each answer joins the first group whose first answer it matches."""
    groups: list[list[str]] = []
    for answer in answers:
        if answer is None:
            continue
        for group in groups:
            if equivalent(answer, group[0]):
                group.append(answer)
                break
        else:
            groups.append([answer])
    if not groups:
        return None
    largest = max(len(group) for group in groups)
    return next(group[0] for group in groups if len(group) == largest)


def timed(function: Callable[[], str | None]) -> tuple[str | None, float]:
    clear_caches()
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def compare_votes(problems: list[BenchProblem], lists: list[list[str | None]]) -> None:
    # Untimed warm-up on a list of each kind: ANTLR builds its prediction tables on first use.
    for kind in ("integer", "fraction", "expression"):
        warm = next(
            (
                answers
                for problem, answers in zip(problems, lists, strict=True)
                if problem.kind == kind
            ),
            None,
        )
        if warm is not None:
            majority_vote(warm)
            pairwise_vote(warm, is_equivalent)
    seconds: dict[tuple[str, str], float] = {}
    pair_calls = 0
    mismatches, wrong_winners, distinct = [], [], []
    for index, (problem, answers) in enumerate(zip(problems, lists, strict=True)):
        counter = CountingEquivalence()
        runs = [
            ("key", lambda answers=answers: majority_vote(answers)),
            ("pair", lambda answers=answers, counter=counter: pairwise_vote(answers, counter)),
        ]
        if index % 2:
            runs.reverse()  # alternate which method runs first
        results = {name: timed(function) for name, function in runs}
        (key_winner, key_seconds), (pair_winner, pair_seconds) = results["key"], results["pair"]
        for method, elapsed in (("key", key_seconds), ("pair", pair_seconds)):
            seconds[problem.kind, method] = seconds.get((problem.kind, method), 0.0) + elapsed
        pair_calls += counter.calls
        distinct.append(len(set(answers)))
        if key_winner != pair_winner:
            mismatches.append((problem.reference, key_winner, pair_winner))
        if key_winner is None or not is_equivalent(key_winner, problem.reference):
            wrong_winners.append((problem.reference, key_winner))
        print(
            f"  {index + 1:2d} {problem.reference[:24]:24s} distinct {distinct[-1]:3d} "
            f"key {key_seconds * 1000:8.1f} ms  pairwise {pair_seconds * 1000:9.1f} ms "
            f"({counter.calls} is_equivalent calls)  same winner: {key_winner == pair_winner}"
        )

    print()
    print(
        f"distinct strings per problem: median {statistics.median(distinct):.0f}, max {max(distinct)}"
    )
    for kind in ("integer", "fraction", "expression", "all"):
        kinds = [kind] if kind != "all" else ["integer", "fraction", "expression"]
        count = sum(problem.kind in kinds for problem in problems)
        key = sum(seconds.get((name, "key"), 0.0) for name in kinds)
        pair = sum(seconds.get((name, "pair"), 0.0) for name in kinds)
        if count:
            print(
                f"{kind:10s} ({count:2d} problems): canonical-key vote {key:7.2f} s, "
                f"pairwise vote {pair:8.2f} s, ratio {pair / key:6.1f}x"
            )
    print(f"is_equivalent calls made by the pairwise vote: {pair_calls}")
    print(
        f"same winner on every problem: {not mismatches} ({len(problems) - len(mismatches)}/{len(problems)})"
    )
    print(
        f"winner equivalent to the reference: {len(problems) - len(wrong_winners)}/{len(problems)}"
    )
    for mismatch in mismatches:
        print("  MISMATCH", mismatch)
    for wrong in wrong_winners:
        print("  WRONG WINNER", wrong)


def call_latency(problems: list[BenchProblem]) -> None:
    """Typical single calls, cold (caches cleared before each): what a grader pays per answer."""
    key_ms, equivalent_ms = [], []
    references = [json.loads(line)["answer"] for line in DATA.read_text().splitlines()][:100]
    for reference in references:
        clear_caches()
        start = time.perf_counter()
        canonical_key(reference)
        key_ms.append((time.perf_counter() - start) * 1000)
        clear_caches()
        start = time.perf_counter()
        is_equivalent(f"{{{reference}}}+0", reference)  # not string-equal: math-verify decides
        equivalent_ms.append((time.perf_counter() - start) * 1000)
    for name, values in (("canonical_key", key_ms), ("is_equivalent", equivalent_ms)):
        quantiles = statistics.quantiles(values, n=20)
        print(
            f"{name} on the first 100 MATH-500 references, cold: median {statistics.median(values):.1f} ms, "
            f"p95 {quantiles[18]:.1f} ms, max {max(values):.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--problems", type=int, default=50)
    parser.add_argument("--answers", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    problems = choose_problems(args.problems)
    lists = [answer_list(rng, problem.right, problem.wrong, args.answers) for problem in problems]
    print(
        f"{len(problems)} problems x {args.answers} answers; starting the math-verify workers ..."
    )
    is_equivalent("\\frac{1}{2}", "0.5")  # worker start-up stays outside the timings
    compare_votes(problems, lists)
    print()
    call_latency(problems)


if __name__ == "__main__":
    main()
