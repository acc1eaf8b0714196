"""Kill a calibration with SIGKILL twice (while sampling, then while searching), resume it,
and compare with an uninterrupted run: the artifacts must be identical."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from slow_ttc import SLOW_TTC

from calibration.store.shards import read_shard
from router.cli import main

PROBLEMS = 30
ARGS = [
    "calibrate",
    "--problems", f"simulator:{PROBLEMS}",
    "--samples", "8",
    "--budgets", "1,2,4",
    "--seeds", "1",
    "--batch-size", "3",
    "--draws", "16",
    "--probe-k", "3",
    "--bootstrap", "50",
    "--cv-repeats", "2",
    "--no-progress",
]  # fmt: skip


def records(path: Path) -> int:
    return len(read_shard(path).records) if path.exists() else 0


def start_and_kill(out: Path, shard: Path, at_least: int, delay: float) -> None:
    """Start a slowed calibration and SIGKILL it once ``shard`` has ``at_least`` records."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_TTC, str(delay), *ARGS, "--out", str(out)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 240
    try:
        while records(shard) < at_least:
            if process.poll() is not None:
                pytest.fail(f"calibration ended before the kill: {process.stderr.read()!r}")
            if time.monotonic() > deadline:
                pytest.fail("calibration made no progress")
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
        assert process.stderr is not None
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL


def comparable(shard: Path) -> list[str]:
    """Shard records without wall-clock times, in a stable order."""
    lines = []
    for record in read_shard(shard).records:
        record["cost"].pop("wall_time_s", None)
        lines.append(json.dumps(record, sort_keys=True))
    return sorted(lines)


def test_killed_twice_and_resumed_equals_uninterrupted(tmp_path):
    reference = tmp_path / "uninterrupted"
    assert main([*ARGS, "--out", str(reference)]) == 0

    resumed = tmp_path / "resumed"
    samples = resumed / "shards" / "samples-000-of-001.jsonl"
    tree = resumed / "shards" / "tree-000-of-001.jsonl"
    start_and_kill(resumed, samples, at_least=4, delay=0.1)
    assert 4 <= records(samples) < PROBLEMS  # killed while sampling
    assert not (resumed / "manifest.json").exists()
    start_and_kill(resumed, tree, at_least=6, delay=0.1)
    assert records(samples) == PROBLEMS
    assert 6 <= records(tree) < PROBLEMS * 2 * 2  # killed while searching
    assert main([*ARGS, "--out", str(resumed)]) == 0

    shards = Path("shards")
    for name in ("samples-000-of-001.jsonl", "tree-000-of-001.jsonl"):
        assert comparable(resumed / shards / name) == comparable(reference / shards / name)
    for name in ("problems.parquet", "evaluations.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(resumed / name), pd.read_parquet(reference / name)
        )
    assert (resumed / "table.json").read_text() == (reference / "table.json").read_text()
    # nothing duplicated: one line per problem and per search
    sample_ids = [
        r["problem_id"] for r in read_shard(resumed / shards / "samples-000-of-001.jsonl").records
    ]
    assert len(sample_ids) == len(set(sample_ids)) == PROBLEMS
