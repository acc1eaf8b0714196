"""Problem sources of `ttc solve` / `ttc evaluate`, and the held-out check against the
calibration's own problems."""

from __future__ import annotations

import json

from router.commands.evaluate import _drop_calibrated
from router.problem_source import calibration_overlap, load_problem_set


def test_files_keep_problems_without_a_reference(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        json.dumps({"id": "a", "problem": "What is 2 + 2?", "answer": "4"})
        + "\n"
        + json.dumps({"id": "b", "problem": "What is 3 + 3?"})
        + "\n"
    )
    problems = load_problem_set(str(path))
    assert [(p.id, p.answer) for p in problems.problems] == [("a", "4"), ("b", None)]
    assert problems.world is None and problems.stem == "mixed"


def test_simulator_sets_carry_their_world_and_another_seed_is_held_out():
    held_out = load_problem_set("simulator:20:1")
    assert held_out.world is not None and held_out.stem == "simulator-20-1"
    assert calibration_overlap({"source": "simulator:200"}, held_out.problems) == 0
    inside = load_problem_set("simulator:20").problems
    assert calibration_overlap({"source": "simulator:200"}, inside) == 20
    assert calibration_overlap({"source": "somewhere/else.jsonl"}, inside) is None


def test_repeated_arithmetic_problems_can_be_left_out():
    problems = load_problem_set("arithmetic:60:1")
    dataset = {"source": "arithmetic:300"}
    shared = calibration_overlap(dataset, problems.problems)
    assert shared is not None and shared > 0  # easy sums repeat across seeds
    kept = _drop_calibrated(problems, dataset)
    assert len(kept.problems) == 60 - shared
    assert calibration_overlap(dataset, kept.problems) == 0
