"""`ttc calibrate --regrade`: recorded sample texts are read and graded again, tables rebuilt."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

from calibration.store.records import ProblemSamples, SampleRecord, TreeRecord
from calibration.store.regrade import regrade_shards
from calibration.store.shards import ShardError, ShardWriter, read_shard
from calibration.store.work_state import (
    SAMPLES,
    TREE,
    make_header,
    read_samples,
    read_sessions,
    sample_shard,
    shards_folder,
    tree_shard,
)
from router.cli import main
from strategies.cost import CostLedger

ANALYSIS = shlex.split("--draws 8 --probe-k 2 --probe-draws 2 --bootstrap 20 --cv-repeats 1")
SMALL = [
    *shlex.split("calibrate --problems simulator:8 --samples 4 --budgets 1,2 --seeds 1"),
    *("--strategies", "majority,weighted_best_of_n,beam_search:m=2", "--batch-size", "4"),
    *ANALYSIS,
    "--no-progress",
]


def _sample(text: str, answer: str | None, correct: bool) -> SampleRecord:
    return SampleRecord(text, answer, correct, (0.5,), 10, "eos")


def _write_recorded_calibration(out: Path) -> None:
    """Shards as an older grader left them: unboxed answers missed, a tree answer misgraded."""
    settings = {"prompt_config": "smollm2-arithmetic", "problems": "hand-made"}
    folder = shards_folder(out)
    pool = ProblemSamples(
        "p1",
        "7",
        (
            _sample("## Step 1\n3 + 4 = 7\n\nThe final answer is $\\boxed{7}$.", "7", True),
            _sample("## Step 1\n3 + 4 = 7\n\nThe answer is 7.", None, False),
            _sample("## Step 1\n3 + 4 = 8\n\nThe final answer is 8.", "8", False),
            _sample("I cannot tell.", None, False),
        ),
    )
    with ShardWriter(sample_shard(folder, 0, 1), make_header(SAMPLES, settings, "0/1")) as w:
        w.append([pool.to_json()])
    search = TreeRecord("p1", "beam_search", 2, 0, "7 apples", False, CostLedger())
    with ShardWriter(tree_shard(folder, 0, 1), make_header(TREE, settings, "0/1")) as w:
        w.append([search.to_json()])


def test_regrade_reads_recorded_texts_again_and_regrades_tree_answers(tmp_path: Path) -> None:
    _write_recorded_calibration(tmp_path)
    report = regrade_shards(tmp_path)
    pool = read_samples(shards_folder(tmp_path))["p1"]
    assert [s.answer for s in pool.samples] == ["7", "7", "8", None]
    assert [s.correct for s in pool.samples] == [True, True, False, False]
    assert [s.step_scores for s in pool.samples] == [(0.5,)] * 4  # texts' scores stay
    (tree,) = read_shard(tree_shard(shards_folder(tmp_path), 0, 1)).records
    assert tree["answer"] == "7 apples" and tree["correct"] is True
    assert (report.before.answered, report.after.answered) == (2, 3)
    assert (report.before.correct, report.after.correct) == (1, 2)
    assert (report.before.searches_correct, report.after.searches_correct) == (0, 1)
    assert report.answers_changed == 1 and report.grades_changed == 2
    assert "50.0% -> 25.0%" in report.describe()
    assert read_sessions(shards_folder(tmp_path))[-1].stage == "regrade"
    # Grading what is already graded changes nothing.
    again = regrade_shards(tmp_path)
    assert again.answers_changed == 0 and again.grades_changed == 0


def test_regrade_refuses_a_shard_being_written_or_torn(tmp_path: Path) -> None:
    _write_recorded_calibration(tmp_path)
    path = sample_shard(shards_folder(tmp_path), 0, 1)
    header = read_shard(path).header
    assert header is not None
    with ShardWriter(path, header), pytest.raises(ShardError, match="being written"):
        regrade_shards(tmp_path)
    with open(path, "ab") as stream:
        stream.write(b'{"problem_id": "p2", "go')
    with pytest.raises(ShardError, match="half-written"):
        regrade_shards(tmp_path)
    with pytest.raises(ShardError, match="no sample shards"):
        regrade_shards(tmp_path / "empty")


def test_regrade_command_rebuilds_the_same_tables_from_stale_grades(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "calibration"
    assert main([*SMALL, "--out", str(out)]) == 0
    table = (out / "table.json").read_text()
    path = sample_shard(shards_folder(out), 0, 1)
    lines = path.read_text().splitlines()
    stale = [lines[0]]
    for line in lines[1:]:  # as if an older grader had found no answers at all
        record = json.loads(line)
        for sample in record["samples"]:
            sample["answer"], sample["correct"] = None, False
        stale.append(json.dumps(record))
    path.write_text("\n".join(stale) + "\n")
    capsys.readouterr()
    assert main(["calibrate", "--merge", "--out", str(out), "--no-progress", *ANALYSIS]) == 0
    assert (out / "table.json").read_text() != table
    assert main(["calibrate", "--regrade", "--out", str(out), "--no-progress", *ANALYSIS]) == 0
    printed = capsys.readouterr().out
    assert "samples without an answer: 100.0% ->" in printed
    assert (out / "table.json").read_text() == table
    assert main(["calibrate", "--regrade", "--no-progress"]) == 2
    assert "--regrade needs --out DIR" in capsys.readouterr().err


def test_regrade_holds_every_shard_lock_from_its_read_to_its_rewrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 26: a resumed calibration appending between regrade's read and its rewrite
    lost its problems. Now a writer that tries mid-regrade is refused, and one that
    comes after appends to the rewritten file (not to the old one it replaced)."""
    import calibration.store.regrade as regrade

    _write_recorded_calibration(tmp_path)
    path = sample_shard(shards_folder(tmp_path), 0, 1)
    header = read_shard(path).header
    assert header is not None
    real = regrade.regrade_samples
    refused: list[str] = []

    def a_writer_tries_meanwhile(pool: ProblemSamples, extraction: str) -> ProblemSamples:
        for shard in (path, tree_shard(shards_folder(tmp_path), 0, 1)):
            try:
                with ShardWriter(shard, header) as writer:
                    writer.append([{"problem_id": "lost"}])
            except ShardError as error:
                refused.append(str(error))
        return real(pool, extraction)

    monkeypatch.setattr(regrade, "regrade_samples", a_writer_tries_meanwhile)
    regrade_shards(tmp_path)
    assert len(refused) == 2 and all("being written" in e for e in refused)
    late = ProblemSamples("p2", "3", (_sample("1 + 2 = 3", "3", True),))
    with ShardWriter(path, header) as writer:
        writer.append([late.to_json()])
    assert sorted(read_samples(shards_folder(tmp_path))) == ["p1", "p2"]


