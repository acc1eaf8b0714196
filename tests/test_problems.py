"""Problem loading: the three layouts, clear errors for bad lines, answers for calibration."""

from __future__ import annotations

import json
import re
import sys
import types
import warnings
from pathlib import Path

import pytest

from strategies.problems import (
    MissingAnswerWarning,
    Problem,
    ProblemFormatError,
    ProblemSourceError,
    load_problems,
    require_answers,
    write_problems_jsonl,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MATH500 = DATA / "math500_test.jsonl"
GSM8K = DATA / "gsm8k_test.jsonl"


def _raw_records(path: Path, count: int | None = None) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:count]]


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- layouts ---------------------------------------------------------------------------


def test_math500_first_records_match_the_file():
    problems = load_problems(MATH500, limit=5)
    raw = _raw_records(MATH500, 5)
    assert [p.id for p in problems] == [r["unique_id"] for r in raw]
    assert problems[0].id == "test/precalculus/807.json"
    assert problems[0].text.startswith("Convert the point $(0,3)$ in rectangular coordinates")
    assert problems[0].answer == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert problems[0].metadata["level"] == 2
    assert problems[0].metadata["subject"] == "Precalculus"
    for problem, record in zip(problems, raw, strict=True):
        assert problem.text == record["problem"]
        assert problem.answer == record["answer"]
        assert problem.metadata == {
            "solution": record["solution"],
            "subject": record["subject"],
            "level": record["level"],
        }


def test_math500_whole_file_loads_with_answers_and_unique_ids():
    problems = load_problems(MATH500)
    assert len(problems) == 500
    assert len({p.id for p in problems}) == 500
    assert all(p.answer for p in problems)
    assert {p.metadata["level"] for p in problems} == {1, 2, 3, 4, 5}


def test_gsm8k_reference_is_the_number_after_hashes_without_commas():
    problems = load_problems(GSM8K)
    raw = _raw_records(GSM8K)
    assert len(problems) == len(raw) == 1319
    assert problems[0].answer == "18"
    assert problems[2].answer == "70000"
    assert problems[0].id == "gsm8k_test-1"
    assert problems[0].text.startswith("Janet\u2019s ducks lay 16 eggs per day.")
    with_commas = 0
    for problem, record in zip(problems, raw, strict=True):
        final_line = record["answer"].splitlines()[-1]
        assert final_line.startswith("#### ")
        with_commas += "," in final_line
        assert problem.answer == final_line[len("#### ") :].replace(",", "")
        assert re.fullmatch(r"-?\d+", problem.answer), problem.answer
        assert problem.metadata["solution"] == record["answer"]
    assert with_commas > 0, "the file has answers like 1,000; the test must cover them"


def test_gsm8k_ids_follow_file_lines_and_skip_blank_lines(tmp_path):
    path = _write_lines(
        tmp_path / "word.jsonl",
        [
            json.dumps({"question": "Q one?", "answer": "1 + 1 = 2\n#### 2"}),
            "",
            "   ",
            json.dumps({"question": "Q two?", "answer": "So 1,234,567 in all.\n#### 1,234,567"}),
        ],
    )
    problems = load_problems(path)
    assert [(p.id, p.answer) for p in problems] == [("word-1", "2"), ("word-4", "1234567")]
    assert problems[1].metadata == {"solution": "So 1,234,567 in all.\n#### 1,234,567"}


def test_generic_layout_keeps_ids_and_extra_fields(tmp_path):
    path = _write_lines(
        tmp_path / "mine.jsonl",
        [
            json.dumps({"id": "a", "problem": "What is 2 + 2?", "answer": "4", "level": 1}),
            json.dumps({"id": 7, "problem": "What is 6 * 7?", "answer": 42}),
            json.dumps({"problem": "Half of one?", "answer": 0.5, "tags": ["x"]}),
        ],
    )
    problems = load_problems(path)
    assert [p.id for p in problems] == ["a", "7", "mine-3"]
    assert [p.answer for p in problems] == ["4", "42", "0.5"]
    assert problems[0].metadata == {"level": 1}
    assert problems[1].metadata == {}
    assert problems[2].metadata == {"tags": ["x"]}


