"""The reference answer of every MATH-500 problem matches the last box of its solution."""

from __future__ import annotations

import json
from pathlib import Path

from strategies.answers import canonical_key, extract_answer, is_equivalent, limits, normalise, pool

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def load_math500() -> list[dict[str, str]]:
    lines = (DATA / "math500_test.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_last_boxed_answer_of_each_math500_solution_matches_its_reference() -> None:
    records = load_math500()
    assert len(records) == 500
    exceptions = []
    for record in records:
        boxed = extract_answer(record["solution"])
        if boxed is None:
            exceptions.append((record["unique_id"], "no box in the solution"))
        elif not is_equivalent(boxed, record["answer"]):
            exceptions.append(
                (record["unique_id"], f"boxed {boxed!r} != answer {record['answer']!r}")
            )
    passed = len(records) - len(exceptions)
    report = "\n".join(f"  {problem}: {reason}" for problem, reason in exceptions)
    assert passed >= 495, f"{passed}/500 MATH-500 answers match their solution's box:\n{report}"


def test_math_verify_itself_parses_and_matches_math500_answers() -> None:
    """Past the string shortcut: almost all boxes and references agree inside math-verify,
    and almost all references get a key from their parsed form, not the string fallback."""
    verified, parsed_keys, exceptions = 0, 0, []
    for record in load_math500():
        boxed = extract_answer(record["solution"]) or ""
        request = {
            "op": "equiv",
            "pred": normalise.clean_answer(boxed),
            "gold": normalise.clean_answer(record["answer"]),
        }
        if pool.worker_pool().call(request, limits.MATH_VERIFY_TIMEOUT_S) is True:
            verified += 1
        else:
            exceptions.append((record["unique_id"], "math-verify", boxed, record["answer"]))
        if canonical_key(record["answer"]).startswith("s:"):
            exceptions.append((record["unique_id"], "string key", record["answer"]))
        else:
            parsed_keys += 1
    assert verified >= 495 and parsed_keys >= 495, (verified, parsed_keys, exceptions)
