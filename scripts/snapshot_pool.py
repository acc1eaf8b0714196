"""Write a calibration's samples shard back to a committed, compressed pool snapshot.

Why a script and not ``gzip``: the snapshot must hold complete lines only (a run killed
mid-write leaves a torn last line), and its header must name the problems file by the
repository-relative path the snapshot is replayed with, not the path of the machine that
sampled it, so that a replay on any checkout reads the problem texts.

    python -m scripts.snapshot_pool SHARD SNAPSHOT.jsonl.gz --problems artifacts/.../problems.jsonl

Without ``--problems`` the header is kept as it is (a tree shard of generated problems,
``arithmetic:100``, names no file).
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections.abc import Sequence
from pathlib import Path

from strategies.safe_files import atomic_write


def snapshot(shard: Path, target: Path, problems: str | None) -> int:
    """Problems written (header excluded); the target is replaced atomically."""
    lines = shard.read_bytes().split(b"\n")
    complete = lines[:-1]  # what follows the last newline is torn or empty
    if not complete:
        raise SystemExit(f"{shard}: no complete line to snapshot")
    body = list(complete)
    if problems is not None:
        header = json.loads(complete[0])
        header["header"]["settings"]["problems"] = problems
        body[0] = json.dumps(header, separators=(",", ":")).encode()

    def write(temporary: Path) -> None:
        # The gzip header records a file name: the one snapshots always recorded, not the
        # temporary's random one, so that the same shard gives the same bytes.
        with (
            temporary.open("wb") as stream,
            gzip.GzipFile(
                target.name + ".partial", "wb", compresslevel=9, fileobj=stream, mtime=0
            ) as out,
        ):
            out.write(b"\n".join(body) + b"\n")

    atomic_write(target, write)
    return len(body) - 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shard", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--problems", help="the problems file, repo-relative (samples shards)")
    args = parser.parse_args(argv)
    if not args.shard.exists():
        print(f"{args.shard}: no shard yet, nothing to snapshot")
        return 0
    count = snapshot(args.shard, args.target, args.problems)
    print(f"{args.target}: {count} records")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
