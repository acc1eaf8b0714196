"""Shards: durable appends, torn last lines, corruption, locks and settings checks."""

from __future__ import annotations

import json

import pytest

from calibration.store.shards import ShardError, ShardWriter, read_shard
from calibration.store.work_state import check_settings, make_header, sample_shard, tree_shard

HEADER = make_header("samples", {"samples": 8, "model": "m"}, "0/1")


def write_records(path, records, header_settings=None):
    header = HEADER if header_settings is None else make_header("tree", header_settings, "0/1")
    with ShardWriter(path, header) as writer:
        for record in records:
            writer.append([record])


def test_round_trip_with_header(tmp_path):
    path = tmp_path / "samples-000-of-001.jsonl"
    write_records(path, [{"problem_id": "a"}, {"problem_id": "b"}])
    write_records(path, [{"problem_id": "c"}])  # reopening appends, header written once
    contents = read_shard(path)
    assert contents.header == HEADER
    assert [r["problem_id"] for r in contents.records] == ["a", "b", "c"]
    assert not contents.discarded_tail
    assert path.read_text().count('"header"') == 1


def test_half_written_last_line_is_discarded_and_work_goes_on(tmp_path):
    path = tmp_path / "samples-000-of-001.jsonl"
    write_records(path, [{"problem_id": "a"}, {"problem_id": "b"}])
    with open(path, "ab") as stream:  # what a SIGKILL in the middle of a write leaves
        stream.write(b'{"problem_id": "c", "samp')
    seen = read_shard(path)
    assert seen.discarded_tail
    assert [r["problem_id"] for r in seen.records] == ["a", "b"]
    with ShardWriter(path, HEADER) as writer:
        assert writer.discarded_tail
        writer.append([{"problem_id": "c"}])
    contents = read_shard(path)
    assert [r["problem_id"] for r in contents.records] == ["a", "b", "c"]
    assert not contents.discarded_tail
    for line in path.read_text().splitlines():
        json.loads(line)


def test_torn_header_only_file_is_rewritten(tmp_path):
    path = tmp_path / "samples-000-of-001.jsonl"
    path.write_bytes(b'{"header": {"form')
    write_records(path, [{"problem_id": "a"}])
    contents = read_shard(path)
    assert contents.header == HEADER
    assert [r["problem_id"] for r in contents.records] == ["a"]


def test_corrupt_line_in_the_middle_is_an_error_naming_file_and_line(tmp_path):
    path = tmp_path / "samples-000-of-001.jsonl"
    write_records(path, [{"problem_id": "a"}, {"problem_id": "b"}])
    lines = path.read_text().splitlines()
    lines[1] = "garbage"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ShardError, match=r"samples-000-of-001\.jsonl:2"):
        read_shard(path)


def test_a_second_writer_is_refused(tmp_path):
    path = tmp_path / "samples-000-of-001.jsonl"
    with (
        ShardWriter(path, HEADER),
        pytest.raises(ShardError, match="another calibration"),
        ShardWriter(path, HEADER),
    ):
        pass


def test_other_settings_are_refused_with_the_difference(tmp_path):
    path = sample_shard(tmp_path, 0, 1)
    write_records(path, [{"problem_id": "a"}])
    check_settings(tmp_path, "samples", {"samples": 8, "model": "m"})
    with pytest.raises(ShardError, match="samples: recorded 8, now 16"):
        check_settings(tmp_path, "samples", {"samples": 16, "model": "m"})


def test_tree_shards_from_before_the_tree_engine_setting_mean_the_sampling_backend(tmp_path):
    path = tree_shard(tmp_path, 0, 1)
    old = {"backend": "transformers", "backend_options": {}, "model": "m"}
    write_records(path, [{"problem_id": "a"}], header_settings=old)
    check_settings(
        tmp_path, "tree", {**old, "tree_backend": "transformers", "tree_backend_options": {}}
    )
    with pytest.raises(ShardError, match="tree_backend: recorded 'transformers', now 'vllm'"):
        check_settings(
            tmp_path, "tree", {**old, "tree_backend": "vllm", "tree_backend_options": {}}
        )


def test_a_shard_without_work_takes_the_new_settings(tmp_path):
    path = tree_shard(tmp_path, 0, 1)
    with ShardWriter(path, {"settings": {"tree_backend": "transformers"}}):
        pass
    new = {"tree_backend": "vllm"}
    check_settings(tmp_path, "tree", new)  # nothing on disk can be mixed
    with ShardWriter(path, {"settings": new}) as writer:
        writer.append([{"problem_id": "a"}])
    contents = read_shard(path)
    assert contents.header == {"settings": new} and contents.records == [{"problem_id": "a"}]
