"""The project's grader against plain math-verify, pair by pair (issue 24).

Pairs (a prediction, a reference answer) come from three places:

- MATH-500: each solution against its reference, and the reference rewritten the ways
  models write it (in ``$..$``, in a sentence, as an assignment, with ``\\dfrac``, as a
  decimal at 5 or 2 significant digits, a list reordered) or changed (a digit changed, a
  tuple reversed), each with the verdict the rewriting implies;
- GSM8K: each worked solution against its ``#### N``, and the number written with a
  currency sign, a unit, decimals, in a sentence, or changed by one;
- the recorded pools in ``../shared/data/pools/``: every completion against its problem's
  reference (no verdict implied: a person judges each disagreement).

Both graders see the same text: the project extracts (``extract_answer``, mode ``full``)
and compares (``is_equivalent``); plain math-verify parses the reference in a box and the
prediction whole with its default extraction (last box, else LaTeX, else an expression)
and verifies. Every pair on which they disagree is written to
``tests/data/grading_differential.csv`` with the verdict the project argues for and why
(kept from the previous table where the pair was already there; new ones are filled from
the rewriting's implied verdict, or left for a person to judge); the counts go to
``tests/data/grading_differential_counts.json`` and the README.

Run: .venv/bin/python -m scripts.grading_differential [--limit-pools N]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from strategies.answers import extract_answer, is_equivalent

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TABLE = ROOT / "tests" / "data" / "grading_differential.csv"
COUNTS = ROOT / "tests" / "data" / "grading_differential_counts.json"
POOLS = (
    "llama31-8b-awq_math500-first100x32.jsonl",
    "llama32-3b-awq_math500-first100x16.jsonl",
    "qwen25math-orm_math-100x8.jsonl",
)
FIELDS = ("source", "pred", "gold", "math_verify", "project", "argued", "reason")


@dataclass(frozen=True)
class Pair:
    source: str  # "math500:<rewriting>", "gsm8k:<rewriting>" or "pool:<file>#<row>/<sample>"
    pred: str  # the prediction's text ("" for a pool sample: read it from the pool)
    gold: str
    implied: bool | None  # the verdict the rewriting implies; None: a person judges
    reason: str = ""


# Why the verdict a rewriting implies is right, for the table's "reason" column.
REASONS = {
    "math500:solution": "the reference solution's last box is its answer",
    "math500:bare": "the reference itself, written without $: math-verify reads no LaTeX "
    "outside math delimiters",
    "math500:dfrac": "\\dfrac is \\frac; written without $, math-verify does not read it",
    "math500:unboxed sentence": "a final statement without a box; its whole final "
    "expression is the reference",
    "math500:stated": "the reference stated in a sentence",
    "math500:assignment": "an assignment to an unknown answers with its value",
    "math500:digit changed": "a digit changed makes another answer (a base subscript too: "
    "52_9 is not 52_8)",
    "math500:list reordered": "an unbracketed list of solutions compares as a set",
    "math500:tuple reversed": "an ordered tuple stays ordered",
    "gsm8k:solution": "the reference solution's #### N is its answer",
    "gsm8k:currency": "a dollar amount with thousands separators in a sentence is the number",
    "gsm8k:unit": "a unit word after the number",
    "gsm8k:glued unit": "a unit word glued to the number",
}


def math_verify_verdict(pred: str, gold: str) -> bool:
    from math_verify import parse, verify

    try:
        return bool(verify(parse("\\boxed{" + gold + "}"), parse(pred)))
    except Exception:  # its own timeouts raise; a crash is a "no"
        return False


def project_verdict(pred: str, gold: str) -> bool:
    answer = extract_answer(pred)
    return answer is not None and is_equivalent(answer, gold)


# ------------------------------------------------------------------------------ MATH-500


def _numeric_value(gold: str) -> tuple[float, bool] | None:
    """(value, has a finite decimal) of a numeric reference, via math-verify's parser."""
    from math_verify import parse
    from sympy import Rational

    parsed = [item for item in parse("\\boxed{" + gold + "}") if not isinstance(item, str)]
    if not parsed or not getattr(parsed[0], "is_number", False):
        return None
    node = parsed[0]
    try:
        value = complex(node.evalf(30))
    except (TypeError, ValueError):
        return None
    if value.imag or not value.real or node.is_Integer:
        return None
    finite = isinstance(node, Rational) and all(
        prime in (2, 5) for prime in _prime_factors(int(node.q))
    )
    return value.real, finite


