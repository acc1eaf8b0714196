"""Malformed and mismatched pools (issue 26): every bad pool file gets one error naming
the file, line and field, before any replay; `ttc evaluate --pool` refuses up front what
`ttc calibrate --pool` refuses, and warns when the pool is another model's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router.cli import main
from strategies.pools.export import write_generic_pool
from strategies.pools.loading import load_pool
from strategies.pools.records import PoolFormatError

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "artifacts" / "smollm2-arithmetic"
GOOD_SAMPLE = {"text": "2 + 2 = 4. The final answer is $\\boxed{4}$.", "answer": "4"}
GOOD = json.dumps({"id": "a", "problem": "2 + 2?", "answer": "4", "samples": [GOOD_SAMPLE]})


def _sample_line(**fields: object) -> str:
    sample = {**GOOD_SAMPLE, **fields}
    return json.dumps({"id": "b", "problem": "3 + 3?", "answer": "6", "samples": [sample]})


# (name, the file's bytes, what the one error line must say: file, line and field)
MALFORMED: list[tuple[str, bytes, str]] = [
    (
        "100,000 nested brackets",
        (GOOD + "\n" + "[" * 100_000 + "]" * 100_000 + "\n").encode(),
        "line 2: JSON nested 100000 levels deep",
    ),
    (
        "bytes that are not UTF-8",
        (GOOD + "\n").encode() + b'{"id": "b\xff\xfe", "samples": []}\n',
        "line 2: byte 10 is not UTF-8 (0xff)",
    ),
    (
        'a header with "model": 5',
        (json.dumps({"header": {"model": 5}}) + "\n" + GOOD + "\n").encode(),
        "line 1: header 'model' must be a string, got int",
    ),
    (
        'a header with "num_parameters": "big"',
        (json.dumps({"header": {"num_parameters": "big"}}) + "\n" + GOOD + "\n").encode(),
        "line 1: header 'num_parameters' must be a whole number >= 1",
    ),
    (
        '"num_tokens": 1e300',
        (GOOD + "\n" + _sample_line(num_tokens=1e300) + "\n").encode(),
        "line 2, sample 0: 'num_tokens' must be a whole number from 0 to",
    ),
    (
        '"num_tokens": 2.5',
        (GOOD + "\n" + _sample_line(num_tokens=2.5) + "\n").encode(),
        "line 2, sample 0: 'num_tokens' must be a whole number",
    ),
    (
        '"answer": NaN',
        (GOOD + '\n{"id": "b", "answer": NaN, "samples": [{"answer": "1"}]}\n').encode(),
        "line 2: NaN is not a JSON number",
    ),
    (
        '"answer": 1e999',
        (GOOD + '\n{"id": "b", "answer": 1e999, "samples": [{"answer": "1"}]}\n').encode(),
        "line 2: 1e999 is too large for a number",
    ),
    (
        "a sample answer of Infinity",
        (GOOD + '\n{"id": "b", "samples": [{"answer": Infinity}]}\n').encode(),
        "line 2: Infinity is not a JSON number",
    ),
]


@pytest.mark.parametrize(("name", "content", "says"), MALFORMED, ids=[c[0] for c in MALFORMED])
def test_a_malformed_pool_file_gets_one_error_naming_file_and_line(tmp_path, name, content, says):
    path = tmp_path / "pool.jsonl"
    path.write_bytes(content)
    with pytest.raises(PoolFormatError) as caught:
        load_pool([path])
    message = str(caught.value)
    assert message.startswith(str(path)) and says in message, message


@pytest.mark.parametrize(
    ("name", "content", "says"), MALFORMED[:3], ids=[c[0] for c in MALFORMED[:3]]
)
def test_the_command_line_shows_it_as_one_line(tmp_path, capsys, name, content, says):
    path = tmp_path / "pool.jsonl"
    path.write_bytes(content)
    argv = ["calibrate", "--pool", str(path), "--out", str(tmp_path / "cal"), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and says in err, err
    assert not (tmp_path / "cal").exists()


def test_a_split_that_leaves_one_problem_is_refused(tmp_path):
    rows = [
        json.dumps({"id": f"p{i}", "problem": f"{i} + 1?", "answer": str(i + 1),
                    "samples": [GOOD_SAMPLE]})
        for i in range(30)
    ]  # fmt: skip
    path = tmp_path / "pool.jsonl"
    path.write_text("\n".join(rows) + "\n")
    from strategies.pools.replay import ReplayWorld

    with pytest.raises(PoolFormatError, match=r"--pool-split 29/30: that part holds 1 of"):
        ReplayWorld.from_files([str(path)], (29, 30))
    assert len(ReplayWorld.from_files([str(path)], (14, 15)).problems) == 2


@pytest.fixture(scope="module")
def shipped_half(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pool-hostile") / "half0"
    code = main(
        ["calibrate", "--pool", str(SHIPPED), "--pool-split", "0/2", "--budgets", "1,2,4,8",
         "--out", str(out), "--seeds", "1", "--draws", "8", "--probe-k", "2",
         "--probe-draws", "2", "--bootstrap", "20", "--cv-repeats", "1", "--no-progress"]
    )  # fmt: skip
    assert code == 0
    return out


def _short_pool(tmp_path: Path, keep: int, model: str | None = None) -> Path:
    """The shipped pool with ``keep`` samples per problem (and another model's name)."""
    from dataclasses import replace

    pool = load_pool([SHIPPED])
    problems = {k: replace(p, samples=p.samples[:keep]) for k, p in pool.problems.items()}
    path = write_generic_pool(replace(pool, problems=problems), tmp_path / "short.jsonl")
    if model is not None:
        header, *rest = path.read_text().splitlines()
        data = json.loads(header)
        data["header"]["model"] = model
        path.write_text("\n".join([json.dumps(data), *rest]) + "\n")
    return path


def test_evaluate_refuses_a_pool_with_too_few_samples_up_front(shipped_half, tmp_path, capsys):
    pool = _short_pool(tmp_path, keep=2, model="another/model")
    out = tmp_path / "report.json"
    argv = ["evaluate", "--calibration", str(shipped_half), "--pool", str(pool),
            "--pool-split", "1/2", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "has 2 recorded samples and `ttc evaluate` may draw up to 8" in err, err
    assert "WARNING: the pool was recorded from model 'another/model'" in err
    assert "Traceback" not in err and not out.exists()


def test_evaluate_refuses_problems_the_pool_does_not_hold(shipped_half, tmp_path, capsys):
    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps({"id": "new", "problem": "What is 901 + 2?", "answer": "903"}))
    argv = ["evaluate", str(problems), "--calibration", str(shipped_half), "--pool",
            str(SHIPPED), "--out", str(tmp_path / "r.json"), "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "1 of 1 problems are not in the pool" in err and "Traceback" not in err, err


def test_solve_refuses_a_pool_with_too_few_samples_for_its_budget(shipped_half, tmp_path, capsys):
    pool = _short_pool(tmp_path, keep=2)
    out = tmp_path / "answers.jsonl"
    common = ["solve", "--calibration", str(shipped_half), "--pool", str(pool), "--pool-split",
              "1/2", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main([*common, "--budget", "4"]) == 2
    err = capsys.readouterr().err
    assert "has 2 recorded samples and `ttc solve` may draw up to 4" in err, err
    assert not out.exists()
    assert main([*common, "--budget", "2"]) == 0  # a budget the pool can serve
