"""Pathological answers return within the bound, from the main thread and from threads.

Elapsed times here are loose guards against hangs (10 s), not speed benchmarks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from strategies.answers import canonical_key, is_equivalent, limits
from strategies.answers.pool import worker_pool

GUARD_S = 10.0

PATHOLOGICAL = [
    "10^{10^{10}}",
    "2^{2^{2^{2^{2^{2^{2}}}}}}",
    "(10^{10})!",
    "1000000!",
    "(" * 20 + "1" + ")" * 20,
    "{" * 20 + "1" + "}" * 20,
    "+".join(["\\frac{x^{2}+1}{x-3}"] * 300),  # 5,700 characters
    "1+" * 2500 + "1",  # 5,001 characters
]


@pytest.fixture(scope="module", autouse=True)
def started_workers() -> None:
    """Start-up of the worker processes is not what these tests time."""
    assert is_equivalent("0.5", "\\frac{1}{2}")


def timed(function, *arguments):  # type: ignore[no-untyped-def]
    start = time.monotonic()
    result = function(*arguments)
    return result, time.monotonic() - start


@pytest.mark.parametrize("answer", PATHOLOGICAL, ids=lambda answer: answer[:24])
def test_pathological_answer_returns_in_time(answer: str) -> None:
    verdict, elapsed = timed(is_equivalent, answer, "5")
    assert verdict is False and elapsed < GUARD_S, elapsed
    verdict, elapsed = timed(is_equivalent, "5", answer)
    assert verdict is False and elapsed < GUARD_S, elapsed
    # Against itself in other spacing: the string fallback still recognises it.
    verdict, elapsed = timed(is_equivalent, answer, answer.replace("+", " + "))
    assert verdict is True and elapsed < GUARD_S, elapsed
    key, elapsed = timed(canonical_key, answer)
    assert isinstance(key, str) and elapsed < GUARD_S, elapsed


def test_pathological_answers_from_threads_return_in_time() -> None:
    pairs = [(answer, "5") for answer in PATHOLOGICAL] + [("\\frac{1}{2}", "0.5"), ("3", "4")]
    expected = [False] * len(PATHOLOGICAL) + [True, False]

    def check(pair: tuple[str, str]) -> tuple[bool, float]:
        return timed(is_equivalent, *pair)

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(check, pairs))
    assert [verdict for verdict, _ in results] == expected
    assert max(elapsed for _, elapsed in results) < GUARD_S


def test_normal_answers_from_threads_match_sequential_results() -> None:
    pairs = [
        ("\\frac{1}{2}", "0.5"),
        ("2+\\sqrt{3}", "2-\\sqrt{3}"),
        ("(1, 2)", "\\left(1,2\\right)"),
        ("x^2-1", "(x-1)(x+1)"),
        ("7", "\\frac{14}{2}"),
        ("\\pi", "3.14"),
    ] * 4
    sequential = [is_equivalent(*pair) for pair in pairs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(lambda pair: is_equivalent(*pair), pairs))
    assert threaded == sequential
    assert sequential[:6] == [True, False, True, True, True, False]


def test_a_worker_stuck_past_the_guards_is_killed_and_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The last line of defence: an input no guard catches runs into the deadline."""
    monkeypatch.setattr(limits, "MAX_BRACKET_DEPTH", 1_000)
    monkeypatch.setattr(limits, "MATH_VERIFY_TIMEOUT_S", 1.0)
    slow = "{" * 18 + "1" + "}" * 18  # ANTLR needs minutes for this
    workers = worker_pool()
    killed_before = workers.discarded
    verdict, elapsed = timed(is_equivalent, slow, "2")
    assert verdict is False and elapsed < GUARD_S, elapsed
    assert workers.discarded == killed_before + 1  # the deadline was hit, the worker killed
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(
            pool.map(lambda pair: timed(is_equivalent, *pair), [(slow, "3"), (slow, "4")])
        )
    assert all(verdict is False and elapsed < GUARD_S for verdict, elapsed in results), results
    assert workers.discarded == killed_before + 3
    # The pool recovers: fresh workers answer normally.
    monkeypatch.setattr(limits, "MATH_VERIFY_TIMEOUT_S", 4.0)
    assert is_equivalent("\\frac{3}{4}", "0.75")
    assert canonical_key("\\frac{3}{4}") == canonical_key("0.75")


COLD_START_SCRIPT = """
import json
from concurrent.futures import ThreadPoolExecutor
import strategies.answers as answers
from strategies.answers import limits
limits.MATH_VERIFY_TIMEOUT_S = 2.0  # shorter than a worker's start-up on a busy machine
pairs = [("2\\\\sqrt{2}", "\\\\sqrt{8}"), ("\\\\pi", "3.14159265358979"), ("x^2-1", "(x-1)(x+1)")] * 4
with ThreadPoolExecutor(max_workers=12) as pool:
    print(json.dumps(list(pool.map(lambda pair: answers.is_equivalent(*pair), pairs))))
"""


def test_threads_arriving_while_workers_start_are_not_timed_out() -> None:
    """Start-up of the pool is no caller's fault: a cold process graded from 12 threads."""
    completed = subprocess.run(
        [sys.executable, "-c", COLD_START_SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == [True] * 12
