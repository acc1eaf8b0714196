"""The answers file: round trip, torn last lines, retried failures, foreign files refused."""

from __future__ import annotations

import json

import pytest

from router.commands.output import AnswersFileError, AnswersWriter, read_answers
from router.records import AnswerRecord, Compute
from strategies.cost import CostLedger


def record(pid: str, status: str = "ok", answer: str | None = "4") -> AnswerRecord:
    return AnswerRecord(
        id=pid,
        status=status,  # type: ignore[arg-type]
        policy="auto",
        answer=answer,
        correct=True if status == "ok" else None,
        reference="4",
        solution="2 + 2 = 4\n\n$\\boxed{4}$",
        strategy="majority",
        budget=4,
        difficulty={
            "distribution": {"1": 1.0},
            "level": 1,
            "pass_at_1": 0.9,
            "source": "predictor",
        },
        compute=Compute(4.0, 120, 3.5e11),
        cost=CostLedger(generations=4, generated_tokens=120),
        error="GenerationError: down" if status == "failed" else None,
    )


def test_records_round_trip_through_json():
    original = record("a")
    again = AnswerRecord.from_json(json.loads(json.dumps(original.to_json())))
    assert again == original


def test_answer_files_of_schema_1_still_resume(tmp_path):
    """Schema 1 lines (before the router routed in rounds) have no ``schema`` field and
    carry always-zero probe fields; they read as the same records."""
    line = record("a").to_json()
    del line["schema"]
    line["reused_probe_samples"] = 0
    line["cost"] = {**line["cost"], "probe_generations": 0, "probe_tokens": 0}
    path = tmp_path / "answers.jsonl"
    path.write_text(json.dumps(line) + "\n")
    assert read_answers(path).finished["a"] == record("a")
    assert record("a").to_json()["schema"] == 2
    assert "probe_generations" not in record("a").to_json()["cost"]


def test_an_answer_line_from_a_newer_schema_is_refused_by_line(tmp_path):
    path = tmp_path / "answers.jsonl"
    lines = [record("a").to_json(), {**record("b").to_json(), "schema": 3}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(AnswersFileError, match=r"answers.jsonl, line 2: .*answer schema 3"):
        read_answers(path)


def test_a_line_cut_by_a_kill_is_dropped_and_the_rest_kept(tmp_path):
    path = tmp_path / "answers.jsonl"
    with AnswersWriter(path) as writer:
        writer.write(record("a"))
        writer.write(record("b"))
    whole = path.read_text()
    path.write_text(whole + json.dumps(record("c").to_json())[:40])
    existing = read_answers(path)
    assert existing.torn_tail and list(existing.finished) == ["a", "b"]
    with AnswersWriter(path) as writer:
        writer.write(record("c"))
    lines = path.read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "b", "c"]


def test_failed_problems_are_retried_and_replaced(tmp_path):
    path = tmp_path / "answers.jsonl"
    with AnswersWriter(path) as writer:
        writer.write(record("a"))
        writer.write(record("b", status="failed", answer=None))
    writer = AnswersWriter(path)
    assert list(writer.existing.finished) == ["a"] and list(writer.existing.failed) == ["b"]
    with writer:
        assert [json.loads(x)["id"] for x in path.read_text().splitlines()] == ["a"]
        writer.write(record("b"))
    existing = read_answers(path)
    assert list(existing.finished) == ["a", "b"] and not existing.failed


def test_a_file_that_is_not_an_answers_file_is_refused_untouched(tmp_path):
    path = tmp_path / "problems.jsonl"
    text = '{"id": "p1", "problem": "What is 2 + 2?", "answer": "4"}\n'
    path.write_text(text)
    with pytest.raises(AnswersFileError, match=r"problems.jsonl, line 1: not a `ttc solve` answer"):
        AnswersWriter(path)
    assert path.read_text() == text


def test_the_solve_summary_names_strategies_without_their_parameters():
    from calibration.strategy_names import LabelNames
    from router.evaluation.summary import format_summary, summarize

    rebase = "rebase:depth=6,step_tokens=48,max_tokens=128"

    def record(pid: str, strategy: str, budget: int) -> AnswerRecord:
        return AnswerRecord(
            id=pid, status="ok", policy="auto", answer="4", reference="4", correct=True,
            strategy=strategy, budget=budget, compute=Compute(budget, 10, 1.0),
        )  # fmt: skip

    records = [
        record("a", f"{rebase}+check", 8),
        record("b", f"{rebase}+check", 8),
        record("c", rebase, 4),
        record("d", "weighted_best_of_n", 2),
    ]
    text = format_summary(summarize(records))
    assert "choices    rebase+check@8 x2, rebase@4 x1, weighted_best_of_n@2 x1" in text
    assert f"legend     rebase = {rebase}" in text
    names = LabelNames([f"{rebase}@2", "beam_search@4"])
    assert names("unknown@3") == "unknown@3" and names("beam_search@4") == "beam_search@4"
    assert names.legend() == [f"rebase = {rebase}"]