def test_regrade_keeps_every_recorded_field(tmp_path: Path) -> None:
    """Issue 26: regrade dropped problem_sha256, which turned the problem check off."""
    _write_recorded_calibration(tmp_path)
    folder = shards_folder(tmp_path)
    for shard in (sample_shard(folder, 0, 1), tree_shard(folder, 0, 1)):
        header, *records = shard.read_text().splitlines()
        edited = []
        for line in records:
            data = json.loads(line) | {"problem_sha256": "a" * 64, "future_field": [1]}
            for sample in data.get("samples", []):
                sample["logprob"] = -1.5
            edited.append(json.dumps(data))
        shard.write_text("\n".join([header, *edited]) + "\n")
    regrade_shards(tmp_path)
    for shard in (sample_shard(folder, 0, 1), tree_shard(folder, 0, 1)):
        (record,) = read_shard(shard).records
        assert record["problem_sha256"] == "a" * 64 and record["future_field"] == [1]
        assert all(s["logprob"] == -1.5 for s in record.get("samples", []))
    (pool,) = read_shard(sample_shard(folder, 0, 1)).records
    assert [s["answer"] for s in pool["samples"]] == ["7", "7", "8", None]


def test_a_writer_locking_a_shard_just_replaced_locks_the_new_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import strategies.safe_files as safe_files

    _write_recorded_calibration(tmp_path)
    path = sample_shard(shards_folder(tmp_path), 0, 1)
    header = read_shard(path).header
    assert header is not None
    replacement = path.with_name("replacement")
    replacement.write_bytes(path.read_bytes())
    real_flock = safe_files.fcntl.flock
    moves = [replacement]

    def replaced_between_open_and_lock(fd: int, operation: int) -> None:
        if moves:
            os.replace(moves.pop(), path)  # what regrade's rewrite does
        real_flock(fd, operation)

    monkeypatch.setattr(safe_files.fcntl, "flock", replaced_between_open_and_lock)
    with ShardWriter(path, header) as writer:
        writer.append([ProblemSamples("p9", "1", (_sample("1", "1", True),)).to_json()])
    assert "p9" in read_samples(shards_folder(tmp_path))


def test_a_bare_key_error_says_what_was_missing_and_where() -> None:
    from calibration.command import describe_input_error

    try:
        {}["sim-1490"]
    except KeyError as error:
        message = describe_input_error(error)
    assert message.startswith("no record of 'sim-1490' where one was expected (looked up at ")
    assert "test_calibration_regrade.py:" in message
    assert describe_input_error(KeyError("unknown strategy 'x'")) == "unknown strategy 'x'"


def test_regrade_names_the_file_and_line_of_a_malformed_record(tmp_path: Path) -> None:
    _write_recorded_calibration(tmp_path)
    path = sample_shard(shards_folder(tmp_path), 0, 1)
    header, record = path.read_text().splitlines()
    broken = json.loads(record)
    del broken["samples"]
    path.write_text("\n".join([header, json.dumps(broken)]) + "\n")
    before = path.read_bytes()
    with pytest.raises(ShardError, match=r"samples-000-of-001.jsonl:2: .*no field 'samples'"):
        regrade_shards(tmp_path)
    assert path.read_bytes() == before
