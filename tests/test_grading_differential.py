"""Grading v3 (issue 24): every pair on which the project and plain math-verify disagree.

``scripts/grading_differential.py`` grades pairs from MATH-500 (solutions, and answers
rewritten or changed), GSM8K and the recorded pools with both graders and writes each
disagreement to ``tests/data/grading_differential.csv`` with the verdict the project argues
for and why. Here the project's verdict on every row must still be the argued one, so a
change to the grader that undoes one of them fails; a row nobody judged fails too.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from scripts.grading_differential import COUNTS, TABLE, pool_completion, project_verdict

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _rows() -> list[dict[str, str]]:
    with TABLE.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_disagreement_is_judged_with_a_reason() -> None:
    rows = _rows()
    assert rows, "the table is empty: run scripts/grading_differential.py"
    unjudged = [row["source"] for row in rows if row["argued"] not in ("True", "False")]
    assert not unjudged, f"{len(unjudged)} rows without a verdict, e.g. {unjudged[:5]}"
    assert all(row["reason"] for row in rows)
    assert all(row["math_verify"] != row["project"] for row in rows)


def test_the_counts_match_the_table() -> None:
    counts = json.loads(COUNTS.read_text())
    by_family = Counter(row["source"].split(":", 1)[0] for row in _rows())
    for family, tally in counts.items():
        assert tally.get("disagree", 0) == by_family[family], family
        assert tally["agree"] + tally.get("disagree", 0) == tally["pairs"], family


@pytest.mark.skipif(not (DATA / "pools").exists(), reason="the shared pools are not here")
def test_the_project_gives_the_argued_verdict_on_every_row() -> None:
    wrong = []
    for row in _rows():
        source = row["source"]
        text = pool_completion(source) if source.startswith("pool:") else row["pred"]
        verdict = project_verdict(text, row["gold"])
        if str(verdict) != row["argued"]:
            wrong.append((source, row["pred"][-80:], row["gold"], verdict, row["reason"]))
    assert not wrong, f"{len(wrong)} rows graded against the argued verdict: {wrong[:5]}"
