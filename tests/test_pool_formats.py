"""Reading recorded pools: the generic JSONL, search-and-learn's layout (JSONL and
Parquet), the project's calibration shards; and every malformed input named precisely."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from strategies.pools.export import write_generic_pool
from strategies.pools.formats import detect_layout, estimate_tokens
from strategies.pools.loading import UnscoredPoolWarning, load_pool, parse_split, split_problems
from strategies.pools.records import PoolFormatError

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "artifacts" / "smollm2-arithmetic"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# search-and-learn rows, as its datasets publish them (a few problems written here)
SAL_ROWS = [
    {
        "problem": "What is 2 + 3?",
        "answer": "5",
        "unique_id": "test/a.json",
        "level": 1,
        "completions": [
            "## Step 1: add\n2 + 3 = 5\n\nThe final answer is $\\boxed{5}$.",
            "## Step 1: add\n2 + 3 = 6\n\nThe final answer is $\\boxed{6}$.",
        ],
        "scores": [[0.9, 0.8], [0.2, 0.1]],
        "completion_tokens": [17, 18],
        "pred": "5",
        "pred_weighted@2": "\\boxed{5}",
    },
    {
        "problem": "What is 7 - 4?",
        "answer": "3",
        "unique_id": "test/b.json",
        "level": 2,
        "completions": ["7 - 4 = 3\n\n$\\boxed{3}$", "$\\boxed{4}$"],
        "scores": [[0.7, 0.6], [0.3]],
        "completion_tokens": [9, 5],
        "pred": "3",
        "pred_weighted@2": "\\boxed{3}",
    },
]


def test_search_and_learn_jsonl_is_read_with_ids_scores_and_tokens(tmp_path):
    path = write_jsonl(tmp_path / "sal.jsonl", SAL_ROWS)
    assert detect_layout(path) == "search-and-learn"
    pool = load_pool([path])
    assert list(pool.problems) == ["test/a.json", "test/b.json"]
    first = pool.problems["test/a.json"]
    assert first.text == "What is 2 + 3?" and first.answer == "5"
    assert first.metadata == {"unique_id": "test/a.json", "level": 1}
    assert [s.step_scores for s in first.samples] == [(0.9, 0.8), (0.2, 0.1)]
    assert [s.num_tokens for s in first.samples] == [17, 18]
    assert first.samples[1].answer is None  # answers are extracted again at replay
    assert pool.files[0].layout == "search-and-learn" and len(pool.files[0].sha256) == 64


def test_search_and_learn_parquet_reads_the_same_as_jsonl(tmp_path):
    jsonl = load_pool([write_jsonl(tmp_path / "sal.jsonl", SAL_ROWS)])
    parquet_path = tmp_path / "sal.parquet"
    pq.write_table(pa.Table.from_pylist(SAL_ROWS), parquet_path)
    parquet = load_pool([parquet_path])
    assert list(parquet.problems) == list(jsonl.problems)
    for ident in jsonl.problems:
        assert parquet.problems[ident].samples == jsonl.problems[ident].samples


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_search_and_learn_with_a_wrong_column_names_it(tmp_path, suffix):
    rows = [
        {("completion" if k == "completions" else k): v for k, v in r.items()} for r in SAL_ROWS
    ]
    rows[0]["completions"] = SAL_ROWS[0]["completions"]  # first row fine: detection works
    path = tmp_path / f"sal.{suffix}"
    if suffix == "jsonl":
        write_jsonl(path, rows)
        where = f"{path}, line 2"
    else:
        pq.write_table(pa.Table.from_pylist(rows[1:]), path)
        where = str(path)
    with pytest.raises(PoolFormatError) as error:
        load_pool([path])
    message = str(error.value)
    assert message.startswith(where)
    assert "'completions'" in message and "completion" in message.split("found")[1]


def test_search_and_learn_scores_of_the_wrong_length_name_row_and_column(tmp_path):
    rows = [dict(SAL_ROWS[0], scores=[[0.5]])]
    path = write_jsonl(tmp_path / "sal.jsonl", rows)
    with pytest.raises(PoolFormatError, match=r"line 1: 'scores' must be a list with one entry"):
        load_pool([path])


def test_generic_layout_with_answer_only_samples_single_scores_and_no_tokens(tmp_path):
    path = write_jsonl(
        tmp_path / "generic.jsonl",
        [
            {"header": {"model": "m", "verifier": "v", "num_parameters": 1000}},
            {
                "id": "q1",
                "problem": "What is 1 + 1?",
                "answer": "2",
                "level": 3,
                "samples": [
                    {"answer": "2", "score": 0.9},
                    {"text": "1 + 1 = 3\n\nThe answer is $\\boxed{3}$.", "step_scores": [0.1, 0.2]},
                ],
            },
        ],
    )
    pool = load_pool([path])
    problem = pool.problems["q1"]
    assert problem.metadata == {"level": 3}
    answer_only, texted = problem.samples
    assert (
        answer_only.text == "" and answer_only.answer == "2" and answer_only.step_scores == (0.9,)
    )
    assert texted.num_tokens == estimate_tokens(texted.text) > 0
    assert pool.recorded("model") == "m" and pool.num_parameters == 1000


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", r"line 2: not valid JSON"),
        (json.dumps({"id": "x", "samples": [{"score": 0.5}]}), r"line 2, sample 0: a sample needs"),
        (
            json.dumps({"id": "x", "samples": [{"text": "a", "score": float("inf")}]}),
            "not a JSON number|not a finite number",
        ),
        (json.dumps({"id": "x", "samples": "abc"}), r"line 2: 'samples' must be a list"),
        (json.dumps({"id": "x", "problem": "p"}), r"line 2: no 'samples' field"),
    ],
)
def test_a_malformed_generic_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"id": "ok", "samples": [{"text": "t", "score": 0.5}]})
    path.write_text(good + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(PoolFormatError, match=message) as error:
        load_pool([path])
    assert str(path) in str(error.value)


def test_the_same_id_in_two_files_is_refused_naming_both(tmp_path):
    row = {"id": "dup", "samples": [{"text": "t", "score": 0.5}]}
    a = write_jsonl(tmp_path / "a.jsonl", [row])
    b = write_jsonl(tmp_path / "b.jsonl", [row])
    with pytest.raises(
        PoolFormatError, match=r"b\.jsonl, line 1: problem id 'dup' is also at .*a\.jsonl, line 1"
    ):
        load_pool([a, b])


def test_samples_without_scores_warn_that_only_majority_can_run(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"id": "x", "samples": [{"text": "t"}]}])
    with pytest.warns(UnscoredPoolWarning, match="only majority"):
        pool = load_pool([path])
    assert not pool.scored


def test_shipped_shards_are_a_pool_with_texts_recovered_from_their_problem_source():
    pool = load_pool([SHIPPED])
    assert len(pool) == 100 and pool.min_samples == 16 and pool.scored
    first = pool.problems["arith-0-0"]
    assert first.text is not None and "2" in first.text and first.answer == "7"
    assert first.metadata["level"] == 1
    assert pool.recorded("model") == "smollm2" and pool.recorded("verifier") == "arithmetic"
    assert pool.num_parameters is not None and 1.3e8 < pool.num_parameters < 1.4e8


def test_export_to_generic_and_back_keeps_every_sample(tmp_path):
    pool = load_pool([SHIPPED])
    again = load_pool([write_generic_pool(pool, tmp_path / "pool.jsonl")])
    assert list(again.problems) == list(pool.problems)
    for ident, problem in pool.problems.items():
        copy = again.problems[ident]
        assert (copy.text, copy.answer, copy.samples) == (
            problem.text,
            problem.answer,
            problem.samples,
        )
    assert again.recorded("model") == "smollm2" and again.num_parameters == pool.num_parameters


def test_splits_are_disjoint_and_cover_the_pool():
    problems = list(load_pool([SHIPPED]))
    halves = [split_problems(problems, parse_split(f"{i}/2")) for i in range(2)]
    ids = [{p.id for p in half} for half in halves]
    assert not ids[0] & ids[1] and len(ids[0] | ids[1]) == len(problems)
    with pytest.raises(ValueError, match="--pool-split '2/2'"):
        parse_split("2/2")


def test_an_unknown_layout_says_what_it_expected(tmp_path):
    path = write_jsonl(tmp_path / "odd.jsonl", [{"question": "q"}])
    with pytest.raises(PoolFormatError, match=r"line 1: cannot tell the pool layout.*'question'"):
        load_pool([path])