def test_layout_is_detected_per_record(tmp_path):
    path = _write_lines(
        tmp_path / "mixed.jsonl",
        [
            json.dumps({"problem": "P?", "answer": "1", "unique_id": "u/1", "level": 3}),
            json.dumps({"question": "Q?", "answer": "so\n#### 5"}),
            json.dumps({"id": "g", "problem": "G?", "answer": "x+1"}),
        ],
    )
    problems = load_problems(path)
    assert [(p.id, p.text, p.answer) for p in problems] == [
        ("u/1", "P?", "1"),
        ("mixed-2", "Q?", "5"),
        ("g", "G?", "x+1"),
    ]
    assert problems[0].metadata == {"level": 3}
    assert problems[1].metadata == {"solution": "so\n#### 5"}


def test_limit_stops_reading_before_a_later_bad_line(tmp_path):
    path = _write_lines(
        tmp_path / "p.jsonl",
        [json.dumps({"problem": f"P{i}", "answer": str(i)}) for i in range(3)] + ["{broken"],
    )
    assert [p.answer for p in load_problems(path, limit=2)] == ["0", "1"]
    assert load_problems(path, limit=0) == []
    with pytest.raises(ProblemFormatError, match="line 4"):
        load_problems(path)
    with pytest.raises(ValueError, match="limit"):
        load_problems(path, limit=-1)


def test_byte_order_mark_is_ignored(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes("\ufeff".encode() + b'{"problem": "P", "answer": "1"}\n')
    assert load_problems(path)[0].answer == "1"


# --- malformed input -------------------------------------------------------------------

GOOD = json.dumps({"problem": "What is 1 + 1?", "answer": "2"})


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ('{"problem": "unclosed', "invalid JSON"),
        ("[1, 2]", "expected a JSON object, got an array"),
        ('"just text"', "expected a JSON object, got a string"),
        ('{"answer": "2"}', "missing field 'problem'"),
        ('{"problem": 5, "answer": "2"}', "field 'problem' must be a string, got a number"),
        ('{"problem": "   ", "answer": "2"}', "field 'problem' is empty"),
        ('{"question": "", "answer": "#### 2"}', "field 'question' is empty"),
        ('{"problem": "P", "answer": [2]}', "field 'answer' must be a string, a number or null"),
        ('{"problem": "P", "answer": true}', "got a boolean"),
        ('{"problem": "P", "id": {"a": 1}}', "field 'id' must be a string or an integer"),
        ('{"problem": "P", "id": " "}', "field 'id' is empty"),
        ('{"question": "Q", "answer": "no final line"}', "no final '#### N'"),
        ('{"question": "Q", "answer": "x ####  "}', "nothing after '####'"),
        ('{"question": "Q", "answer": 18}', "GSM8K worked solution) must be a string"),
    ],
)
def test_malformed_line_names_file_line_and_reason(tmp_path, bad_line, reason):
    path = _write_lines(tmp_path / "broken.jsonl", [GOOD, "", bad_line, GOOD])
    with pytest.raises(ProblemFormatError) as caught:
        load_problems(path)
    error = caught.value
    assert error.line == 3
    assert error.source == str(path)
    message = str(error)
    assert str(path) in message
    assert "line 3" in message
    assert reason in message


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(GOOD.encode() + b"\n" + '{"problem": "caf\xe9"}'.encode("latin-1") + b"\n")
    with pytest.raises(ProblemFormatError, match=r"line 2: not valid UTF-8"):
        load_problems(path)


def test_duplicate_ids_name_both_lines(tmp_path):
    path = _write_lines(
        tmp_path / "dup.jsonl",
        [
            json.dumps({"id": "x", "problem": "A", "answer": "1"}),
            json.dumps({"id": "y", "problem": "B", "answer": "2"}),
            json.dumps({"id": "x", "problem": "C", "answer": "3"}),
        ],
    )
    with pytest.raises(ProblemFormatError) as caught:
        load_problems(path)
    message = str(caught.value)
    assert "dup.jsonl, line 3" in message
    assert "duplicate id 'x'" in message
    assert "first used on line 1" in message


def test_missing_file_and_directory_give_clear_errors(tmp_path):
    with pytest.raises(ProblemSourceError, match="neither an existing file nor a known dataset"):
        load_problems(tmp_path / "nope.jsonl")
    with pytest.raises(ProblemSourceError, match="openai/gsm8k"):
        load_problems("someone/unknown-dataset")
    with pytest.raises(ProblemSourceError, match="is a directory"):
        load_problems(tmp_path)


# --- Hub names ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["HuggingFaceH4/MATH-500", "openai/gsm8k"])
def test_hub_name_without_datasets_says_to_pass_a_local_file(monkeypatch, name):
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail
    with pytest.raises(ProblemSourceError) as caught:
        load_problems(name)
    message = str(caught.value)
    assert name in message
    assert "`datasets` package" in message
    assert "pass a local JSONL file" in message


