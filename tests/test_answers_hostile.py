"""Hostile completions and answers (issue 12, defect 5): every parse in the main process is
bounded in time and size.

Each case runs in a fresh interpreter with a generous limit (``LIMIT_S``), and asserts
what it returns: before the fix these took 22-150 s (quadratic scans and backtracking
patterns over the whole text); a hang fails the test, a slow-but-finished run does not
(speed itself is a benchmark matter, never a test).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIMIT_S = 20.0

CASES = {
    "spaces after ####": (
        "extract_answer('####' + ' ' * 30000 + 'x')",
        None,
    ),
    "spaces after ####, then a number": (
        "extract_answer('####' + ' ' * 100000 + '42')",
        "42",
    ),
    "spaces after a final-answer phrase": (
        "extract_answer('The final answer is 5' + ' ' * 100000)",
        "5",
    ),
    "unclosed boxes": (
        "extract_answer('\\\\boxed{' * 14000)",
        None,
    ),
    "unclosed boxes after a real one": (
        "extract_answer('\\\\boxed{3} ' + '\\\\boxed{' * 2000)",
        "3",
    ),
    "long thousands-like number against 1": (
        "is_equivalent('1' + ',123' * 25000 + '4', '1')",
        False,
    ),
    "long thousands-like number against itself": (
        "is_equivalent('1' + ',123' * 25000 + '4', '1' + ', 123' * 25000 + '4')",
        True,
    ),
    "long thousands-like number as a key": (
        "canonical_key('1' + ',123' * 25000 + '4').startswith('s:')",
        True,
    ),
    "dollars without end": (
        "is_equivalent(extract_answer('$' * 50000 + '7'), '7')",
        True,
    ),
    "phrases without end": (
        "extract_answer('the answer is ' * 10000)",
        None,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_returns_its_answer_within_the_limit(name: str) -> None:
    expression, expected = CASES[name]
    code = (
        "import json\n"
        "from strategies.answers import canonical_key, extract_answer, is_equivalent\n"
        f"print(json.dumps({expression}))\n"
    )
    try:
        completed = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=LIMIT_S,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name}: still parsing after {LIMIT_S:.0f} s")
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == expected
