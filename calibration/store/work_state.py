"""The resumable working state of a calibration: its shards under ``<out>/shards/``.

Two kinds of shard per machine slice: ``samples-i-of-n.jsonl`` (stage 1, one line per
problem) and ``tree-i-of-n.jsonl`` (stage 3, one line per tree search), plus
``runs.jsonl``, one line per finished session with its wall time. Every shard's header
records the settings it was made with; this module refuses to write into, or merge,
shards whose settings differ from the current ones, and reads them back with duplicates
and gaps detected.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calibration.config import PLAN_KEYS, describe_differences
from calibration.store.records import ProblemSamples, TreeRecord
from calibration.store.shards import (
    PROBLEM_HASH,
    ShardError,
    iter_shard_paths,
    read_shard,
    shard_path,
)
from strategies.problems import Problem, problem_sha256
from strategies.safe_files import exclusive_lock

SAMPLES = "samples"
TREE = "tree"
RUNS_LOG = "runs.jsonl"
ARTIFACT_LOCK = ".artifact.lock"
SHARD_FORMAT = 1


def shards_folder(out: Path) -> Path:
    return out / "shards"


def make_header(kind: str, settings: dict[str, Any], shard: str) -> dict[str, Any]:
    return {"format": SHARD_FORMAT, "kind": kind, "shard": shard, "settings": settings}


def comparable_settings(kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The settings two shards of ``kind`` must share to be mixed.

    The plan does not count (older shards recorded it; it may change between runs). Tree
    shards from before the tree engine was a setting searched on the sampling backend.
    """
    result = {k: v for k, v in settings.items() if k not in PLAN_KEYS}
    if kind == TREE and "backend" in result:
        result.setdefault("tree_backend", result["backend"])
        result.setdefault("tree_backend_options", result.get("backend_options", {}))
    return result


def check_settings(folder: Path, kind: str, settings: dict[str, Any]) -> None:
    """Refuse when any existing shard of this kind holds work made with other settings.

    A shard with only its header holds no work, so nothing can be mixed: the next writer
    replaces its header (this is how a sampling-only calibration gains a tree engine).
    """
    for path in iter_shard_paths(folder, kind):
        contents = read_shard(path)
        if contents.header is None or not contents.records:
            continue
        recorded = comparable_settings(kind, contents.header.get("settings", {}))
        if recorded != comparable_settings(kind, settings):
            differences = describe_differences(recorded, comparable_settings(kind, settings))
            raise ShardError(
                f"{path} was made with other settings ({differences}). Rerun with the "
                f"recorded settings to resume, or choose another --out folder for a new "
                "calibration; mixing them would corrupt every figure."
            )


def check_problem_hashes(folder: Path, problems: Iterable[Problem]) -> None:
    """Refuse when a shard record answers a problem of the same id but another text or
    reference (records from before this check carry no hash and are not checked)."""
    expected = {problem.id: problem_sha256(problem) for problem in problems}
    for kind in (SAMPLES, TREE):
        for path in iter_shard_paths(folder, kind):
            for number, data in enumerate(read_shard(path).records, start=2):
                stored = data.get(PROBLEM_HASH)
                pid = data.get("problem_id")
                if stored is not None and pid in expected and stored != expected[pid]:
                    raise ShardError(
                        f"{path}:{number}: problem {pid!r} was sampled with another text or "
                        "reference answer than the current problems have; rerun with the "
                        "problems it was made with, or choose another --out folder"
                    )


def _records(folder: Path, kind: str, settings: dict[str, Any] | None) -> list[dict[str, Any]]:
    if settings is not None:
        check_settings(folder, kind, settings)
    records: list[dict[str, Any]] = []
    for path in iter_shard_paths(folder, kind):
        records.extend(read_shard(path).records)
    return records


def read_samples(folder: Path, settings: dict[str, Any] | None = None) -> dict[str, ProblemSamples]:
    """Every problem's samples from all sample shards; duplicates must agree."""
    result: dict[str, ProblemSamples] = {}
    for data in _records(folder, SAMPLES, settings):
        samples = ProblemSamples.from_json(data)
        earlier = result.get(samples.problem_id)
        if earlier is not None and earlier.samples != samples.samples:
            raise ShardError(
                f"problem {samples.problem_id!r} appears in two sample shards in {folder} with "
                "different samples: shards from different runs were mixed"
            )
        result.setdefault(samples.problem_id, samples)
    return result


def read_tree_records(
    folder: Path, settings: dict[str, Any] | None = None
) -> dict[tuple[str, str, int, int], TreeRecord]:
    result: dict[tuple[str, str, int, int], TreeRecord] = {}
    for data in _records(folder, TREE, settings):
        record = TreeRecord.from_json(data)
        earlier = result.get(record.key)
        if earlier is not None and (earlier.answer, earlier.correct) != (
            record.answer,
            record.correct,
        ):
            raise ShardError(
                f"tree search {record.key} appears twice in {folder} with different results: "
                "shards from different runs were mixed"
            )
        result.setdefault(record.key, record)
    return result


def recorded_settings(folder: Path, kind: str) -> dict[str, Any]:
    """The one settings dict all shards of this kind share (for --merge).

    Shards holding work decide; a header-only shard counts only when no shard has work.
    """
    found: dict[str, Any] | None = None
    first: Path | None = None
    found_has_work = False
    for path in iter_shard_paths(folder, kind):
        contents = read_shard(path)
        if contents.header is None:
            continue
        settings = comparable_settings(kind, contents.header.get("settings", {}))
        has_work = bool(contents.records)
        if found is None or (has_work and not found_has_work):
            found, first, found_has_work = settings, path, has_work
        elif has_work and settings != found:
            raise ShardError(
                f"{path} and {first} were made with different settings "
                f"({describe_differences(found, settings)}); they cannot be merged"
            )
    if found is None:
        raise ShardError(
            f"no {kind} shards in {folder}: run `ttc calibrate` (with --shard i/n on each "
            "machine) before merging"
        )
    return found


@dataclass(frozen=True)
class SessionLog:
    stage: str
    shard: str
    wall_time_s: float
    finished: str
    plan: dict[str, Any] | None = None


def append_session(folder: Path, entry: SessionLog) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry.__dict__) + "\n"
    with open(folder / RUNS_LOG, "a", encoding="utf-8") as stream:
        stream.write(line)
        stream.flush()
        os.fsync(stream.fileno())


def latest_plan(folder: Path) -> dict[str, Any] | None:
    """The plan of the most recent session that recorded one (what --merge reuses)."""
    plans = [s.plan for s in read_sessions(folder) if s.plan is not None]
    return plans[-1] if plans else None


def read_sessions(folder: Path) -> list[SessionLog]:
    path = folder / RUNS_LOG
    if not path.exists():
        return []
    sessions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            data = json.loads(line)
            sessions.append(SessionLog(**data))
        except (json.JSONDecodeError, TypeError):
            continue  # a torn last line from a kill: the session's time is simply lost
    return sessions


def artifact_lock(folder: Path) -> AbstractContextManager[None]:
    """Serialise artifact writing: two shards finishing at once would otherwise
    interleave their writes of the same files (the second simply writes them again)."""
    return exclusive_lock(folder / ARTIFACT_LOCK)


def sample_shard(folder: Path, index: int, count: int) -> Path:
    return shard_path(folder, SAMPLES, index, count)


def tree_shard(folder: Path, index: int, count: int) -> Path:
    return shard_path(folder, TREE, index, count)


def missing(expected: Iterable[str], present: Iterable[str]) -> list[str]:
    have = set(present)
    return [item for item in expected if item not in have]