def _prime_factors(number: int) -> set[int]:
    factors, divisor = set(), 2
    while divisor * divisor <= number and divisor < 10_000:
        while number % divisor == 0:
            factors.add(divisor)
            number //= divisor
        divisor += 1
    if number > 1:
        factors.add(number)
    return factors


def _top_level_parts(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return parts


def _changed_digit(gold: str) -> str | None:
    digits = [match.start() for match in re.finditer(r"\d", gold)]
    if not digits:
        return None
    at = digits[-1]
    return gold[:at] + str((int(gold[at]) + 1) % 10) + gold[at + 1 :]


def math500_pairs() -> Iterator[Pair]:
    for line in (DATA / "math500_test.jsonl").read_text().splitlines():
        record = json.loads(line)
        gold = record["answer"]
        yield Pair("math500:solution", record["solution"], gold, True)
        yield Pair("math500:dollars", f"${gold}$", gold, True)
        yield Pair("math500:bare", gold, gold, True)
        yield Pair("math500:stated", f"Therefore, the answer is ${gold}$.", gold, True)
        yield Pair("math500:unboxed sentence", f"Therefore the result is {gold}.", gold, True)
        plain_value = not re.search(r"[=,<>]|\\in|\\cup|[a-zA-Z](?![a-zA-Z{])", gold)
        if plain_value and "\\text" not in gold:
            yield Pair("math500:assignment", f"Hence $x = {gold}$.", gold, True)
        if "\\frac" in gold:
            yield Pair("math500:dfrac", gold.replace("\\frac", "\\dfrac"), gold, True)
        changed = None if re.search(r"\\(?:text|mbox)", gold) else _changed_digit(gold)
        if changed is not None:
            yield Pair("math500:digit changed", f"${changed}$", gold, False)
        parts = _top_level_parts(gold)
        thousands = re.search(r"\d,(?:\\!)?\s*\d{3}", gold)
        if len(parts) > 1 and not thousands and not gold.startswith(("(", "[", "\\left", "\\{")):
            reordered = ", ".join(reversed(parts))
            yield Pair("math500:list reordered", f"${reordered}$", gold, True)
        if gold.startswith("(") and gold.endswith(")") and len(_top_level_parts(gold[1:-1])) > 1:
            swapped = ", ".join(reversed(_top_level_parts(gold[1:-1])))
            if swapped != gold[1:-1]:
                yield Pair("math500:tuple reversed", f"$({swapped})$", gold, False)
        numeric = _numeric_value(gold)
        written_decimal = "." in gold
        if (
            numeric is not None
            and not numeric[1]
            and not written_decimal
            and 1e-3 < abs(numeric[0]) < 1e6
        ):
            value = numeric[0]
            yield Pair(
                "math500:decimal 5 digits",
                f"{value:.5g}",
                gold,
                True,
                "a decimal at 5 significant digits is the exact value at its written "
                "precision (strategies/answers/precision.py)",
            )
            yield Pair(
                "math500:decimal 2 digits",
                f"{value:.2g}",
                gold,
                False,
                "2 significant digits are too coarse to tell the value",
            )


# --------------------------------------------------------------------------------- GSM8K


def gsm8k_pairs() -> Iterator[Pair]:
    for line in (DATA / "gsm8k_test.jsonl").read_text().splitlines():
        solution = json.loads(line)["answer"]
        gold = solution.rsplit("####", 1)[1].strip().replace(",", "")
        number = int(gold) if re.fullmatch(r"-?\d+", gold) else None
        yield Pair("gsm8k:solution", solution, gold, True)
        yield Pair("gsm8k:boxed", f"So the total is $\\boxed{{{gold}}}$.", gold, True)
        yield Pair("gsm8k:stated", f"The answer is {gold}.", gold, True)
        if number is None:
            continue
        commas = f"{number:,}"
        yield Pair("gsm8k:currency", f"So she earns \\${commas} in total.", gold, True)
        yield Pair("gsm8k:unit", f"{commas} dollars", gold, True)
        yield Pair("gsm8k:glued unit", f"{number}weeks", gold, True)
        yield Pair("gsm8k:decimals", f"{number}.00", gold, True)
        yield Pair("gsm8k:worked line", f"So {number - 2} + 2 = {number}", gold, True)
        yield Pair("gsm8k:off by one", f"The answer is {number + 1}.", gold, False)


# --------------------------------------------------------------------------------- pools


def pool_pairs(limit: int | None) -> Iterator[tuple[Pair, str]]:
    for name in POOLS:
        lines = (DATA / "pools" / name).read_text().splitlines()
        for row, line in enumerate(lines[:limit]):
            record = json.loads(line)
            for sample, completion in enumerate(record["completions"]):
                yield Pair(f"pool:{name}#{row}/{sample}", "", record["answer"], None), completion


def pool_completion(source: str) -> str:
    """The completion a ``pool:FILE#ROW/SAMPLE`` source names."""
    name, position = source.removeprefix("pool:").split("#")
    row, sample = (int(part) for part in position.split("/"))
    line = (DATA / "pools" / name).read_text().splitlines()[row]
    return str(json.loads(line)["completions"][sample])


# ------------------------------------------------------------------------------- running


def _previous_table() -> dict[tuple[str, str, str], dict[str, str]]:
    if not TABLE.exists():
        return {}
    with TABLE.open(newline="") as handle:
        return {(row["source"], row["pred"], row["gold"]): row for row in csv.DictReader(handle)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit-pools", type=int, default=None, help="rows per pool")
    arguments = parser.parse_args()
    previous = _previous_table()
    counts: dict[str, Counter[str]] = {}
    rows: list[dict[str, str]] = []
    started = time.monotonic()

    def judge(pair: Pair, text: str) -> None:
        family = pair.source.split(":", 1)[0]
        tally = counts.setdefault(family, Counter())
        verdict_mv = math_verify_verdict(text, pair.gold)
        verdict_project = project_verdict(text, pair.gold)
        tally["pairs"] += 1
        if pair.implied is not None:
            if verdict_project != pair.implied and verdict_mv == verdict_project:
                print(f"both wrong: {pair.source} {text[-120:]!r} | {pair.gold!r}", file=sys.stderr)
            tally["project right"] += verdict_project == pair.implied
            tally["math-verify right"] += verdict_mv == pair.implied
        if verdict_mv == verdict_project:
            tally["agree"] += 1
            return
        tally["disagree"] += 1
        key = (pair.source, pair.pred, pair.gold)
        kept = previous.get(key, {})
        argued = kept.get("argued") or ("" if pair.implied is None else str(pair.implied))
        implied_reason = REASONS.get(pair.source, "implied by the rewriting")
        if pair.implied is not None:
            reason = pair.reason or implied_reason
        else:
            reason = kept.get("reason", "")  # a person's judgement, kept between runs
        rows.append(
            {
                "source": pair.source,
                "pred": pair.pred,
                "gold": pair.gold,
                "math_verify": str(verdict_mv),
                "project": str(verdict_project),
                "argued": argued,
                "reason": reason,
            }
        )

    for pair in math500_pairs():
        judge(pair, pair.pred)
    print(f"MATH-500 done ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    for pair in gsm8k_pairs():
        judge(pair, pair.pred)
    print(f"GSM8K done ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    for pair, completion in pool_pairs(arguments.limit_pools):
        judge(pair, completion)
    print(f"pools done ({time.monotonic() - started:.0f} s)", file=sys.stderr)

    for row in rows:
        if row["argued"]:
            tally = counts[row["source"].split(":", 1)[0]]
            tally["disagreements where the project is right"] += row["argued"] == row["project"]
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    with TABLE.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    COUNTS.write_text(json.dumps({k: dict(v) for k, v in counts.items()}, indent=2) + "\n")
    print(json.dumps({k: dict(v) for k, v in counts.items()}, indent=2))


if __name__ == "__main__":
    main()