def _fake_datasets(load_dataset) -> types.ModuleType:
    module = types.ModuleType("datasets")
    module.load_dataset = load_dataset  # type: ignore[attr-defined]
    return module


def test_hub_name_offline_says_to_pass_a_local_file(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("the Hub cannot be reached")

    monkeypatch.setitem(sys.modules, "datasets", _fake_datasets(offline))
    with pytest.raises(ProblemSourceError, match=r"ConnectionError.*pass a local JSONL file"):
        load_problems("openai/gsm8k")


def test_hub_rows_go_through_the_same_parser(monkeypatch):
    """With `datasets` present, rows from the Hub become problems like lines of a file."""
    calls = []
    rows = _raw_records(GSM8K, 3)

    def load_dataset(name, config, split):
        calls.append((name, config, split))
        return rows

    monkeypatch.setitem(sys.modules, "datasets", _fake_datasets(load_dataset))
    problems = load_problems("OpenAI/GSM8K", limit=3)
    assert calls == [("openai/gsm8k", "main", "test[:3]")]
    assert [(p.id, p.answer) for p in problems] == [
        ("gsm8k-1", "18"),
        ("gsm8k-2", "3"),
        ("gsm8k-3", "70000"),
    ]


# --- answers for calibration -------------------------------------------------------------


def test_missing_answer_is_accepted_for_solving_and_counted_for_calibration(tmp_path):
    path = _write_lines(
        tmp_path / "some.jsonl",
        [
            json.dumps({"id": "a", "problem": "What is 2 + 2?", "answer": "4"}),
            json.dumps({"id": "b", "problem": "Unknown one"}),
            json.dumps({"id": "c", "problem": "Null one", "answer": None}),
            json.dumps({"id": "d", "problem": "Empty one", "answer": "  "}),
            json.dumps({"question": "A GSM8K question without a solution"}),
        ],
    )
    problems = load_problems(path)
    assert [p.answer for p in problems] == ["4", None, None, None, None]
    with pytest.warns(MissingAnswerWarning) as caught:
        usable, missing = require_answers(problems)
    assert [p.id for p in usable] == ["a"]
    assert missing == 4
    message = str(caught[0].message)
    assert "4 of 5 problems have no reference answer" in message
    assert "left out of calibration" in message
    assert "b, c, d, some-5" in message


def test_require_answers_is_quiet_when_all_have_answers():
    problems = [Problem("a", "P", "1"), Problem("b", "Q", "2")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        usable, missing = require_answers(problems)
    assert usable == problems
    assert missing == 0


def test_require_answers_refuses_when_none_has_an_answer():
    with pytest.raises(ValueError, match="none of the 2 problems has a reference answer"):
        require_answers([Problem("a", "P"), Problem("b", "Q")], purpose="calibration")


# --- writing ------------------------------------------------------------------------------


def _as_tuples(problems: list[Problem]) -> list[tuple]:
    return [(p.id, p.text, p.answer, p.metadata) for p in problems]


def test_written_problems_load_back_identically(tmp_path):
    originals = [
        *load_problems(MATH500, limit=2),
        *load_problems(GSM8K, limit=2),
        Problem("open-1", "No answer known \u2014 yet", None, {"level": 4, "tags": ["a"]}),
    ]
    path = write_problems_jsonl(originals, tmp_path / "sub" / "examples.jsonl")
    assert path == tmp_path / "sub" / "examples.jsonl"
    assert _as_tuples(load_problems(path)) == _as_tuples(originals)
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert list(first)[:3] == ["id", "problem", "answer"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["examples.jsonl"]


def test_write_refuses_what_would_not_read_back_and_keeps_the_old_file(tmp_path):
    path = write_problems_jsonl([Problem("a", "P", "1")], tmp_path / "keep.jsonl")
    before = path.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="clash"):
        write_problems_jsonl([Problem("b", "Q", "2", {"unique_id": "z"})], path)
    with pytest.raises(ValueError, match="duplicate problem id 'a'"):
        write_problems_jsonl([Problem("a", "P", "1"), Problem("a", "Q", "2")], path)
    with pytest.raises(ValueError, match="not JSON"):
        write_problems_jsonl([Problem("c", "R", "3", {"when": object()})], path)
    assert path.read_text(encoding="utf-8") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.jsonl"]
